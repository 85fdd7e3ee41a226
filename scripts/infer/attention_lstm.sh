#!/usr/bin/env bash
# Top-20 classes (names from vocabulary.csv) of Attention LSTM for INFER.filelist (or
# --filelist=...). Default weights: checkpoints/AttentionLSTM_epoch0.pt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/infer" --model-name=AttentionLSTM \
  --config="$root/configs/attention_lstm.yaml" --weights=checkpoints/AttentionLSTM_epoch0.pt \
  --save-dir=output --log-interval=10 --infer-topk=20 "$@"
