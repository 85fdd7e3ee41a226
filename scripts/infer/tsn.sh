#!/usr/bin/env bash
# Top-k predictions of TSN for INFER.filelist (or --filelist=...). Default weights:
# checkpoints/TSN_epoch0.pt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/infer" --model-name=TSN --config="$root/configs/tsn.yaml" \
  --weights=checkpoints/TSN_epoch0.pt --save-dir=output "$@"
