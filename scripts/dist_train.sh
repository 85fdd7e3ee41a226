#!/usr/bin/env bash
# Data-parallel training on this machine without torchrun: N worker processes of build/bin/train
# (docs/distributed.md). TRAIN.batch_size stays the global batch (split N ways).
#   scripts/dist_train.sh N --model-name=TSN --config=configs/tsn.yaml [train flags...]
# Same as `build/bin/train --nproc-per-node=N ...`; MASTER_PORT (default: a free port) and
# MASTER_ADDR (default 127.0.0.1) are taken from the environment when set.
set -euo pipefail
if [[ $# -lt 1 || ! "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N <train arguments>   (N = worker processes, e.g. 2)" >&2
  exit 2
fi
n="$1"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "${BUILD_DIR:-$root/build}/bin/train" --nproc-per-node="$n" "$@"
