"""Python peer of tools/benchmark_model: the same network in PyTorch on the same LibTorch.

Usage (scripts/bench_model.sh passes the input sizes the C++ program read from the config):

  /usr/bin/python3 tools/peers/benchmark_model_peer.py --model TSN --threads 2 --batch 1 \
      --train-input 1x3x3x224x224 --infer-input 1x7x3x224x224 [--num-classes 400] \
      [--iters 5] [--warmup 2] [--modes train,eager,fast,sgemm] [--gemm-size 2048]

Networks:
  TSN   torchvision's resnet50 per segment (fc removed), mean over segments, Linear(2048, C):
        [N, T, 3, H, W] -> [N, C], the network of models/tsn at seglen 1.
  other tests/reference/<name>_reference.py (else tests/models/<name>_reference.py), <name> the
        id lower-cased or in snake case (attention_lstm for AttentionLSTM), which
        must define
            build_model(num_classes: int, mode: str) -> torch.nn.Module
        (mode "train" or "test": the options of that config section, e.g. segment counts) whose
        forward takes the one input tensor of the shape given here and returns logits [N, C].
        Without that file the peer prints "RESULT impl=python model=<id> skipped=no_reference".

Modes (as the C++ program): train = zero_grad + forward + cross-entropy + backward +
torch.optim.SGD(momentum 0.9, weight_decay 1e-4) step; eager = eval forward under no_grad; fast =
torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model))) (the trace is timed
apart); sgemm = torch.mm of two n x n matrices. --threads sizes torch's OpenMP team and
OpenBLAS's own thread pool, as the C++ program does. Each timing is the median of --iters after
--warmup. Prints a report, then "RESULT impl=python key=value ..." with the C++ keys.
"""
import argparse
import importlib.util
import os
import re
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shape(text):
    """"1x3x224x224" -> [1, 3, 224, 224]; several named inputs "audio:1x300x128,lengths:1,
    mask:1x300,rgb:1x300x1024" (the YouTube-8M networks) -> {"audio": [...], ...}."""
    if ":" not in text:
        return [int(v) for v in text.split("x")]
    return {name: [int(v) for v in dims.split("x")]
            for name, dims in (item.split(":", 1) for item in text.split(","))}


def make_input(spec):
    """A random input for `spec` (shape()): one tensor, or for the YouTube-8M networks the one
    tensor [N, T, 1024 + 128] (rgb | audio, every frame real) their references take."""
    if isinstance(spec, list):
        return torch.randn(spec), spec[0]
    if "rgb" in spec and "audio" in spec:
        rgb, audio = torch.randn(spec["rgb"]), torch.randn(spec["audio"])
        return torch.cat([rgb, audio], 2), spec["rgb"][0]
    raise SystemExit(f"error: no rule to build the inputs {sorted(spec)}")


def spec_text(spec):
    if isinstance(spec, list):
        return "x".join(map(str, spec))
    return ",".join(f"{k}:{'x'.join(map(str, v))}" for k, v in spec.items())


def median_seconds(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class TSN(torch.nn.Module):
    """TSN-ResNet-50 as models/tsn: ResNet trunk per segment, average consensus, fc."""

    def __init__(self, num_classes):
        super().__init__()
        import torchvision

        self.backbone = torchvision.models.resnet50()
        self.backbone.fc = torch.nn.Identity()
        self.fc = torch.nn.Linear(2048, num_classes)

    def forward(self, x):
        n, t = x.shape[0], x.shape[1]
        feats = self.backbone(x.reshape(n * t, *x.shape[2:]))  # [N*T, 2048]
        return self.fc(feats.reshape(n, t, -1).mean(1))  # [N, C]


def build(model_id, num_classes, mode):
    if model_id.upper() == "TSN":
        return TSN(num_classes), "torchvision resnet50 TSN"
    # tests/reference/<id>_reference.py, else the parity script tests/models/<id>_reference.py,
    # provided it defines build_model (checked in the text first: the parity scripts run their
    # work at import).
    # The file name: the id lower-cased (NEXTVLAD -> nextvlad) or in snake case
    # (AttentionCluster -> attention_cluster, AttentionLSTM -> attention_lstm).
    names = [model_id.lower(), re.sub(r"(?<=[a-z])(?=[A-Z])", "_", model_id).lower()]
    path = None
    for folder in ("reference", "models"):
        for name in names:
            p = os.path.join(ROOT, "tests", folder, name + "_reference.py")
            if path is None and os.path.exists(p) and "def build_model(" in open(p).read():
                path = p
    if path is None:
        return None, f"no build_model in tests/{{reference,models}}/{names[-1]}_reference.py"
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    spec.loader.exec_module(module)
    if not hasattr(module, "build_model"):
        raise SystemExit(f"error: {path} defines no build_model(num_classes, mode)")
    return module.build_model(num_classes=num_classes, mode=mode), path


def set_blas_threads(n):
    """Sizes OpenBLAS's own thread pool (Debian's is the pthread build) to n, as the C++ program
    does: torch.set_num_threads sizes only the OpenMP team. Returns whether it could."""
    import ctypes
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libopenblas" in line}
        for path in paths:
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_set_num_threads"):
                lib.openblas_set_num_threads(ctypes.c_int(n))
                return True
    except OSError:
        pass
    return False


def print_profile(what, fn):
    """Wall time per outermost op of one call (as benchmark_model --profile)."""
    with torch.autograd.profiler.profile() as prof:
        fn()
    rows = {}
    for e in prof.function_events:
        parent = e.cpu_parent
        if (parent is None and not e.name.startswith("autograd::engine")) or (
                parent is not None and parent.name.startswith("autograd::engine::evaluate")):
            t, n = rows.get(e.name, (0.0, 0))
            rows[e.name] = (t + e.cpu_time_total / 1e3, n + 1)
    total = sum(t for t, _ in rows.values())
    print(f"  profile of one {what} call (sum of outermost ops): {total / 1e3:.3f} s")
    for name, (t, n) in sorted(rows.items(), key=lambda kv: -kv[1][0])[:25]:
        print(f"    {name:40s} {t:8.1f} ms {100 * t / total:5.1f} % {n:5d} calls")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--modes", default="train,eager,fast,sgemm")
    ap.add_argument("--train-input", type=shape, required=True)
    ap.add_argument("--infer-input", type=shape, required=True)
    ap.add_argument("--num-classes", type=int, default=400)
    ap.add_argument("--gemm-size", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--task", choices=["single", "multi"], default="single",
                    help="single: softmax cross-entropy on class targets; multi: sigmoid "
                         "cross-entropy summed over classes, mean over the batch, on multi-hot "
                         "targets (5 %% positives)")
    ap.add_argument("--optimizer", default="momentum",
                    help="the C++ run's optimizer: momentum (SGD momentum 0.9, weight decay "
                         "1e-4), adam, rmsprop (centred)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true",
                    help="after the train mode, print the time per op of one more step")
    a = ap.parse_args()
    modes = set(a.modes.split(","))
    torch.set_num_threads(a.threads)
    set_blas_threads(a.threads)
    torch.manual_seed(a.seed)
    result = f"RESULT impl=python model={a.model.upper()} threads={a.threads} batch={a.batch}"
    print(f"benchmark_model_peer: {a.model}, torch {torch.__version__}, {a.threads} intra-op "
          f"thread(s), batch {a.batch}, {a.iters} iters after {a.warmup} warmup; oneDNN "
          f"{'available' if torch.backends.mkldnn.is_available() else 'not available'}")

    if "train" in modes:
        model, what = build(a.model, a.num_classes, "train")
        if model is None:
            print(f"RESULT impl=python model={a.model.upper()} skipped=no_reference ({what})")
            return
        model.train()
        x, b = make_input(a.train_input)
        if a.task == "single":
            target = torch.randint(a.num_classes, (b,))
            loss_fn = torch.nn.functional.cross_entropy
        else:
            target = (torch.rand(b, a.num_classes) < 0.05).float()

            def loss_fn(logits, y):
                return torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, y, reduction="sum") / logits.shape[0]
        if a.optimizer == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        elif a.optimizer == "rmsprop":
            opt = torch.optim.RMSprop(model.parameters(), lr=a.lr, alpha=0.95, eps=1e-6,
                                      centered=True)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), target)
            loss.backward()
            opt.step()

        t = median_seconds(step, a.warmup, a.iters)
        if a.profile:
            print_profile("train step", step)
        print(f"train     input {spec_text(a.train_input)} ({what}, {a.optimizer}): {t:.3f} "
              f"s/step, {b / t:.3f} clips/s")
        result += f" train_clips_per_s={b / t:.6g}"

    if "eager" in modes or "fast" in modes:
        model, what = build(a.model, a.num_classes, "test")
        if model is None:
            print(f"RESULT impl=python model={a.model.upper()} skipped=no_reference ({what})")
            return
        model.eval()
        x, b = make_input(a.infer_input)
        with torch.no_grad():
            eager_out = None
            if "eager" in modes:
                out = {}
                t = median_seconds(lambda: out.update(y=model(x)), a.warmup, a.iters)
                eager_out = out["y"]
                print(f"eager     input {spec_text(a.infer_input)}: {t:.3f} s/forward, "
                      f"{b / t:.3f} clips/s")
                result += f" infer_eager_clips_per_s={b / t:.6g}"
            if "fast" in modes:
                t0 = time.perf_counter()
                fast = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
                fast(x)
                setup = time.perf_counter() - t0
                out = {}
                t = median_seconds(lambda: out.update(y=fast(x)), a.warmup, a.iters)
                if eager_out is None:
                    eager_out = model(x)
                diff = (out["y"] - eager_out).abs().max().item()
                print(f"fast      (trace + freeze + optimize_for_inference) {t:.3f} s/forward, "
                      f"{b / t:.3f} clips/s (setup {setup:.1f} s); max |logit - eager| {diff:.3g}")
                result += (f" infer_fast_clips_per_s={b / t:.6g} fast_setup_s={setup:.3g}"
                           f" max_abs_diff={diff:.3g}")

    if "sgemm" in modes:
        n = a.gemm_size
        x, y = torch.randn(n, n), torch.randn(n, n)
        z = torch.empty(n, n)
        t = median_seconds(lambda: torch.mm(x, y, out=z), a.warmup, max(a.iters, 5))
        g = 2.0 * n ** 3 / t / 1e9
        print(f"sgemm     {n}x{n}: {t:.3f} s, {g:.1f} GFLOP/s")
        result += f" sgemm_n={n} sgemm_gflops={g:.6g}"
    print(result, flush=True)


if __name__ == "__main__":
    main()
