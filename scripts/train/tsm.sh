#!/usr/bin/env bash
# Train TSM on Kinetics-400 with the original settings (configs/tsm.yaml: 65 epochs, seg_num 8,
# multi-scale crop). Extra args pass through
# (e.g. --pretrain resnet50.pth --set TRAIN.filelist=my/train.list).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --model-name=TSM --config="$root/configs/tsm.yaml" \
  --valid-interval=1 --log-interval=10 "$@"
