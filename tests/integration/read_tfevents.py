#!/usr/bin/python3
"""Independent reader of TensorBoard event files for tests/integration/executables_test.cpp.

  read_tfevents.py FILE   one JSON object per event, in file order:
                          {"wall_time": t, "step": s, "file_version": "..."} or
                          {"wall_time": t, "step": s, "tag": "...", "value": v} (one per value)

TFRecord framing and both CRCs: tests/support/tfrecord_py.py; the Event / Summary messages:
python3-protobuf with modules generated from third_party/tensorboard/*.proto. No TensorFlow or
TensorBoard. Exit 77 = skipped (message printed).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tfrecord_py  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    _, event_pb2 = tfrecord_py.load_protos("tensorboard/summary.proto", "tensorboard/event.proto")
    for _, _, data in tfrecord_py.read_records(sys.argv[1]):
        e = event_pb2.Event()
        e.ParseFromString(data)
        what = e.WhichOneof("what")
        if what == "file_version":
            print(json.dumps({"wall_time": e.wall_time, "step": e.step,
                              "file_version": e.file_version}))
        elif what == "summary":
            for v in e.summary.value:
                if v.WhichOneof("value") != "simple_value":
                    sys.exit("event at step %d: value %r is not a simple_value" % (e.step, v.tag))
                print(json.dumps({"wall_time": e.wall_time, "step": e.step, "tag": v.tag,
                                  "value": v.simple_value}))
        else:
            sys.exit("event at step %d holds neither file_version nor summary" % e.step)


if __name__ == "__main__":
    main()
