#!/usr/bin/python3
"""Reference decode with Python OpenCV for decode_real_test.cpp.

usage: dump_frames.py OUT_DIR VIDEO_OR_FRAMES_DIR...
For each input writes OUT_DIR/<basename>.txt = "<declared> <decoded> <h> <w> <k1> <k2> ..." and
OUT_DIR/<basename>_<k>.rgb = raw RGB uint8 bytes (h*w*3) of frame k, for k in {0, n//2, n-1}
of the n frames actually decoded (sequential read(), BGR->RGB). A frames folder is read as
img_00001.jpg ... with cv2.imread.
"""
import os
import sys

import cv2


def frames_of(path):
    if os.path.isdir(path):
        files = []
        i = 1
        while os.path.isfile(os.path.join(path, "img_%05d.jpg" % i)):
            files.append(os.path.join(path, "img_%05d.jpg" % i))
            i += 1
        return len(files), [cv2.imread(f, cv2.IMREAD_COLOR) for f in files]
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    return declared, frames


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for path in sys.argv[2:]:
        name = os.path.basename(os.path.normpath(path))
        declared, frames = frames_of(path)
        n = len(frames)
        ks = sorted(set([0, n // 2, n - 1])) if n else []
        h, w = (frames[0].shape[:2] if n else (0, 0))
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write(" ".join(str(v) for v in [declared, n, h, w] + ks) + "\n")
        for k in ks:
            rgb = cv2.cvtColor(frames[k], cv2.COLOR_BGR2RGB)
            with open(os.path.join(out, "%s_%d.rgb" % (name, k)), "wb") as f:
                f.write(rgb.tobytes())


if __name__ == "__main__":
    main()
