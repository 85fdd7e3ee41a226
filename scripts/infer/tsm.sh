#!/usr/bin/env bash
# Top-k predictions of TSM for INFER.filelist (or --filelist=...). Default weights:
# checkpoints/TSM_epoch0.pt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/infer" --model-name=TSM --config="$root/configs/tsm.yaml" \
  --weights=checkpoints/TSM_epoch0.pt --save-dir=output --log-interval=10 "$@"
