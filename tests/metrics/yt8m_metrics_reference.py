#!/usr/bin/env python3
"""An independent numpy implementation of the YouTube-8M starter code's metrics, for
tests/metrics/youtube8m_test.cpp (run with /usr/bin/python3; numpy only).

The formulas follow google/youtube-8m (copied unchanged into PaddleCV/video
metrics/youtube8m/): eval_util.py calculate_hit_at_one, calculate_precision_at_equal_recall_rate,
top_k_by_class and EvaluationMetrics (per-batch accumulation); average_precision_calculator.py
AveragePrecisionCalculator with top_n = None (accumulate with num_positives, peek_ap_at_n, ap_at_n
with its random.seed(0) shuffle before a stable sort); mean_average_precision_calculator.py (one
calculator per class); utils.py (mAP = numpy.mean(aps)).

Usage: yt8m_metrics_reference.py OUT_DIR
Writes OUT_DIR/logits.f32 and OUT_DIR/labels.f32 (raw little-endian float32 [N, C], row-major) and
OUT_DIR/expected.txt ("key value value ..." per line). The logits are distinct points of a grid
(no ties, and far enough apart that float32 and float64 sigmoids rank them alike), so the
original's tie-breaking shuffle cannot change any result.
"""
import os
import random
import sys

import numpy as np

N, C = 250, 40
BATCHES = [1, 17, 64, 100, 68]
LOSSES = [0.5, 1.25, 0.75, 2.0, 1.0]
NEVER_LABELLED = 4  # the last classes have no labels at all


def make_data():
    rng = np.random.RandomState(20261203)
    labels = np.zeros((N, C), np.float32)
    for i in range(N):
        n = rng.choice([0, 1, 2, 3, 5, 8], p=[0.1, 0.3, 0.25, 0.15, 0.1, 0.1])
        labels[i, rng.choice(C - NEVER_LABELLED, n, replace=False)] = 1.0
    # Scores correlated with the labels, then replaced by their rank on an even grid.
    base = rng.normal(size=(N, C)) + 1.5 * labels
    ranks = base.ravel().argsort(kind="stable").argsort(kind="stable")
    grid = np.linspace(-6.0, 6.0, N * C)
    logits = grid[ranks].reshape(N, C).astype(np.float32)
    return logits, labels


def hit_at_one(pred, actual):
    top = np.argmax(pred, 1)
    return float(np.average(actual[np.arange(actual.shape[0]), top]))


def perr(pred, actual):
    total = 0.0
    for row in range(actual.shape[0]):
        k = int(np.sum(actual[row]))
        idx = np.argpartition(pred[row], -k)[-k:]  # k = 0 takes every class
        hits = sum(actual[row][j] for j in idx if pred[row][j] > 0)
        total += hits / idx.size
    return total / actual.shape[0]


def top_k_by_class(pred, actual, k):
    k = min(k, pred.shape[1])
    classes = pred.shape[1]
    out_pred = [[] for _ in range(classes)]
    out_label = [[] for _ in range(classes)]
    for v in range(pred.shape[0]):
        for j in np.argpartition(pred[v], -k)[-k:]:
            out_pred[j].append(pred[v, j])
            out_label[j].append(actual[v, j])
    positives = [np.sum(actual[:, j]) for j in range(classes)]
    return out_pred, out_label, positives


def ap_at_n(pred, actual, total_positives):
    """Non-interpolated AP, n = None."""
    pred = np.array(pred)
    actual = np.array(actual)
    random.seed(0)
    perm = random.sample(range(len(pred)), len(pred))
    pred = pred[perm]
    actual = actual[perm]
    order = sorted(range(len(pred)), key=lambda i: pred[i], reverse=True)
    if total_positives == 0:
        return 0.0
    ap = 0.0
    seen = 0.0
    for rank, i in enumerate(order):
        if actual[i] > 0:
            seen += 1
            ap += seen / (rank + 1) / total_positives
    return ap


class ApCalculator:
    def __init__(self):
        self.pred, self.actual, self.positives = [], [], 0

    def accumulate(self, pred, actual, positives):
        self.pred.extend(pred)
        self.actual.extend(actual)
        self.positives += positives

    def peek(self):
        if not self.pred:
            return 0.0
        return ap_at_n(self.pred, self.actual, self.positives)


def evaluate(scores, labels, top_k):
    """EvaluationMetrics over the batches: (hit_at_one, perr, loss, gap, aps)."""
    global_ap = ApCalculator()
    class_ap = [ApCalculator() for _ in range(C)]
    n_sum = hit_sum = perr_sum = loss_sum = 0.0
    start = 0
    for size, loss in zip(BATCHES, LOSSES):
        p, a = scores[start:start + size], labels[start:start + size]
        start += size
        hit_sum += hit_at_one(p, a) * size
        perr_sum += perr(p, a) * size
        loss_sum += loss * size
        n_sum += size
        sp, sl, npos = top_k_by_class(p, a, top_k)
        for j in range(C):
            class_ap[j].accumulate(sp[j], sl[j], npos[j])
        global_ap.accumulate([x for l in sp for x in l], [x for l in sl for x in l], sum(npos))
    aps = [c.peek() for c in class_ap]
    return hit_sum / n_sum, perr_sum / n_sum, loss_sum / n_sum, global_ap.peek(), aps


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    logits, labels = make_data()
    logits.astype("<f4").tofile(os.path.join(out, "logits.f32"))
    labels.astype("<f4").tofile(os.path.join(out, "labels.f32"))
    scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    lines = ["N %d" % N, "C %d" % C, "batches " + " ".join(map(str, BATCHES)),
             "losses " + " ".join(repr(x) for x in LOSSES)]

    def put(key, values):
        lines.append(key + " " + " ".join("%.17g" % v for v in values))

    for top_k in (20, 5):
        hit, prec, loss, gap, aps = evaluate(scores, labels, top_k)
        put("hit_at_one", [hit])
        put("perr", [prec])
        put("loss", [loss])
        put("gap@%d" % top_k, [gap])
        put("map@%d" % top_k, [float(np.mean(aps))])
        put("aps@%d" % top_k, aps)
    # One batch alone (the original's per-batch log line): batch 3, videos 82..181.
    p, a = scores[82:182], labels[82:182]
    sp, sl, npos = top_k_by_class(p, a, 20)
    put("batch3.hit_at_one", [hit_at_one(p, a)])
    put("batch3.perr", [perr(p, a)])
    gap = ApCalculator()
    gap.accumulate([x for l in sp for x in l], [x for l in sl for x in l], sum(npos))
    put("batch3.gap@20", [gap.peek()])
    per_class = []
    for j in range(C):
        c = ApCalculator()
        c.accumulate(sp[j], sl[j], npos[j])
        per_class.append(c.peek())
    put("batch3.aps@20", per_class)
    with open(os.path.join(out, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
