#!/usr/bin/env bash
# The main job on demo data: setup + build, write a synthetic demo dataset, train a network on CPU
# with its tiny demo config (configs/demo/<id>_demo.yaml), evaluate it on the test split, then run
# inference on the real clips of ../shared/data/videos (or on demo clips when they are absent).
#
#   scripts/quickstart.sh [--model ID] [--data shapes|motion|yt8m] [train flags...]
#
# ID: TSN, TSM, STNET, NONLOCAL (video networks) or AttentionCluster, AttentionLSTM, NEXTVLAD
# (YouTube-8M feature networks, which always use --data yt8m).
# --data shapes (default): 6 classes told apart by shape and colour (any single frame shows it).
# --data motion: 4 classes told apart only by the direction of motion (up, down, grow, shrink; the
#   same kind of frames in different orders): TSN, which averages frames, cannot separate up from
#   down or grow from shrink; TSM, StNet and Non-local can.
# --data yt8m: synthetic frame-level YouTube-8M features (16 classes, multi-label) as TFRecord
#   shards, for the three feature networks. Any other argument goes to `train`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
bin="$build_dir/bin"
model=TSN
data=
train_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="${2:?--model needs an id}"; shift 2 ;;
    --model=*) model="${1#--model=}"; shift ;;
    --data) data="${2:?--data needs shapes or motion}"; shift 2 ;;
    --data=*) data="${1#--data=}"; shift ;;
    *) train_args+=("$1"); shift ;;
  esac
done
id="$(echo "$model" | tr '[:upper:]' '[:lower:]')"
case "$id" in  # registry ids -> config file names
  attentioncluster) id=attention_cluster ;;
  attentionlstm) id=attention_lstm ;;
esac
feature_net=0
case "$id" in attention_cluster | attention_lstm | nextvlad) feature_net=1 ;; esac
if [[ -z "$data" ]]; then
  data=shapes
  ((feature_net)) && data=yt8m
fi
config="configs/demo/${id}_demo.yaml"
cd "$root"
if [[ ! -f "$config" ]]; then
  echo "error: no demo config $config for --model $model (have: $(ls configs/demo | sed 's/_demo.yaml//' | tr '\n' ' '))" >&2
  exit 2
fi
case "$data" in
  shapes) data_dir=demo_data; kind_args=(--clips-per-class 20) ;;
  motion) data_dir=demo_motion; kind_args=(--kind motion --clips-per-class 30) ;;
  yt8m) data_dir=demo_yt8m; kind_args=(--kind yt8m) ;;
  *) echo "error: --data must be shapes, motion or yt8m, got '$data'" >&2; exit 2 ;;
esac
if [[ "$feature_net" == 1 && "$data" != yt8m ]] || [[ "$feature_net" == 0 && "$data" == yt8m ]]; then
  echo "error: --model $model reads $( ((feature_net)) && echo "YouTube-8M features (--data yt8m)" || echo "videos (--data shapes or motion)"), got --data $data" >&2
  exit 2
fi
"$root/scripts/setup.sh"

# The demo configs read demo_data/; point every mode at the chosen dataset.
sets=()
if [[ "$data" == yt8m ]]; then
  sets=(--set "MODEL.num_classes=16" --set "MODEL.label_map=$data_dir/vocabulary.csv"
        --set "TRAIN.filelist=$data_dir/train.list" --set "VALID.filelist=$data_dir/val.list"
        --set "TEST.filelist=$data_dir/test.list" --set "INFER.filelist=$data_dir/infer.list")
elif [[ "$data_dir" != demo_data ]]; then
  sets=(--set "MODEL.num_classes=4" --set "MODEL.label_map=$data_dir/label_map.txt"
        --set "TRAIN.filelist=$data_dir/train.list" --set "VALID.filelist=$data_dir/val.list"
        --set "TEST.filelist=$data_dir/test.list" --set "INFER.filelist=$data_dir/infer.list")
fi
run_name="demo_${id}_${data}"

t0=$(date +%s)
echo "== 1/4 demo data ($data -> $data_dir) =="
"$bin/make_demo_data" --out "$data_dir" "${kind_args[@]}"
echo "== 2/4 train $model ($config) =="
rm -rf "checkpoints/$run_name"
"$bin/train" --model-name="$model" --config="$config" "${sets[@]}" --save-dir="checkpoints/$run_name" \
  --log-interval=5 --seed=0 "${train_args[@]}"
echo "== 3/4 test on $data_dir/test.list =="
"$bin/test" --model-name="$model" --config="$config" "${sets[@]}" \
  --weights="checkpoints/$run_name/latest.pt" --save-dir="output/${run_name}_test"
echo "== 4/4 infer =="
shared_videos="$root/../shared/data/videos"
if [[ "$data" == yt8m ]]; then
  list="$data_dir/infer.list"
  echo "(the demo test shard, top classes named from $data_dir/vocabulary.csv)"
elif [[ -d "$shared_videos" ]]; then
  list=output/real_clips.list
  mkdir -p output
  : > "$list"
  for f in "$shared_videos"/*.mp4 "$shared_videos"/*.avi "$shared_videos"/*.mkv "$shared_videos"/*.mov; do
    [[ -f "$f" ]] && echo "$f" >> "$list"
  done
  for d in "$shared_videos"/rawframes_*; do  # folders of img_00001.jpg frames work too
    [[ -d "$d" ]] && echo "$d" >> "$list"
  done
  echo "(real clips from $shared_videos; the demo model only knows the synthetic classes)"
else
  list="$data_dir/infer.list"
  echo "(no $shared_videos: inferring on demo clips)"
fi
"$bin/infer" --model-name="$model" --config="$config" "${sets[@]}" \
  --weights="checkpoints/$run_name/latest.pt" --filelist="$list" --infer-topk=3 \
  --save-dir="output/${run_name}_infer"
echo "quickstart: demo part took $(( $(date +%s) - t0 ))s; results in output/${run_name}_test and output/${run_name}_infer"
