#!/usr/bin/env bash
# Top-20 classes (names from vocabulary.csv) of Attention Cluster for INFER.filelist (or
# --filelist=...). Default weights: checkpoints/AttentionCluster_epoch0.pt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/infer" --model-name=AttentionCluster \
  --config="$root/configs/attention_cluster.yaml" \
  --weights=checkpoints/AttentionCluster_epoch0.pt --save-dir=output --log-interval=10 "$@"
