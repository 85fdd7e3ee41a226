#!/usr/bin/env bash
# Train Non-local (C2D ResNet-50) on Kinetics-400 with the original settings
# (configs/nonlocal.yaml), starting from the ImageNet ResNet-50 as the original script does
# (--pretrain: a Paddle directory such as Nonlocal_ResNet50_pretrained, or a torchvision
# ResNet-50 state dict; default ./pretrained/ResNet50_pretrained). Extra args pass through.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --model-name=NONLOCAL \
  --config="$root/configs/nonlocal.yaml" --epoch=120 --valid-interval=1 --log-interval=1 \
  --pretrain="${PRETRAIN:-./pretrained/ResNet50_pretrained}" "$@"
