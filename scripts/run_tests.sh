#!/usr/bin/env bash
# The whole test suite: setup (install missing packages + build, incremental), then every CTest
# test (labels unit and integration). Extra arguments go to ctest (e.g. -L unit, -R Config).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh"
cd "$build_dir"
ctest --output-on-failure --timeout 900 -j"${CTEST_JOBS:-$(nproc)}" "$@"
