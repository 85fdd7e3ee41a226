#!/usr/bin/env bash
# Top-k predictions of StNet for INFER.filelist (or --filelist=...). Default weights:
# checkpoints/STNET_epoch0.pt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/infer" --model-name=STNET --config="$root/configs/stnet.yaml" \
  --weights=checkpoints/STNET_epoch0.pt --save-dir=output "$@"
