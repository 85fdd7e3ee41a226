"""Independent check of `make_demo_data --kind yt8m` output (tests/integration/demo_data_test.cpp).

Usage: /usr/bin/python3 yt8m_demo_check.py DEMO_DIR NUM_CLASSES

Reads every shard named by the lists with its own TFRecord framing (both CRCs verified) and
python3-protobuf SequenceExample parsing, checks the records (ids unique, labels in range, rgb
1024 / audio 128 bytes per frame), then shows the multi-label structure is learnable: a ridge
regression on each video's mean dequantized features, fitted on train.list, must reach a test
GAP (top-20, pooled, YouTube-8M definition) above 0.8 -- so the demo's target for the networks
(GAP > 0.8) is reachable from the data, not an artefact of any one network.
Prints "train N test N gap X" and exits 1 on a failed check (77 = skipped).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tfrecord_py  # noqa: E402

try:
    import numpy as np
except ImportError:
    tfrecord_py.skip("numpy is not installed")

demo, classes = sys.argv[1], int(sys.argv[2])
_, example_pb2 = tfrecord_py.load_protos("tensorflow/feature.proto", "tensorflow/example.proto")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def read_split(list_name):
    feats, labels, ids = [], [], []
    with open(os.path.join(demo, list_name)) as f:
        shards = [line.strip() for line in f if line.strip()]
    for shard in shards:
        path = os.path.join(demo, shard)
        for index, _, data in tfrecord_py.read_records(path):
            se = example_pb2.SequenceExample()
            se.ParseFromString(data)
            ctx = se.context.feature
            vid = ctx["id"].bytes_list.value[0].decode()
            labs = list(ctx["labels"].int64_list.value)
            rgb = se.feature_lists.feature_list["rgb"].feature
            audio = se.feature_lists.feature_list["audio"].feature
            if len(rgb) == 0 or len(rgb) != len(audio):
                fail("%s record %d: %d rgb / %d audio frames" % (path, index, len(rgb), len(audio)))
            r = np.stack([np.frombuffer(x.bytes_list.value[0], np.uint8) for x in rgb])
            a = np.stack([np.frombuffer(x.bytes_list.value[0], np.uint8) for x in audio])
            if r.shape[1] != 1024 or a.shape[1] != 128:
                fail("%s record %d: frame widths %d / %d" % (path, index, r.shape[1], a.shape[1]))
            if not labs or min(labs) < 0 or max(labs) >= classes:
                fail("%s record %d: labels %s" % (path, index, labs))
            x = np.concatenate([r, a], 1).astype(np.float64) * 4 / 255 + 4 / 512 - 2
            feats.append(x.mean(0))
            y = np.zeros(classes)
            y[labs] = 1
            labels.append(y)
            ids.append(vid)
    return np.array(feats), np.array(labels), ids


def gap(scores, labels, k=20):
    pairs = []
    for s, y in zip(scores, labels):
        top = np.argsort(-s, kind="stable")[:k]
        pairs += [(s[c], y[c]) for c in top]
    pairs.sort(key=lambda p: -p[0])
    hits, ap = 0, 0.0
    for rank, (_, pos) in enumerate(pairs, 1):
        if pos:
            hits += 1
            ap += hits / rank
    return ap / labels.sum()


xtr, ytr, idtr = read_split("train.list")
xte, yte, idte = read_split("test.list")
_, _, idva = read_split("val.list")
all_ids = idtr + idva + idte
if len(set(all_ids)) != len(all_ids):
    fail("video ids are not unique")
mu = xtr.mean(0)
xtr_c, xte_c = xtr - mu, xte - mu
w = np.linalg.solve(xtr_c.T @ xtr_c + 1.0 * np.eye(xtr.shape[1]), xtr_c.T @ (ytr - ytr.mean(0)))
g = gap(xte_c @ w + ytr.mean(0), yte)
print("train %d test %d gap %.4f" % (len(xtr), len(xte), g))
if g <= 0.8:
    fail("a linear model reaches only GAP %.4f on the demo test split" % g)
