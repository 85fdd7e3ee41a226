#!/usr/bin/env bash
# Evaluate NeXtVLAD (GAP, Hit@1, PERR) on TEST.filelist of configs/nextvlad.yaml. Default
# weights: checkpoints/NEXTVLAD_epoch0.pt (override with --weights=...; later flags win); the
# original's released nextvlad_youtube8m directory works too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/test" --model-name=NEXTVLAD \
  --config="$root/configs/nextvlad.yaml" --log-interval=10 \
  --weights=checkpoints/NEXTVLAD_epoch0.pt "$@"
