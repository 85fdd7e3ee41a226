#!/usr/bin/env bash
# Train NeXtVLAD on YouTube-8M with the original settings (configs/nextvlad.yaml: 6 epochs, all
# frames, Adam 2e-4 x0.8 every 2,000,000 examples, batch 160). Needs the PCA eigenvalues of
# MODEL.eigen_file. Extra args pass through (e.g. --set TRAIN.filelist=my/train.list).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --model-name=NEXTVLAD \
  --config="$root/configs/nextvlad.yaml" --valid-interval=1 --log-interval=10 "$@"
