#!/usr/bin/env bash
# Reader throughput comparison (docs/benchmarks.md): the C++ loader (tools/benchmark_reader,
# 1 and 2 worker threads) against the Python OpenCV peers (tools/peers/paddle_reader_peer.py,
# modes original and tuned), on the same inputs in one run, then the loader's memory over
# 5 epochs of the demo dataset.
#
#   scripts/bench_reader.sh                 # everything (~5-10 min on 2 idle cores)
#   CASES="tsm10 stnet10" scripts/bench_reader.sh
#
# Builds nothing: expects $BUILD_DIR/bin/benchmark_reader (default build/) and, for the memory
# run, $BUILD_DIR/bin/make_demo_data (else build/bin/make_demo_data; or set DEMO_BIN). Environment:
#   BUILD_DIR   build folder (default: build)
#   WORK_DIR    where lists, the 60 s video, logs and results.tsv go (default: a new temp dir)
#   VIDEO       the 10 s clip (default: ../shared/data/videos/arm_wrestling.mp4)
#   CASES       any of tsm10 tsm60 stnet10 tsn10 (default: all four)
#   CPP_CLIPS   clips per C++ run (default 64); PY_CLIPS per Python run on the 10 s clip
#               (default 32); PY_CLIPS_LONG per Python run on the 60 s video (default 16)
#   DECODER     passed as --decoder to benchmark_reader (default: the reader's default)
#   REPEAT      runs of each configuration (default 1); the four runs of a case are interleaved
#               (C++ 1t, C++ 2t, Python original, Python tuned, then again) and the table shows
#               each configuration's median clips/s, so a noisy minute hits one run, not a ratio
#   PIN         1 (default): 1-thread runs pinned to one core, 2-thread runs to two (taskset),
#               so "per core" means one core; 0: no pinning
#   MEMORY      1 (default): also the 5-epoch memory run on the demo dataset; 0: skip
#   PYTHON      interpreter with cv2 + numpy (default /usr/bin/python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/bin/benchmark_reader"
DEMO_BIN="${DEMO_BIN:-$BUILD_DIR/bin/make_demo_data}"
[[ -x "$DEMO_BIN" ]] || DEMO_BIN="$ROOT/build/bin/make_demo_data"  # the default build's
PEER="$ROOT/tools/peers/paddle_reader_peer.py"
PYTHON="${PYTHON:-/usr/bin/python3}"
VIDEO="${VIDEO:-$ROOT/../shared/data/videos/arm_wrestling.mp4}"
CASES="${CASES:-tsm10 tsm60 stnet10 tsn10}"
CPP_CLIPS="${CPP_CLIPS:-64}"
PY_CLIPS="${PY_CLIPS:-32}"
PY_CLIPS_LONG="${PY_CLIPS_LONG:-16}"
PIN="${PIN:-1}"
REPEAT="${REPEAT:-1}"
MEMORY="${MEMORY:-1}"
DECODER_ARGS=()
[[ -n "${DECODER:-}" ]] && DECODER_ARGS=(--decoder "$DECODER")

die() { echo "bench_reader.sh: $*" >&2; exit 1; }
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$REPEAT'"
[[ -x "$BIN" ]] || die "no $BIN (build it: cmake --build $BUILD_DIR --target vc_benchmark_reader)"
[[ -f "$VIDEO" ]] || die "no video $VIDEO (set VIDEO=...)"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || die "ffmpeg/ffprobe not found"
"$PYTHON" -c 'import cv2, numpy' 2>/dev/null || die "$PYTHON lacks cv2/numpy (set PYTHON=...)"
VIDEO="$(cd "$(dirname "$VIDEO")" && pwd)/$(basename "$VIDEO")"

WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/bench_reader.XXXXXX)}"
mkdir -p "$WORK_DIR/logs"
RESULTS="$WORK_DIR/results.tsv"

# --- machine ------------------------------------------------------------------------------------
NCPU=$(nproc)
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM_GIB=$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
echo "== machine: $NCPU CPUs ($CPU_MODEL), $MEM_GIB GiB RAM, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== date: $(date -u '+%Y-%m-%d %H:%M UTC'), work dir: $WORK_DIR"

PIN1=() PIN2=()
if [[ "$PIN" == 1 ]] && command -v taskset >/dev/null; then
  CPUS=($(taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' | awk -F- '{ if (NF == 2) for (i = $1; i <= $2; ++i) print i; else print $1 }'))
  if ((${#CPUS[@]} >= 2)); then
    PIN1=(taskset -c "${CPUS[0]}") PIN2=(taskset -c "${CPUS[0]},${CPUS[1]}")
    echo "== pinning: 1-thread runs on CPU ${CPUS[0]}, 2-thread runs on CPUs ${CPUS[0]},${CPUS[1]}"
  fi
fi

# --- inputs -------------------------------------------------------------------------------------
SHORT_LIST="$WORK_DIR/short.list" LONG_LIST="$WORK_DIR/long60.list" LONG="$WORK_DIR/long60.mp4"
for _ in $(seq 64); do echo "$VIDEO 6"; done >"$SHORT_LIST"
if [[ " $CASES " == *" tsm60 "* ]]; then
  for _ in 1 2 3 4 5 6; do echo "file '$VIDEO'"; done >"$WORK_DIR/concat.txt"
  ffmpeg -v error -y -f concat -safe 0 -i "$WORK_DIR/concat.txt" -c copy "$LONG"
  count_frames() { ffprobe -v error -select_streams v:0 -count_packets \
    -show_entries stream=nb_read_packets -of csv=p=0 "$1"; }
  count_keys() { ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$1" |
    grep -c K; }
  n_short=$(count_frames "$VIDEO") k_short=$(count_keys "$VIDEO")
  n_long=$(count_frames "$LONG") k_long=$(count_keys "$LONG")
  echo "== 60 s video: $n_long frames, $k_long keyframes (10 s clip: $n_short frames, $k_short keyframes)"
  [[ "$n_long" == $((6 * n_short)) ]] || die "$LONG has $n_long frames, expected $((6 * n_short))"
  [[ "$k_long" == $((6 * k_short)) ]] || die "$LONG has $k_long keyframes, expected $((6 * k_short))"
  for _ in $(seq 64); do echo "$LONG 6"; done >"$LONG_LIST"
fi

# --- runs ---------------------------------------------------------------------------------------
# field KEY < RESULT line
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
printf 'case\timpl\tthreads\tclips\tclips_per_s\tframes_decoded_per_clip\tpeak_rss_mib\trep\n' >"$RESULTS"
rep=1
run_one() {  # case impl label cmd...
  local c="$1" impl="$2" label="$3"; shift 3
  local log="$WORK_DIR/logs/$c.$label.rep$rep.log"
  echo "-- $c $label (run $rep/$REPEAT): $*" | sed "s|$WORK_DIR|\$WORK_DIR|g"
  "$@" >"$log" 2>&1 || { tail -5 "$log"; die "$c $label failed (log: $log)"; }
  local r; r=$(grep '^RESULT ' "$log" | tail -1)
  local cps fpc rss clips
  cps=$(field clips_per_s <<<"$r") fpc=$(field frames_decoded_per_clip <<<"$r")
  rss=$(field peak_rss_mib <<<"$r") clips=$(field clips <<<"$r")
  echo "   $cps clips/s, $fpc frames decoded/clip, peak RSS $rss MiB"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$label" "${label##*-}" "$clips" "$cps" "$fpc" \
    "$rss" "$rep" >>"$RESULTS"
}

for c in $CASES; do
  case "$c" in
    tsm10) preset=tsm list="$SHORT_LIST" pyclips="$PY_CLIPS" ;;
    tsm60) preset=tsm list="$LONG_LIST" pyclips="$PY_CLIPS_LONG" ;;
    stnet10) preset=stnet list="$SHORT_LIST" pyclips="$PY_CLIPS" ;;
    tsn10) preset=tsn list="$SHORT_LIST" pyclips="$PY_CLIPS" ;;
    *) die "unknown case $c (expected tsm10 tsm60 stnet10 tsn10)" ;;
  esac
  common=(--list "$list" --preset "$preset" --batch-size 8)
  for rep in $(seq "$REPEAT"); do
    run_one "$c" cpp cpp-1 "${PIN1[@]}" "$BIN" "${common[@]}" --threads 1 --clips "$CPP_CLIPS" \
      "${DECODER_ARGS[@]}"
    run_one "$c" cpp cpp-2 "${PIN2[@]}" "$BIN" "${common[@]}" --threads 2 --clips "$CPP_CLIPS" \
      "${DECODER_ARGS[@]}"
    run_one "$c" python py_original-1 "${PIN1[@]}" "$PYTHON" "$PEER" "${common[@]}" \
      --mode original --clips "$pyclips"
    run_one "$c" python py_tuned-1 "${PIN1[@]}" "$PYTHON" "$PEER" "${common[@]}" --mode tuned \
      --clips "$pyclips"
  done
done

# --- table --------------------------------------------------------------------------------------
echo
echo "== throughput (clips/s, median of $REPEAT run(s); frames decoded per clip in brackets)"
awk -F'\t' '
  function median(key,   k, m, j, x, tmp) {  # median of all[key, 1..cnt[key]]
    m = cnt[key]
    for (k = 1; k <= m; ++k) tmp[k] = all[key, k]
    for (k = 2; k <= m; ++k) {  # insertion sort
      x = tmp[k]
      for (j = k - 1; j >= 1 && tmp[j] > x; --j) tmp[j + 1] = tmp[j]
      tmp[j + 1] = x
    }
    return m % 2 ? tmp[(m + 1) / 2] : (tmp[m / 2] + tmp[m / 2 + 1]) / 2
  }
  NR > 1 {
    all[$1, $2, ++cnt[$1, $2]] = $5; f[$1, $2] = $6
    if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
  }
  END {
    for (key in cnt) v[key] = median(key)
    printf "| case | C++ 1 thread | C++ 2 threads | Python original | Python tuned | C++ 1t / tuned | C++ 1t / original | 2t / 1t |\n"
    printf "|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= n; ++i) {
      c = order[i]
      a = v[c, "cpp-1"]; b = v[c, "cpp-2"]; o = v[c, "py_original-1"]; t = v[c, "py_tuned-1"]
      printf "| %s | %.2f [%.0f] | %.2f | %.2f [%.0f] | %.2f [%.0f] | **%.2fx** | %.2fx | **%.2fx** |\n",
        c, a, f[c, "cpp-1"], b, o, f[c, "py_original-1"], t, f[c, "py_tuned-1"],
        (t > 0 ? a / t : 0), (o > 0 ? a / o : 0), (a > 0 ? b / a : 0)
    }
  }' "$RESULTS"
echo "(cases: tsm10/stnet10/tsn10 = TSM 8x1 / StNet 7x5 / TSN 3x1 on the 10 s clip listed 64 times;"
echo " tsm60 = TSM on the 60 s video; train transforms, 224 px, batch 8; raw results: $RESULTS)"

# --- memory -------------------------------------------------------------------------------------
if [[ "$MEMORY" == 1 ]]; then
  echo
  if [[ -x "$DEMO_BIN" ]]; then
    DEMO="$WORK_DIR/demo"
    [[ -f "$DEMO/train.list" ]] || "$DEMO_BIN" --out "$DEMO" --clips-per-class 20 >/dev/null
    echo "== memory: 5 epochs of the demo dataset ($(grep -c . "$DEMO/train.list") clips), TSM, 2 threads"
    "${PIN2[@]}" "$BIN" --list "$DEMO/train.list" --preset tsm --threads 2 --batch-size 8 \
      --epochs 5 "${DECODER_ARGS[@]}" | tee "$WORK_DIR/logs/memory.log" |
      grep -E '^(epoch|memory|RSS|RESULT)'
  else
    echo "== memory run skipped: no $DEMO_BIN"
  fi
fi
