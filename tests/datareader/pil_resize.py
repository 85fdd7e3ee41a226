#!/usr/bin/python3
"""PIL reference for resize_test.cpp: Image.resize(size, Image.BILINEAR), as the 2019 reader.

usage: pil_resize.py MANIFEST
Each line of MANIFEST: "<in.rgb> <w> <h> <out.rgb> <ow> <oh>": reads <in.rgb> (raw RGB uint8,
h*w*3 bytes), writes the PIL-resized image to <out.rgb> (raw RGB uint8, oh*ow*3 bytes).
"""
import sys

from PIL import Image


def main():
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.strip():
                continue
            src, w, h, dst, ow, oh = line.split()
            with open(src, "rb") as fin:
                img = Image.frombytes("RGB", (int(w), int(h)), fin.read())
            out = img.resize((int(ow), int(oh)), Image.BILINEAR)
            with open(dst, "wb") as fout:
                fout.write(out.tobytes())


if __name__ == "__main__":
    main()
