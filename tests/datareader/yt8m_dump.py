#!/usr/bin/python3
"""Independent parse of YouTube-8M TFRecord files for tests/datareader/yt8m_example_test.cpp.

  yt8m_dump.py dump FILE...        one JSON object per record (video- or frame-level)
  yt8m_dump.py masked-crc FILE...  "<crc32c hex> <masked crc hex>" of each file's bytes

Framing and CRCs: tests/support/tfrecord_py.py (no TensorFlow); messages: python3-protobuf with
modules generated from third_party/tensorflow/*.proto. Exit 77 = skipped (message printed).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tfrecord_py  # noqa: E402

RGB_PICKS = (0, 1, 511, 1023)
AUDIO_PICKS = (0, 64, 127)


def one_bytes(feature, what):
    values = feature.bytes_list.value
    if len(values) != 1:
        raise ValueError("%s: %d bytes values" % (what, len(values)))
    return values[0]


def dump(files):
    (example_pb2,) = tfrecord_py.load_protos("tensorflow/feature.proto",
                                             "tensorflow/example.proto")[1:]
    for path in files:
        for index, offset, data in tfrecord_py.read_records(path):
            seq = example_pb2.SequenceExample()
            seq.ParseFromString(data)
            out = {"file": path, "index": index, "offset": offset}
            if len(seq.feature_lists.feature_list) > 0:
                ctx = seq.context.feature
                out["level"] = "frame"
                out["id_hex"] = one_bytes(ctx["id"], "id").hex()
                out["labels"] = list(ctx["labels"].int64_list.value)
                rgb = [one_bytes(f, "rgb") for f in seq.feature_lists.feature_list["rgb"].feature]
                audio = [one_bytes(f, "audio")
                         for f in seq.feature_lists.feature_list["audio"].feature]
                out["num_frames"] = len(rgb)
                out["rgb_hex"] = b"".join(rgb).hex()
                out["audio_hex"] = b"".join(audio).hex()
            else:
                ex = example_pb2.Example()
                ex.ParseFromString(data)
                f = ex.features.feature
                out["level"] = "video"
                out["id_hex"] = one_bytes(f["id"], "id").hex()
                out["labels"] = list(f["labels"].int64_list.value)
                rgb = list(f["mean_rgb"].float_list.value)
                audio = list(f["mean_audio"].float_list.value)
                out["mean_rgb_len"] = len(rgb)
                out["mean_audio_len"] = len(audio)
                out["mean_rgb_picks"] = [rgb[i] for i in RGB_PICKS]
                out["mean_audio_picks"] = [audio[i] for i in AUDIO_PICKS]
                # float32 values summed in double, in order (the C++ test sums the same way).
                s = 0.0
                for v in rgb:
                    s += v
                out["mean_rgb_sum"] = s
            print(json.dumps(out))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("dump", "masked-crc"):
        sys.exit(__doc__)
    if sys.argv[1] == "masked-crc":
        for path in sys.argv[2:]:
            with open(path, "rb") as f:
                data = f.read()
            print("%08x %08x" % (tfrecord_py.crc32c(data), tfrecord_py.masked_crc(data)))
    else:
        dump(sys.argv[2:])


if __name__ == "__main__":
    main()
