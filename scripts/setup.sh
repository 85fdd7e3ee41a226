#!/usr/bin/env bash
# Installs the Debian 12 packages videocls needs (only those missing), then configures and builds
# Release into build/ (or $BUILD_DIR). Idempotent: with everything present it installs nothing and
# the build is incremental.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

packages=(
  build-essential cmake pkg-config clang-format
  libtorch-dev libopenblas0-pthread libgloo-dev libdnnl-dev libideep-dev
  libopencv-dev ffmpeg libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libfmt-dev libhdf5-dev libprotobuf-dev protobuf-compiler
  googletest libgtest-dev
  python3-torch python3-torchvision python3-opencv python3-numpy python3-pil
  python3-protobuf python3-h5py
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} missing package(s): ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} packages present"
fi

start=$(date +%s)
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j"$jobs"
echo "setup: build finished in $(( $(date +%s) - start ))s -> $build_dir/bin"
