#!/usr/bin/env bash
# Top-20 classes (names from vocabulary.csv) of NeXtVLAD for INFER.filelist (or --filelist=...).
# Default weights: checkpoints/NEXTVLAD_epoch0.pt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/infer" --model-name=NEXTVLAD \
  --config="$root/configs/nextvlad.yaml" \
  --weights=checkpoints/NEXTVLAD_epoch0.pt --save-dir=output --log-interval=10 "$@"
