#!/usr/bin/env bash
# Evaluate TSM on TEST.filelist of configs/tsm.yaml. Default weights: checkpoints/TSM_epoch0.pt
# (override with --weights=...; later flags win). Official PyTorch TSM and mmaction2 TSM
# checkpoints are recognised by their keys (docs/models/tsm.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/test" --model-name=TSM --config="$root/configs/tsm.yaml" \
  --log-interval=10 --weights=checkpoints/TSM_epoch0.pt "$@"
