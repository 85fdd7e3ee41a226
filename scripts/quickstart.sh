#!/usr/bin/env bash
# The main job on demo data: setup + build, write the synthetic demo dataset, train TSN
# (ResNet-18, configs/demo/tsn_demo.yaml) on CPU, evaluate it on the test split, then run
# inference on the real clips of ../shared/data/videos (or on demo clips when they are absent).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
bin="$build_dir/bin"
cd "$root"
"$root/scripts/setup.sh"

t0=$(date +%s)
echo "== 1/4 demo data =="
"$bin/make_demo_data" --out demo_data --clips-per-class 20
echo "== 2/4 train TSN (configs/demo/tsn_demo.yaml) =="
rm -rf checkpoints/demo_tsn
"$bin/train" --model-name=TSN --config=configs/demo/tsn_demo.yaml --save-dir=checkpoints/demo_tsn \
  --log-interval=5 --seed=0 "$@"
echo "== 3/4 test on demo_data/test.list =="
"$bin/test" --model-name=TSN --config=configs/demo/tsn_demo.yaml \
  --weights=checkpoints/demo_tsn/latest.pt --save-dir=output/demo_tsn_test
echo "== 4/4 infer =="
shared_videos="$root/../shared/data/videos"
if [[ -d "$shared_videos" ]]; then
  list=output/real_clips.list
  mkdir -p output
  : > "$list"
  for f in "$shared_videos"/*.mp4 "$shared_videos"/*.avi "$shared_videos"/*.mkv "$shared_videos"/*.mov; do
    [[ -f "$f" ]] && echo "$f" >> "$list"
  done
  for d in "$shared_videos"/rawframes_*; do  # folders of img_00001.jpg frames work too
    [[ -d "$d" ]] && echo "$d" >> "$list"
  done
  echo "(real clips from $shared_videos; the demo model only knows the 6 synthetic classes)"
else
  list=demo_data/infer.list
  echo "(no $shared_videos: inferring on demo clips)"
fi
"$bin/infer" --model-name=TSN --config=configs/demo/tsn_demo.yaml \
  --weights=checkpoints/demo_tsn/latest.pt --filelist="$list" --infer-topk=3 --save-dir=output/demo_tsn_infer
echo "quickstart: demo part took $(( $(date +%s) - t0 ))s; results in output/demo_tsn_test and output/demo_tsn_infer"
