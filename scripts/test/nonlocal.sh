#!/usr/bin/env bash
# Evaluate Non-local on TEST.filelist of configs/nonlocal.yaml (vallist.txt, 10 clips x 3 crops
# per video, scores summed per video). Default weights: checkpoints/NONLOCAL_epoch0.pt (the
# released nonlocal_kinetics Paddle directory works too: --weights=path/to/nonlocal_kinetics).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/test" --model-name=NONLOCAL \
  --config="$root/configs/nonlocal.yaml" --log-interval=1 \
  --weights=checkpoints/NONLOCAL_epoch0.pt "$@"
