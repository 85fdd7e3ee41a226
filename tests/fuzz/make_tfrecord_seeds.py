#!/usr/bin/python3
"""Writes the seed corpus of fuzz_tfrecord (tests/fuzz/corpus/tfrecord): tiny frame- and
video-level YouTube-8M records, raw (mode byte 1) and framed in TFRecord files (mode byte 0),
one with a damaged length CRC. Usage: make_tfrecord_seeds.py tests/fuzz/corpus/tfrecord"""
import os, struct, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tfrecord_py
feature_pb2, example_pb2 = tfrecord_py.load_protos("tensorflow/feature.proto", "tensorflow/example.proto")
def frame(n):
    s = example_pb2.SequenceExample()
    s.context.feature["id"].bytes_list.value.append(b"Ab12")
    s.context.feature["labels"].int64_list.value.extend([3, 861])
    fl = s.feature_lists.feature_list
    fl["rgb"]; fl["audio"]
    for t in range(n):
        fl["rgb"].feature.add().bytes_list.value.append(bytes((t * 7 + i) % 256 for i in range(1024)))
        fl["audio"].feature.add().bytes_list.value.append(bytes((t + i) % 256 for i in range(128)))
    return s.SerializeToString(deterministic=True)
def video():
    e = example_pb2.Example()
    f = e.features.feature
    f["id"].bytes_list.value.append(b"Xy9")
    f["labels"].int64_list.value.extend([0, 12])
    f["mean_rgb"].float_list.value.extend([(i % 17) / 8.0 - 1 for i in range(1024)])
    f["mean_audio"].float_list.value.extend([(i % 5) / 4.0 for i in range(128)])
    return e.SerializeToString(deterministic=True) + b"\x12\x00"   # as the real shards: an empty field 2
def framed(recs):
    out = b""
    for r in recs:
        h = struct.pack("<Q", len(r))
        out += h + struct.pack("<I", tfrecord_py.masked_crc(h)) + r + struct.pack("<I", tfrecord_py.masked_crc(r))
    return out
d = sys.argv[1]
seeds = {
    "frame1_record.bin": b"\x01" + frame(1),
    "frame0_record.bin": b"\x01" + frame(0),
    "video_record.bin": b"\x01" + video(),
    "two_frames_file.bin": b"\x00" + framed([frame(2), b"junk"]),
    "video_file.bin": b"\x00" + framed([video(), frame(1)]),
}
bad = bytearray(framed([frame(1), frame(1)]))
bad[3] ^= 0x40
seeds["bad_length_crc_file.bin"] = b"\x00" + bytes(bad)
for k, v in seeds.items():
    open(os.path.join(d, k), "wb").write(v)
    print(k, len(v))
