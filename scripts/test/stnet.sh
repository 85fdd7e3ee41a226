#!/usr/bin/env bash
# Evaluate StNet on TEST.filelist of configs/stnet.yaml (seg_num 25, 256 centre crop). Default
# weights: checkpoints/STNET_epoch0.pt (override with --weights=...; a Paddle stnet_kinetics
# directory works too; later flags win).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/test" --model-name=STNET --config="$root/configs/stnet.yaml" \
  --log-interval=10 --weights=checkpoints/STNET_epoch0.pt "$@"
