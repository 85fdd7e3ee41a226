#!/usr/bin/env bash
# YouTube-8M feature reader throughput (docs/benchmarks.md, "Feature reader"): the C++ reader
# (tools/benchmark_reader --preset features, 1 and 2 loader threads) against the Python peer
# (tools/peers/yt8m_reader_peer.py: python3-protobuf / pickle / h5py, one process) on the same
# synthetic frame-level data in the three formats: TFRecord shards written by
# benchmark_reader --make-features, HDF5 shards converted by yt8m_convert, .pkl files converted by
# the peer as the original's tf2pkl.py.
#
#   scripts/bench_features.sh                         # 200 videos x 300 frames, 4 shards
#   VIDEOS=400 FRAMES=300 REPEAT=3 scripts/bench_features.sh
#
# Builds nothing: expects $BUILD_DIR/bin/benchmark_reader and $BUILD_DIR/bin/yt8m_convert.
# Environment: BUILD_DIR (build), WORK_DIR (new temp dir), VIDEOS (200), FRAMES (300), SHARDS (4),
# BATCH (32), EPOCHS (3: passes over the list, both sides), REPEAT (1; the table shows medians), FORMATS ("tfrecord hdf5 pkl"),
# PIN (1: 1-thread runs on one CPU, 2-thread runs on two), PYTHON (/usr/bin/python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/bin/benchmark_reader"
CONVERT="$BUILD_DIR/bin/yt8m_convert"
PEER="$ROOT/tools/peers/yt8m_reader_peer.py"
PYTHON="${PYTHON:-/usr/bin/python3}"
VIDEOS="${VIDEOS:-200}" FRAMES="${FRAMES:-300}" SHARDS="${SHARDS:-4}"
BATCH="${BATCH:-32}" EPOCHS="${EPOCHS:-3}" REPEAT="${REPEAT:-1}" PIN="${PIN:-1}"
FORMATS="${FORMATS:-tfrecord hdf5 pkl}"

die() { echo "bench_features.sh: $*" >&2; exit 1; }
[[ -x "$BIN" ]] || die "no $BIN (cmake --build $BUILD_DIR --target vc_benchmark_reader)"
[[ -x "$CONVERT" ]] || die "no $CONVERT (cmake --build $BUILD_DIR --target vc_yt8m_convert)"
"$PYTHON" -c 'import numpy, h5py, google.protobuf' 2>/dev/null ||
  die "$PYTHON lacks numpy / h5py / protobuf (python3-numpy python3-h5py python3-protobuf)"
command -v protoc >/dev/null || die "protoc not found (protobuf-compiler)"

WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/bench_features.XXXXXX)}"
mkdir -p "$WORK_DIR/logs"
echo "== machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== date: $(date -u '+%Y-%m-%d %H:%M UTC'), work dir: $WORK_DIR"

PIN1=() PIN2=()
if [[ "$PIN" == 1 ]] && command -v taskset >/dev/null; then
  CPUS=($(taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' | awk -F- '{ if (NF == 2) for (i = $1; i <= $2; ++i) print i; else print $1 }'))
  if ((${#CPUS[@]} >= 2)); then
    PIN1=(taskset -c "${CPUS[0]}") PIN2=(taskset -c "${CPUS[0]},${CPUS[1]}")
  fi
fi

# --- data ---------------------------------------------------------------------------------------
DATA="$WORK_DIR/data"
if [[ ! -f "$DATA/tfrecord.list" ]]; then
  "$BIN" --make-features "$DATA/tfrecord" --videos "$VIDEOS" --frames "$FRAMES" \
    --shards "$SHARDS" >"$WORK_DIR/logs/make.log"
  ls "$DATA"/tfrecord/*.tfrecord >"$DATA/tfrecord.list"
  "$CONVERT" --quiet --out "$DATA/hdf5" --list "$DATA/tfrecord.list" >"$WORK_DIR/logs/convert.log"
  ls "$DATA"/hdf5/*.h5 >"$DATA/hdf5.list"
  "$PYTHON" "$PEER" --list "$DATA/tfrecord.list" --tf2pkl "$DATA/pkl" >"$WORK_DIR/logs/tf2pkl.log"
  ls "$DATA"/pkl/*.pkl >"$DATA/pkl.list"
fi
for f in $FORMATS; do
  echo "== $f: $(wc -l <"$DATA/$f.list") shards, $(du -sh "$DATA/$f" | cut -f1)"
done

# --- runs ---------------------------------------------------------------------------------------
RESULTS="$WORK_DIR/results.tsv"
printf 'format\timpl\trecords_per_s\tmb_per_s\tindex_s\n' >"$RESULTS"
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
run_one() {  # format label cmd...
  local f="$1" label="$2"; shift 2
  local log="$WORK_DIR/logs/$f.$label.$rep.log"
  "$@" >"$log" 2>&1 || { tail -5 "$log"; die "$f $label failed (log: $log)"; }
  local r; r=$(grep '^RESULT ' "$log" | tail -1)
  local rps mbs idx
  rps=$(field records_per_s <<<"$r") mbs=$(field mb_per_s <<<"$r") idx=$(field index_s <<<"$r")
  echo "-- $f $label (run $rep): $rps records/s, $mbs MB/s, index $idx s"
  printf '%s\t%s\t%s\t%s\t%s\n' "$f" "$label" "$rps" "$mbs" "$idx" >>"$RESULTS"
}
for rep in $(seq "$REPEAT"); do
  for f in $FORMATS; do
    common=(--list "$DATA/$f.list" --preset features --batch-size "$BATCH" --epochs "$EPOCHS")
    run_one "$f" cpp-1 "${PIN1[@]}" "$BIN" "${common[@]}" --threads 1
    run_one "$f" cpp-2 "${PIN2[@]}" "$BIN" "${common[@]}" --threads 2
    run_one "$f" python-1 "${PIN1[@]}" "$PYTHON" "$PEER" --list "$DATA/$f.list" \
      --batch-size "$BATCH" --epochs "$EPOCHS"
  done
done

# --- table --------------------------------------------------------------------------------------
echo
echo "== records/s (MB/s), median of $REPEAT run(s); C++ index time (one-off) in brackets"
awk -F'\t' '
  function median(key,   k, m, j, x, tmp) {
    m = cnt[key]
    for (k = 1; k <= m; ++k) tmp[k] = all[key, k]
    for (k = 2; k <= m; ++k) { x = tmp[k]; for (j = k - 1; j >= 1 && tmp[j] > x; --j) tmp[j + 1] = tmp[j]; tmp[j + 1] = x }
    return m % 2 ? tmp[(m + 1) / 2] : (tmp[m / 2] + tmp[m / 2 + 1]) / 2
  }
  NR > 1 { all[$1, $2, ++cnt[$1, $2]] = $3; mb[$1, $2] = $4; idx[$1, $2] = $5
           if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
  END {
    for (key in cnt) v[key] = median(key)
    printf "| format | C++ 1 thread | C++ 2 threads | Python | C++ 1t / Python |\n|---|---|---|---|---|\n"
    for (i = 1; i <= n; ++i) {
      f = order[i]; a = v[f, "cpp-1"]; b = v[f, "cpp-2"]; p = v[f, "python-1"]
      printf "| %s | %.1f (%.1f MB/s) [%.2f s] | %.1f (%.1f MB/s) | %.1f (%.1f MB/s) | **%.2fx** |\n",
        f, a, mb[f, "cpp-1"], idx[f, "cpp-1"], b, mb[f, "cpp-2"], p, mb[f, "python-1"], (p > 0 ? a / p : 0)
    }
  }' "$RESULTS"
echo "($VIDEOS videos x $FRAMES frames in $SHARDS shards; TRAIN, all frames padded, dequantized, batch $BATCH; raw: $RESULTS)"
