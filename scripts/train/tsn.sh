#!/usr/bin/env bash
# Train TSN on Kinetics-400 with the original settings (configs/tsn.yaml). Extra args pass through
# (e.g. --pretrain resnet50.pth --set TRAIN.filelist=my/train.list).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --model-name=TSN --config="$root/configs/tsn.yaml" \
  --valid-interval=1 --log-interval=10 "$@"
