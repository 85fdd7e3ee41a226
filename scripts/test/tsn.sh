#!/usr/bin/env bash
# Evaluate TSN on TEST.filelist of configs/tsn.yaml. Default weights: checkpoints/TSN_epoch0.pt
# (override with --weights=...; later flags win).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/test" --model-name=TSN --config="$root/configs/tsn.yaml" \
  --log-interval=10 --weights=checkpoints/TSN_epoch0.pt "$@"
