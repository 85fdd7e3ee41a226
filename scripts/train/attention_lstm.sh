#!/usr/bin/env bash
# Train Attention LSTM on YouTube-8M frame-level features with the original settings
# (configs/attention_lstm.yaml: 10 epochs, global batch 1024, centred RMSProp, LR x0.1 after
# 5 epochs of 5000000 videos: iteration 24410 at batch 1024). Extra args pass through
# (e.g. --set TRAIN.filelist=my/train.list).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --model-name=AttentionLSTM \
  --config="$root/configs/attention_lstm.yaml" --valid-interval=1 --log-interval=10 "$@"
