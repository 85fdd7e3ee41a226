#!/usr/bin/python3
"""Python peer of `benchmark_reader --preset features`: the YouTube-8M feature reading of the 2019
PaddlePaddle reader (spec section 3.1) in Python, single process, on the same shard list.

Per shard, by extension (as the C++ reader):
  .tfrecord  the TFRecord framing walked with struct (no CRC check: pure-Python CRC-32C would
             dominate; this favours the peer), each record parsed with python3-protobuf as a
             tf.train.SequenceExample (classes generated at start-up with protoc from
             third_party/tensorflow), rgb / audio bytes joined into uint8 arrays
  .pkl       pickle.load(f, encoding="bytes") of the whole file (the original's reader), then the
             entries
  .h5        h5py: the index datasets once, then per video one slice of rgb and audio
Per video, as the original's feature_reader: frames[:nframes] (<= max_frames), dequantized
x * 4/255 + 4/512 - 2 (float32 here; the original used float64) unless --no-dequantize, then
batches of --batch-size padded to the longest video (numpy).

Prints records/s, MB/s (quantized feature bytes, frames x 1152 per video, the same count as the
C++ program) and the line
  RESULT impl=python mode=features records=... seconds=... records_per_s=... mb_per_s=...
"""
import argparse
import importlib
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCALE, BIAS = 4.0 / 255.0, 4.0 / 512.0 - 2.0


def proto_module():
    """tf.train.SequenceExample classes from third_party/tensorflow via protoc."""
    src = os.path.join(ROOT, "third_party")
    out = tempfile.mkdtemp(prefix="yt8m_peer_pb_")
    protos = sorted("tensorflow/" + p for p in os.listdir(os.path.join(src, "tensorflow"))
                    if p.endswith(".proto"))
    subprocess.run(["protoc", "-I", src, "--python_out", out] + protos, check=True)
    sys.path.insert(0, out)
    return importlib.import_module("tensorflow.example_pb2")


def tfrecord_records(path):
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0
    while pos + 12 <= len(buf):
        (length,) = struct.unpack_from("<Q", buf, pos)
        start = pos + 12
        if start + length + 4 > len(buf):
            break
        yield buf[start:start + length]
        pos = start + length + 4


def videos_tfrecord(path, pb, max_frames):
    for data in tfrecord_records(path):
        ex = pb.SequenceExample()
        ex.ParseFromString(data)
        vid = ex.context.feature["id"].bytes_list.value[0]
        labels = list(ex.context.feature["labels"].int64_list.value)
        lists = ex.feature_lists.feature_list
        rgb = lists["rgb"].feature[:max_frames]
        audio = lists["audio"].feature[:max_frames]
        rgb = np.frombuffer(b"".join(f.bytes_list.value[0] for f in rgb), np.uint8).reshape(-1, 1024)
        audio = np.frombuffer(b"".join(f.bytes_list.value[0] for f in audio), np.uint8).reshape(-1, 128)
        yield vid, labels, rgb, audio


def videos_pickle(path, max_frames):
    with open(path, "rb") as f:
        records = pickle.load(f, encoding="bytes")
    for r in records:
        if b"nframes" not in r:  # str keys (pickled by Python 3) instead of Python 2's str = bytes
            r = {k.encode(): v for k, v in r.items()}
        n = min(r[b"nframes"], max_frames)
        yield r[b"video"], r[b"label"], r[b"feature"][:n], r[b"audio"][:n]


def tf2pkl(shards, out_dir, pb):
    """The original's dataset/youtube8m/tf2pkl.py: one pickle per TFRecord shard, a list of
    {video, label, nframes = min(frames, 300), feature uint8 [T, 1024], audio uint8 [T, 128]},
    protocol 2 (Python 2's cPickle.HIGHEST_PROTOCOL)."""
    os.makedirs(out_dir, exist_ok=True)
    for s in shards:
        out = []
        for vid, labels, rgb, audio in videos_tfrecord(s, pb, 1 << 30):
            out.append({"video": vid, "label": labels, "nframes": min(rgb.shape[0], 300),
                        "feature": rgb, "audio": audio})
        path = os.path.join(out_dir, os.path.splitext(os.path.basename(s))[0] + ".pkl")
        with open(path, "wb") as f:
            pickle.dump(out, f, protocol=2)
        print(path)


def videos_h5(path, max_frames):
    import h5py
    with h5py.File(path, "r") as f:
        ids, fo, lo = f["ids"][:], f["frame_offsets"][:], f["label_offsets"][:]
        labels = f["labels"][:]
        rgb_ds, audio_ds = f["rgb"], f["audio"]
        for i in range(len(ids)):
            a, b = fo[i], min(fo[i + 1], fo[i] + max_frames)
            yield ids[i], labels[lo[i]:lo[i + 1]], rgb_ds[a:b], audio_ds[a:b]


def pad(arrays):
    t = max(a.shape[0] for a in arrays)
    out = np.zeros((len(arrays), t, arrays[0].shape[1]), np.float32)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-frames", type=int, default=300)
    ap.add_argument("--num-classes", type=int, default=3862)
    ap.add_argument("--no-dequantize", action="store_true")
    ap.add_argument("--epochs", type=int, default=1,
                    help="passes over the list (as benchmark_reader --epochs)")
    ap.add_argument("--tag", default="-")
    ap.add_argument("--tf2pkl", metavar="OUT_DIR",
                    help="convert the listed TFRecord shards to the original's .pkl files and exit")
    a = ap.parse_args()
    base = os.path.dirname(os.path.abspath(a.list))
    shards = []
    with open(a.list) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                shards.append(line if os.path.isabs(line) else os.path.join(base, line))
    pb = None
    if any(s.endswith((".tfrecord", ".tfr")) for s in shards):
        pb = proto_module()
    if a.tf2pkl:
        tf2pkl(shards, a.tf2pkl, pb)
        return 0
    t0 = time.perf_counter()
    records = frames = batches = 0
    batch = []

    def flush():
        nonlocal batches
        if not batch:
            return
        rgb = pad([b[0] for b in batch])
        audio = pad([b[1] for b in batch])
        labels = np.zeros((len(batch), a.num_classes), np.float32)
        for i, b in enumerate(batch):
            labels[i, b[2]] = 1.0
        assert rgb.shape[0] == audio.shape[0] == labels.shape[0]
        batches += 1
        batch.clear()

    for s in shards * a.epochs:
        if s.endswith((".tfrecord", ".tfr")):
            gen = videos_tfrecord(s, pb, a.max_frames)
        elif s.endswith((".h5", ".hdf5")):
            gen = videos_h5(s, a.max_frames)
        else:
            gen = videos_pickle(s, a.max_frames)
        for _vid, labels, rgb, audio in gen:
            if a.no_dequantize:
                rgb, audio = rgb.astype(np.float32), audio.astype(np.float32)
            else:
                rgb = rgb.astype(np.float32) * np.float32(SCALE) + np.float32(BIAS)
                audio = audio.astype(np.float32) * np.float32(SCALE) + np.float32(BIAS)
            batch.append((rgb, audio, list(labels)))
            records += 1
            frames += rgb.shape[0]
            if len(batch) == a.batch_size:
                flush()
    flush()
    secs = time.perf_counter() - t0
    mb = frames * 1152 / 1e6
    print("yt8m_reader_peer: %d shards, %d records, %d frames, %d batches in %.3f s: "
          "%.1f records/s, %.1f MB/s" % (len(shards), records, frames, batches, secs,
                                          records / secs, mb / secs))
    print("RESULT impl=python mode=features threads=1 batch=%d records=%d frames=%d seconds=%.3f "
          "records_per_s=%.3f mb_per_s=%.3f index_s=0 tag=%s"
          % (a.batch_size, records, frames, secs, records / secs, mb / secs, a.tag))
    return 0 if records > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
