#!/usr/bin/env bash
# Train StNet on Kinetics-400 with the original settings (configs/stnet.yaml: 60 epochs, seg_num 7
# super-images of seglen 5 frames). Extra args pass through (e.g.
# --pretrain pretrained/ResNet50_pretrained --set TRAIN.filelist=my/train.list).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --model-name=STNET --config="$root/configs/stnet.yaml" \
  --valid-interval=1 --log-interval=10 "$@"
