#!/usr/bin/env python3
"""Fixtures of the YouTube-8M feature reader tests (tests/datareader/feature_reader_test.cpp),
written independently of the C++ code with numpy, pickle and h5py.

usage: write_yt8m_features.py OUT_DIR

  videos.json         the videos below: [{id (latin-1 str of the id bytes), labels, frames}];
                      frames of video v are features(v) (see below), so C++ can rebuild them
  py2.pkl             the videos as the original's tf2pkl.py wrote them under Python 2 cPickle
                      (protocol 2: str keys / ids as SHORT_BINSTRING, numpy arrays through
                      numpy.core.multiarray._reconstruct with str data; nframes = min(T, 300))
  py3.pkl             the same list pickled by Python 3 (pickle.dump(..., protocol=2): bytes ids,
                      str keys, arrays with _codecs.encode'd data)
  h5py.h5             the same videos in the HDF5 layout of docs/formats/yt8m_hdf5.md, by h5py
  h5py_fixed_ids.h5   the same with fixed-length ('S') ids and int32 labels
  bad_entries.pkl     a list mixing good videos with entries the reader must skip (see BAD)
  not_a_list.pkl      a dict at the root
  truncated.pkl       py2.pkl cut in the middle

features(v): rgb[t, c] = (v * 37 + t * 11 + c * 3) % 256, audio[t, c] = (v * 91 + t * 5 + c) % 256
(uint8), so any reader can be checked frame by frame.
"""
import json
import os
import pickle
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from write_paddle_weights import Py2Str, py2_pickle  # noqa: E402  (the Python-2 cPickle writer)

# (id bytes, labels, frames): one over 300 frames (nframes / max_frames truncation), one with a
# non-ASCII id, one with no labels.
VIDEOS = [
    (b"Aa01", [0, 5, 3861], 7),
    (b"Bb\xff2", [12], 320),
    (b"Cc03", [], 1),
    (b"Dd04", [100, 101], 40),
]

# Entries of bad_entries.pkl after the good first video, each with the reason the reader gives.
def with_(v, **changes):
    d = dict(v)
    for k, x in changes.items():
        d[Py2Str(k.encode())] = x
    return d


BAD = [
    ("pkl entry not a dict", lambda v: [1, 2, 3]),
    ("pkl entry missing key", lambda v: {k: x for k, x in v.items() if k != b"feature"}),
    ("pkl entry wrong dtype", lambda v: with_(v, feature=v[b"feature"].astype(np.float32))),
    ("pkl entry wrong shape", lambda v: with_(v, audio=np.zeros((v[b"nframes"], 100), np.uint8))),
    ("zero frames", lambda v: with_(v, feature=np.zeros((0, 1024), np.uint8),
                                    audio=np.zeros((0, 128), np.uint8), nframes=0)),
    ("label out of range", lambda v: with_(v, label=[3, 3862])),
    ("pkl entry wrong type", lambda v: with_(v, nframes=Py2Str(b"seven"))),
]


def features(v, frames):
    t = np.arange(frames)[:, None]
    rgb = ((v * 37 + t * 11 + np.arange(1024)[None, :] * 3) % 256).astype(np.uint8)
    audio = ((v * 91 + t * 5 + np.arange(128)[None, :]) % 256).astype(np.uint8)
    return rgb, audio


def py2_entries():
    out = []
    for v, (vid, labels, frames) in enumerate(VIDEOS):
        rgb, audio = features(v, frames)
        out.append({Py2Str(b"video"): Py2Str(vid), Py2Str(b"label"): list(labels),
                    Py2Str(b"nframes"): min(frames, 300), Py2Str(b"feature"): rgb,
                    Py2Str(b"audio"): audio})
    return out


def write_h5(path, fixed_ids=False):
    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "videocls-yt8m"
        f.attrs["version"] = 1
        ids = [vid for vid, _, _ in VIDEOS]
        if fixed_ids:
            f["ids"] = np.array(ids, dtype="S")
        else:
            # variable-length strings holding the id bytes as they are (ASCII character set)
            f.create_dataset("ids", data=ids, dtype=h5py.string_dtype("ascii"))
        labels = [l for _, ls, _ in VIDEOS for l in ls]
        f["labels"] = np.array(labels, np.int32 if fixed_ids else np.int64)
        f["label_offsets"] = np.cumsum([0] + [len(ls) for _, ls, _ in VIDEOS]).astype(np.int64)
        f["frame_offsets"] = np.cumsum([0] + [n for _, _, n in VIDEOS]).astype(np.int64)
        parts = [features(v, n) for v, (_, _, n) in enumerate(VIDEOS)]
        f.create_dataset("rgb", data=np.concatenate([p[0] for p in parts]), chunks=(16, 1024))
        f.create_dataset("audio", data=np.concatenate([p[1] for p in parts]))


def main(out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "videos.json"), "w") as f:
        json.dump([{"id": vid.decode("latin-1"), "labels": labels, "frames": n}
                   for vid, labels, n in VIDEOS], f)
    with open(os.path.join(out, "py2.pkl"), "wb") as f:
        f.write(py2_pickle(py2_entries()))
    py3 = [{"video": bytes(e[Py2Str(b"video")]), "label": e[Py2Str(b"label")],
            "nframes": e[Py2Str(b"nframes")], "feature": e[Py2Str(b"feature")],
            "audio": e[Py2Str(b"audio")]} for e in py2_entries()]
    with open(os.path.join(out, "py3.pkl"), "wb") as f:
        pickle.dump(py3, f, protocol=2)
    good = py2_entries()[0]
    with open(os.path.join(out, "bad_entries.pkl"), "wb") as f:
        f.write(py2_pickle([good] + [make(good) for _, make in BAD] + [py2_entries()[3]]))
    with open(os.path.join(out, "bad_entries.json"), "w") as f:
        json.dump([reason for reason, _ in BAD], f)
    with open(os.path.join(out, "not_a_list.pkl"), "wb") as f:
        f.write(py2_pickle({Py2Str(b"video"): Py2Str(b"x")}))
    data = py2_pickle(py2_entries())
    with open(os.path.join(out, "truncated.pkl"), "wb") as f:
        f.write(data[: len(data) // 2])
    try:
        import h5py  # noqa: F401
    except ImportError:
        print("h5py missing: no .h5 fixtures (install python3-h5py)")
        return
    write_h5(os.path.join(out, "h5py.h5"))
    write_h5(os.path.join(out, "h5py_fixed_ids.h5"), fixed_ids=True)


if __name__ == "__main__":
    main(sys.argv[1])
