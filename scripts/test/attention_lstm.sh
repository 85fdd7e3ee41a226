#!/usr/bin/env bash
# Evaluate Attention LSTM (GAP, Hit@1, PERR, mAP) on TEST.filelist of configs/attention_lstm.yaml.
# Default weights: checkpoints/AttentionLSTM_epoch0.pt (override with --weights=...; later flags
# win). The original's released Paddle weights (attention_lstm_youtube8m: a per-variable
# directory or AttentionLSTM_final.pdparams) load through the row's Paddle name map.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/test" --model-name=AttentionLSTM \
  --config="$root/configs/attention_lstm.yaml" --log-interval=10 \
  --weights=checkpoints/AttentionLSTM_epoch0.pt "$@"
