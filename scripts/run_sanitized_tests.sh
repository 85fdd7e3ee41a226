#!/usr/bin/env bash
# Builds the project with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ (or
# $BUILD_DIR) and runs the unit tests under them (extra arguments go to ctest, e.g. -R datareader).
# Debian's LibTorch / OpenCV / FFmpeg are not instrumented: the sanitizers watch our code.
# LeakSanitizer is off by default because LibTorch keeps process-lifetime allocations
# (ASAN_OPTIONS=detect_leaks=1 to turn it on).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build-asan}"
jobs="${JOBS:-$(nproc)}"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVC_SANITIZE=address,undefined ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j"$jobs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:detect_odr_violation=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$build_dir"
ctest -L unit --output-on-failure -j"$jobs" "$@"
