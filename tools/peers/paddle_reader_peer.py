#!/usr/bin/python3
"""Python peer of tools/benchmark_reader: the 2019 PaddlePaddle Kinetics reader's work, in Python
OpenCV + numpy, single process, to compare throughput with the C++ loader.

Modes
  original  what the original mp4 reader did (spec/reference_paddle_video.md section 3.2,
            `mp4_loader`): cv2.VideoCapture.read() EVERY frame into a list (BGR->RGB as the
            original's `frame[:, :, ::-1]` view), then sample from the list and transform.
  tuned     grab() every frame up to the last sampled index, retrieve() (convert) only the
            sampled frames, cv2.cvtColor BGR->RGB; same sampling and transforms.

Presets (TRAIN phase, as benchmark_reader): tsn 3x1, tsm 8x1 + multi-scale crop, stnet 7x5
(short side 256 / crop 224, group_scale 4:3), nonlocal (8 frames stride 8, short side in
[256, 320), random 224 crop, flip, (x - 114.75) / 57.375, [3, 8, 224, 224]).
Transforms use cv2.resize (bilinear) where the original used PIL; numpy for the rest; clips are
stacked into batches with numpy.

Prints clips/s, frames decoded per clip and the same final machine-readable line as the C++
benchmark:  RESULT impl=python mode=... preset=... clips_per_s=... frames_decoded_per_clip=...
"""
import argparse
import os
import random
import sys
import time

import cv2
import numpy as np

PRESETS = {
    "tsn": dict(seg_num=3, seglen=1, msc=False),
    "tsm": dict(seg_num=8, seglen=1, msc=True),
    "stnet": dict(seg_num=7, seglen=5, msc=False),
}
SHORT_SIZE, TARGET_SIZE = 256, 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape((3, 1, 1))
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape((3, 1, 1))


def proc_status_mib(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return -1.0


def read_list(path):
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            p = parts[0] if os.path.isabs(parts[0]) else os.path.join(base, parts[0])
            out.append((p, int(parts[1]) if len(parts) > 1 else -1))
    if not out:
        sys.exit("error: list %s has no usable lines" % path)
    return out


class Counter(object):
    decoded = 0    # frames the codec decoded (read() or grab())
    converted = 0  # frames converted to pixels (read() or retrieve())


# --- sampling (spec 3.2, train) -----------------------------------------------------------------
def segment_indices(L, seg_num, seglen):
    avg = L // seg_num
    idx = []
    for i in range(seg_num):
        if avg >= seglen:
            start = random.randint(0, avg - seglen) + i * avg
        elif avg >= 1:
            start = i * avg
        else:
            start = i
        idx.extend((start + k) % L for k in range(seglen))
    return idx


def nonlocal_indices(L, length=8, rate=8):
    start = random.randint(0, L - length * rate) if L > length * rate else 0
    return [(start + k * rate) % L for k in range(length)]


# --- decoding -----------------------------------------------------------------------------------
def decode_original(path, cnt, sample):
    """mp4_loader: read() every frame into a list, then sample from the list."""
    cap = cv2.VideoCapture(path)
    videolen = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for _ in range(videolen):
        ret, frame = cap.read()
        if not ret:  # "maybe first frame is empty"
            continue
        cnt.decoded += 1
        cnt.converted += 1
        frames.append(frame[:, :, ::-1])  # BGR -> RGB (a view, as the original)
    cap.release()
    if not frames:
        raise IOError("%s: no decodable frames" % path)
    idx = sample(len(frames))
    # The original made a PIL image (a copy) of every sampled frame.
    return [np.ascontiguousarray(frames[i]) for i in idx]


def decode_tuned(path, cnt, sample):
    """grab() every frame up to the last sampled index, retrieve() only the sampled ones."""
    def walk(L):
        state = random.getstate()
        idx = sample(L)
        need = sorted(set(idx))
        cap = cv2.VideoCapture(path)
        got = {}
        pos = -1
        for want in need:
            while pos < want:
                if not cap.grab():
                    cap.release()
                    return None, pos + 1, state
                pos += 1
                cnt.decoded += 1
            ok, bgr = cap.retrieve()
            if not ok:
                cap.release()
                return None, want, state
            cnt.converted += 1
            got[want] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        cap.release()
        return [got[i] for i in idx], pos + 1, state

    cap = cv2.VideoCapture(path)
    L = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    if L < 1:
        raise IOError("%s: no frame count" % path)
    frames, walked, state = walk(L)
    if frames is None:  # the container's count was too high: resample from the true count
        if walked < 1:
            raise IOError("%s: no decodable frames" % path)
        random.setstate(state)
        frames, _, _ = walk(walked)
        if frames is None:
            raise IOError("%s: decoding failed" % path)
    return frames


# --- transforms (spec 3.2) ----------------------------------------------------------------------
def group_scale(imgs, size):
    h, w = imgs[0].shape[:2]
    if (w <= h and w == size) or (h <= w and h == size):
        return imgs
    if w < h:
        ow, oh = size, int(size * 4.0 / 3.0)
    else:
        ow, oh = int(size * 4.0 / 3.0), size
    return [cv2.resize(im, (ow, oh), interpolation=cv2.INTER_LINEAR) for im in imgs]


def group_multi_scale_crop(imgs, target, scales=(1, .875, .75, .66), max_distort=1):
    h_img, w_img = imgs[0].shape[:2]
    base = min(w_img, h_img)
    sizes = [int(base * s) for s in scales]
    crop_h = [target if abs(x - target) < 3 else x for x in sizes]
    crop_w = [target if abs(x - target) < 3 else x for x in sizes]
    pairs = [(w, h) for i, h in enumerate(crop_h) for j, w in enumerate(crop_w)
             if abs(i - j) <= max_distort]
    cw, ch = random.choice(pairs)
    ws, hs = (w_img - cw) // 4, (h_img - ch) // 4  # Python 2 integer division
    offs = [(0, 0)]
    if ws != 0:
        offs.append((4 * ws, 0))
    if hs != 0:
        offs.append((0, 4 * hs))
    if ws != 0 and hs != 0:
        offs.append((4 * ws, 4 * hs))
    if ws != 0 or hs != 0:
        offs.append((2 * ws, 2 * hs))
    offs += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
             (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
    x, y = random.choice(offs)
    cw, ch = min(cw, w_img - x), min(ch, h_img - y)
    return [cv2.resize(im[y:y + ch, x:x + cw], (target, target), interpolation=cv2.INTER_LINEAR)
            for im in imgs]


def group_random_crop(imgs, size):
    h, w = imgs[0].shape[:2]
    x1 = random.randint(0, w - size)
    y1 = random.randint(0, h - size)
    return [im[y1:y1 + size, x1:x1 + size] for im in imgs]


def group_random_flip(imgs):
    if random.random() < 0.5:
        return [im[:, ::-1] for im in imgs]
    return imgs


def kinetics_transform(imgs, p):
    imgs = group_scale(imgs, SHORT_SIZE)
    if p["msc"]:
        imgs = group_multi_scale_crop(imgs, SHORT_SIZE)
    imgs = group_random_crop(imgs, TARGET_SIZE)
    imgs = group_random_flip(imgs)
    # imgs_transform: float32, HWC->CHW, /255, -mean, /std; [seg*seglen,3,H,W] -> [seg,3*seglen,H,W]
    np_imgs = np.array([im.astype("float32") for im in imgs]).transpose((0, 3, 1, 2)) / 255
    np_imgs = (np_imgs - MEAN) / STD
    return np_imgs.reshape((p["seg_num"], p["seglen"] * 3, TARGET_SIZE, TARGET_SIZE))


def nonlocal_transform(imgs):
    size = random.randint(256, 319)  # np.random.randint(256, 320) in the original
    out = []
    for im in imgs:
        h, w = im.shape[:2]
        if w < h:
            ow, oh = size, int(round(h * float(size) / w))
        else:
            ow, oh = int(round(w * float(size) / h)), size
        out.append(cv2.resize(im, (ow, oh), interpolation=cv2.INTER_LINEAR))
    arr = np.array(out).astype(np.float32).transpose((3, 0, 1, 2))  # [3, T, H, W]
    H, W = arr.shape[2:]
    y = random.randint(0, H - TARGET_SIZE)
    x = random.randint(0, W - TARGET_SIZE)
    arr = arr[:, :, y:y + TARGET_SIZE, x:x + TARGET_SIZE]
    if random.random() < 0.5:
        arr = arr[:, :, :, ::-1]
    return np.ascontiguousarray((arr - 114.75) / 57.375)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", required=True)
    ap.add_argument("--preset", default="tsm", choices=["tsn", "tsm", "stnet", "nonlocal"])
    ap.add_argument("--mode", default="original", choices=["original", "tuned"])
    ap.add_argument("--clips", type=int, default=0, help="stop after C clips (0: one epoch)")
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="-")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    random.seed(a.seed)
    np.random.seed(a.seed)
    entries = read_list(a.list)
    cnt = Counter()
    if a.preset == "nonlocal":
        sample = nonlocal_indices
        transform = nonlocal_transform
        desc = "8 frames stride 8 (Non-local, emulated as the C++ benchmark)"
    else:
        p = PRESETS[a.preset]
        sample = lambda L: segment_indices(L, p["seg_num"], p["seglen"])  # noqa: E731
        transform = lambda imgs: kinetics_transform(imgs, p)  # noqa: E731
        desc = "%dx%d" % (p["seg_num"], p["seglen"])
    decode = decode_original if a.mode == "original" else decode_tuned
    max_epochs = a.epochs if a.epochs > 0 else (10 ** 9 if a.clips > 0 else 1)
    print("paddle_reader_peer: mode %s, preset %s (%s, train transforms, 224 px), list %s "
          "(%d clips), batch %d, 1 process, cv2.setNumThreads(1)"
          % (a.mode, a.preset, desc, a.list, len(entries), a.batch_size))
    sys.stdout.flush()

    t0 = time.time()
    delivered = loaded = batches = epochs_done = 0
    shape = None
    done = False
    for ep in range(max_epochs):
        order = list(entries)
        random.shuffle(order)
        batch = []
        ep_clips = 0
        for i, (path, label) in enumerate(order):
            try:
                clip = transform(decode(path, cnt, sample))
            except (IOError, cv2.error) as e:
                sys.stderr.write("warning: skipping sample %s: %s\n" % (path, e))
                continue
            loaded += 1
            batch.append((clip, label))
            last = i == len(order) - 1
            remaining = a.clips - delivered if a.clips > 0 else None
            if len(batch) == a.batch_size or last or (remaining is not None and
                                                      len(batch) >= remaining):
                data = np.stack([c for c, _ in batch])  # [N, seg, 3*seglen, H, W]
                labels = np.array([l for _, l in batch], dtype=np.int64)
                shape = data.shape
                del labels
                delivered += len(batch)
                ep_clips += len(batch)
                batches += 1
                batch = []
                if a.clips > 0 and delivered >= a.clips:
                    done = True
                    break
        if ep_clips == len(entries):
            epochs_done += 1
        if done:
            break
    secs = time.time() - t0
    cps = delivered / secs
    fpc = float(cnt.decoded) / max(loaded, 1)
    cvpc = float(cnt.converted) / max(loaded, 1)
    peak = proc_status_mib("VmHWM")
    print("batches %d of shape [%s], clips %d" % (batches, "x".join(map(str, shape or ())),
                                                   delivered))
    print("throughput: %.2f clips/s, %.2f ms/clip" % (cps, 1000.0 * secs / delivered))
    print("frames decoded per clip: %.1f (converted to RGB: %.1f)" % (fpc, cvpc))
    print("memory: peak (VmHWM) %.1f MiB" % peak)
    print("RESULT impl=python mode=%s preset=%s threads=1 batch=%d decoder=cv2 clips=%d "
          "seconds=%.3f clips_per_s=%.3f ms_per_clip=%.3f frames_decoded_per_clip=%.2f "
          "frames_converted_per_clip=%.2f peak_rss_mib=%.1f epochs=%d rss_epoch_mib=- tag=%s"
          % (a.mode, a.preset, a.batch_size, delivered, secs, cps, 1000.0 * secs / delivered,
             fpc, cvpc, peak, epochs_done, a.tag))


if __name__ == "__main__":
    main()
