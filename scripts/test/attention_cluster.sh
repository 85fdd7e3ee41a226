#!/usr/bin/env bash
# Evaluate Attention Cluster (GAP, Hit@1, PERR) on TEST.filelist of configs/attention_cluster.yaml.
# Default weights: checkpoints/AttentionCluster_epoch0.pt (override with --weights=...; later
# flags win); the original's released attention_cluster_youtube8m directory works too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/test" --model-name=AttentionCluster \
  --config="$root/configs/attention_cluster.yaml" --log-interval=10 \
  --weights=checkpoints/AttentionCluster_epoch0.pt "$@"
