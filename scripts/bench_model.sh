#!/usr/bin/env bash
# Model throughput (docs/benchmarks.md, "Model throughput"): tools/benchmark_model (C++: train
# step, eager and fast inference, inference GFLOP/s, SGEMM peak) and its Python peer
# tools/peers/benchmark_model_peer.py (the same network in PyTorch on the same LibTorch) side by
# side in one run, same threads, same input sizes (the C++ program reads them from the config
# and the script passes them on), then one table of medians and C++/Python ratios.
#
#   scripts/bench_model.sh                           # TSN, 1 and 2 threads
#   MODELS="TSN TSM" THREADS="2" REPEAT=3 scripts/bench_model.sh
#
# Builds nothing: expects $BUILD_DIR/bin/benchmark_model (default build/). Environment:
#   BUILD_DIR  build folder (default: build)
#   MODELS     registry ids (default: TSN); the peer needs tests/reference/<id>_reference.py
#              for networks other than TSN (see the peer's docstring)
#   THREADS    intra-op thread counts (default: "1 2")
#   BATCH      clips per step (default 1); ITERS timed iterations (default 5); WARMUP (default 2)
#   MODES      passed to both (default train,eager,fast,sgemm; the C++ side also takes fast_direct =
#              fast without Winograd, fast_plain = LibTorch's passes only; the peer ignores them)
#   REPEAT     runs of each (model, threads) (default 1); C++ and Python alternate, the order
#              flipping every repeat; the table shows medians over repeats
#   PIN        1 (default): 1-thread runs on core 0, 2-thread runs on cores 0-1 (taskset)
#   WORK_DIR   where logs and results.txt go (default: a new temp dir)
#   PYTHON     interpreter with torch + torchvision (default /usr/bin/python3)
#   PY_MALLOC  same (default): the peer runs with the glibc malloc settings the C++ programs give
#              themselves (tools/common/malloc_tuning: mmap threshold 256 MiB, trim threshold
#              1 GiB), so that both sides pay the same page faults; default: Python's own
#              (glibc's defaults: every large activation is a fresh mmap, which on some VMs costs
#              the peer 2x and more)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/bin/benchmark_model"
PEER="$ROOT/tools/peers/benchmark_model_peer.py"
PYTHON="${PYTHON:-/usr/bin/python3}"
MODELS="${MODELS:-TSN}"
THREADS="${THREADS:-1 2}"
BATCH="${BATCH:-1}"
ITERS="${ITERS:-5}"
WARMUP="${WARMUP:-2}"
MODES="${MODES:-train,eager,fast,sgemm}"
REPEAT="${REPEAT:-1}"
PIN="${PIN:-1}"
PY_MALLOC="${PY_MALLOC:-same}"
case "$PY_MALLOC" in
  same) py_env=(env MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824) ;;
  default) py_env=(env) ;;
  *) echo "error: PY_MALLOC must be 'same' or 'default', got '$PY_MALLOC'" >&2; exit 1 ;;
esac
WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/bench_model.XXXXXX)}"
mkdir -p "$WORK_DIR"
RESULTS="$WORK_DIR/results.txt"
: >"$RESULTS"

[[ -x "$BIN" ]] || { echo "error: $BIN not built (cmake --build build --target vc_benchmark_model)" >&2; exit 1; }
"$PYTHON" -c 'import torch, torchvision' 2>/dev/null ||
  { echo "error: $PYTHON cannot import torch and torchvision" >&2; exit 1; }

pin() {  # pin THREADS CMD...
  local t="$1"; shift
  if [[ "$PIN" == 1 ]] && command -v taskset >/dev/null; then
    taskset -c "0-$((t - 1))" "$@"
  else
    "$@"
  fi
}

cd "$ROOT"
echo "work dir: $WORK_DIR; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg); peer malloc: $PY_MALLOC"
for model in $MODELS; do
  for t in $THREADS; do
    for ((r = 0; r < REPEAT; r++)); do
      log_c="$WORK_DIR/${model}_t${t}_r${r}_cpp.log"
      log_p="$WORK_DIR/${model}_t${t}_r${r}_python.log"
      run_cpp() {
        pin "$t" "$BIN" --model "$model" --threads "$t" --batch "$BATCH" --iters "$ITERS" \
          --warmup "$WARMUP" --modes "$MODES" | tee "$log_c"
        grep '^RESULT ' "$log_c" >>"$RESULTS"
      }
      run_py() {
        # The input sizes and classes the C++ program read from the config.
        local line
        line="$(grep '^RESULT impl=cpp' "$log_c" | tail -1)"
        field() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
        pin "$t" "${py_env[@]}" "$PYTHON" "$PEER" --model "$model" --threads "$t" --batch "$BATCH" \
          --iters "$ITERS" --warmup "$WARMUP" --modes "$MODES" \
          --train-input "$(field train_input)" --infer-input "$(field infer_input)" \
          --num-classes "$(field num_classes)" --task "$(field task)" \
          --optimizer "$(field optimizer)" | tee "$log_p"
        grep '^RESULT ' "$log_p" >>"$RESULTS"
      }
      if ((r % 2 == 0)); then
        run_cpp
        run_py
      else
        # Python first: it needs the sizes, so read them from a sizes-only C++ run (no timing).
        "$BIN" --model "$model" --sizes-only >"$log_c"
        run_py
        run_cpp
      fi
    done
  done
done

echo
"$PYTHON" - "$RESULTS" <<'PYEOF'
import collections, statistics, sys
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    if "skipped" in kv:
        continue
    # The C++ side prints the registry id (AttentionLSTM), the peer upper case: one row each.
    key = (kv["model"].upper(), int(kv["threads"]))
    for k, v in kv.items():
        try:
            runs[key][kv["impl"] + ":" + k].append(float(v))
        except ValueError:
            pass
def med(d, k):
    return statistics.median(d[k]) if d.get(k) else float("nan")
def txt(x):
    return "-" if x != x else f"{x:.3f}"
hdr = ("model", "thr", "train C++", "train Py", "C++/Py",
       "infer C++ eager", "infer C++ fast", "fast direct", "fast plain", "infer Py eager",
       "infer Py jit",
       "fast/Py eager", "fast/Py jit", "GFLOP/s fast", "SGEMM GFLOP/s", "% SGEMM")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for (model, t), d in sorted(runs.items()):
    tc, tp = med(d, "cpp:train_clips_per_s"), med(d, "python:train_clips_per_s")
    ec, fc = med(d, "cpp:infer_eager_clips_per_s"), med(d, "cpp:infer_fast_clips_per_s")
    ep, fp = med(d, "python:infer_eager_clips_per_s"), med(d, "python:infer_fast_clips_per_s")
    g, peak = med(d, "cpp:infer_fast_gflops"), med(d, "cpp:sgemm_gflops")
    fd, fpl = med(d, "cpp:infer_fast_direct_clips_per_s"), med(d, "cpp:infer_fast_plain_clips_per_s")
    row = (model, t, f"{tc:.3f}", f"{tp:.3f}", f"{tc / tp:.2f}x", f"{ec:.3f}", f"{fc:.3f}",
           txt(fd), txt(fpl), f"{ep:.3f}", f"{fp:.3f}", f"{fc / ep:.2f}x", f"{fc / fp:.2f}x", f"{g:.1f}",
           f"{peak:.1f}", f"{100 * g / peak:.0f} %")
    print("| " + " | ".join(str(v) for v in row) + " |")
print("\nThe same ratios divided by the ratio of the SGEMM rates each process measured (C++/Python),")
print("a correction for load that differed between the two processes of a shared machine:")
for (model, t), d in sorted(runs.items()):
    peak_ratio = med(d, "cpp:sgemm_gflops") / med(d, "python:sgemm_gflops")
    tr = med(d, "cpp:train_clips_per_s") / med(d, "python:train_clips_per_s")
    fe = med(d, "cpp:infer_fast_clips_per_s") / med(d, "python:infer_eager_clips_per_s")
    fj = med(d, "cpp:infer_fast_clips_per_s") / med(d, "python:infer_fast_clips_per_s")
    ee = med(d, "cpp:infer_eager_clips_per_s") / med(d, "python:infer_eager_clips_per_s")
    print(f"  {model} {t} thread(s): SGEMM C++/Py {peak_ratio:.2f}; train {tr / peak_ratio:.2f}x, "
          f"eager/Py eager {ee / peak_ratio:.2f}x, fast/Py eager {fe / peak_ratio:.2f}x, "
          f"fast/Py jit {fj / peak_ratio:.2f}x")
print("\nclips/s, medians over", max(len(v) for d in runs.values() for v in d.values()),
      "run(s); raw RESULT lines:", sys.argv[1])
PYEOF
