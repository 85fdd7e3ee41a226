#!/usr/bin/env bash
# Top-k predictions of Non-local for INFER.filelist (or --filelist=...), 10 clips x 3 crops per
# video. Default weights: checkpoints/NONLOCAL_epoch0.pt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/infer" --model-name=NONLOCAL \
  --config="$root/configs/nonlocal.yaml" --log-interval=10 \
  --weights=checkpoints/NONLOCAL_epoch0.pt --save-dir=output "$@"
