"""Independent Python reading of TFRecord files and the project's .proto subsets, for tests.

Written from the format description (uint64 length, uint32 masked CRC-32C of the length, data,
uint32 masked CRC-32C of the data), not from the C++ code; no TensorFlow. The protobuf modules
are generated at run time with `protoc --python_out` from third_party/ into a temporary folder
and imported with Debian's python3-protobuf.

Scripts that use it exit with SKIP_CODE (77) and a message when python3-protobuf or protoc is
missing; the C++ tests turn that into GTEST_SKIP.
"""
import importlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP_CODE = 77
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected


def _make_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data, crc=0):
    c = crc ^ 0xFFFFFFFF
    t = _TABLE
    for b in data:
        c = (c >> 8) ^ t[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path, verify=True):
    """Yields (index, offset, data) of every record; raises ValueError on any framing error."""
    with open(path, "rb") as f:
        buf = f.read()
    pos, index = 0, 0
    while pos < len(buf):
        if len(buf) - pos < 12:
            raise ValueError("%s: truncated header at byte %d" % (path, pos))
        (length,) = struct.unpack_from("<Q", buf, pos)
        (len_crc,) = struct.unpack_from("<I", buf, pos + 8)
        if verify and masked_crc(buf[pos:pos + 8]) != len_crc:
            raise ValueError("%s: bad length crc at byte %d" % (path, pos))
        end = pos + 12 + length
        if end + 4 > len(buf):
            raise ValueError("%s: truncated record at byte %d" % (path, pos))
        data = buf[pos + 12:end]
        (data_crc,) = struct.unpack_from("<I", buf, end)
        if verify and masked_crc(data) != data_crc:
            raise ValueError("%s: bad data crc at byte %d" % (path, pos))
        yield index, pos, data
        pos, index = end + 4, index + 1


def skip(message):
    print("SKIP: " + message)
    sys.exit(SKIP_CODE)


def load_protos(*proto_files):
    """Generates and imports the modules of `proto_files` (paths under third_party/, e.g.
    "tensorflow/example.proto"); returns them in order. Exits with SKIP_CODE when
    python3-protobuf or protoc is absent."""
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        skip("python3-protobuf is not installed (apt install python3-protobuf)")
    protoc = shutil.which("protoc")
    if not protoc:
        skip("protoc not found (apt install protobuf-compiler)")
    out = tempfile.mkdtemp(prefix="vc_pyproto_")
    subprocess.check_call([protoc, "-I" + os.path.join(ROOT, "third_party"),
                           "--python_out=" + out] + list(proto_files))
    sys.path.insert(0, out)
    mods = []
    for p in proto_files:
        mods.append(importlib.import_module(p[:-len(".proto")].replace("/", ".") + "_pb2"))
    return mods
