#!/usr/bin/env bash
# Train Attention Cluster on YouTube-8M with the original settings (configs/attention_cluster.yaml:
# 5 epochs, 100 sampled frames, Adam 1e-3, batch 2048). Extra args pass through
# (e.g. --set TRAIN.filelist=my/train.list --set TRAIN.batch_size=256).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --model-name=AttentionCluster \
  --config="$root/configs/attention_cluster.yaml" --valid-interval=1 --log-interval=10 "$@"
