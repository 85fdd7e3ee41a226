"""Writes Paddle Fluid weight files byte for byte as spec §7 describes, without Paddle.

Usage: /usr/bin/python3 write_paddle_weights.py OUT_DIR      (needs numpy only)

Library functions (import this file): lod_tensor_bytes(), write_variable(), write_dir(),
write_pdparams(), paddle_resnet_params(), py2_pickle().

Fixtures written under OUT_DIR:
  dtypes/              one variable per element type (BOOL INT16 INT32 INT64 FP16 FP32 FP64 UINT8
                       INT8), names with '.' and '@', a 0-d ([]) and an empty ([0, 3]) tensor
  dtypes.pdparams      the same arrays, pickle protocol 2 (as Paddle 1.6 fluid.save wrote it)
  dtypes_p4.pdparams   protocol 4, nested under "state_dict", with Paddle 2's
                       "StructuredToParameterName@@" entry
  dtypes_p5.pdparams   protocol 5 (numpy pickles its data as an in-band bytearray)
  expected/<name>.raw  each array's C-order bytes; manifest.txt: "name dtype d0,d1,..." per line
  example/conv1_weights  spec §7's example, float32 [64, 3, 7, 7] = arange * 0.001
  packed/w             float32 [2, 3] whose TensorDesc dims are packed (tag 0x12)
  lod/seq              int64 [5, 1] with two LoD levels [[0, 2], [0, 2, 5]]
  bad_<case>/          a valid variable "ok_weights" plus one broken variable "broken_weights":
                       truncated, trailing, negative_dim, dtype (7), version (1),
                       tensor_version (2), desc_size (2^31 - 1), huge_dims ([2^40, 2^40])
  bad_subdir/          a valid variable and a sub-directory
  resnet18/, resnet50/ every variable of Paddle's ResNet (spec §6.4 naming; the shortcut exists
                       where the shape changes, i.e. torchvision's structure), random float32,
                       fc_0.w_0 [512|2048, 10], plus optimizer state: conv1_weights_velocity_0,
                       fc_0.w_0_velocity_0, learning_rate, @LR_DECAY_COUNTER@
  resnet18.pdparams    resnet18's parameters only (protocol 2)
  resnet50_missing/    resnet50 without res3a_branch2a_weights (symlinks to resnet50/)
  resnet50_extra/      resnet50 plus extra_var_weights
  yt8m_py2.pkl         a Python-2 cPickle (protocol 2) list of YouTube-8M-like records,
                       hand-assembled the way cPickle writes them (str as BINSTRING, numpy
                       arrays via _reconstruct with raw bytes as str)
"""
import os
import pickle
import struct
import sys

import numpy as np

# VarType.Type element types (framework.proto).
DTYPE_CODES = {
    np.dtype(np.bool_): 0,
    np.dtype(np.int16): 1,
    np.dtype(np.int32): 2,
    np.dtype(np.int64): 3,
    np.dtype(np.float16): 4,
    np.dtype(np.float32): 5,
    np.dtype(np.float64): 6,
    np.dtype(np.uint8): 20,
    np.dtype(np.int8): 21,
}


def varint(v):
    """Protobuf base-128 varint; negative int64 as 10-byte two's complement."""
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tensor_desc(dtype_code, dims, packed=False):
    """TensorDesc proto2: field 1 data_type (0x08), field 2 dims (0x10 each, or packed 0x12)."""
    out = b"\x08" + varint(dtype_code)
    if packed:
        body = b"".join(varint(d) for d in dims)
        out += b"\x12" + varint(len(body)) + body
    else:
        out += b"".join(b"\x10" + varint(d) for d in dims)
    return out


def lod_tensor_bytes(array, lod=(), packed=False, dtype_code=None, dims=None, version=0,
                     tensor_version=0, desc_size=None):
    """SerializeToStream(LoDTensor): the bytes of one per-variable file (spec §7).

    The keyword arguments other than `lod`/`packed` exist to write broken files."""
    array = np.asarray(array)  # (np.ascontiguousarray would make a 0-d array 1-d)
    code = DTYPE_CODES[array.dtype] if dtype_code is None else dtype_code
    dims = list(array.shape) if dims is None else list(dims)
    desc = tensor_desc(code, dims, packed)
    out = struct.pack("<I", version)
    out += struct.pack("<Q", len(lod))
    for level in lod:
        out += struct.pack("<Q", 8 * len(level))
        out += b"".join(struct.pack("<Q", o) for o in level)
    out += struct.pack("<I", tensor_version)
    out += struct.pack("<i", len(desc) if desc_size is None else desc_size)
    out += desc
    out += array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
    return out


def write_variable(directory, name, array, **kwargs):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(lod_tensor_bytes(array, **kwargs))


def write_dir(directory, arrays):
    """fluid.io.save_persistables layout: one file per variable."""
    for name, array in arrays.items():
        write_variable(directory, name, array)


def write_pdparams(path, arrays, protocol=2, wrap=None):
    """fluid.save: pickle.dump({name: ndarray}, f, protocol=2)."""
    obj = dict(arrays)
    if wrap:
        obj = wrap(obj)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def paddle_resnet_params(depth, num_classes, in_channels=3):
    """[(name, shape)] of Paddle's ResNet (tsn_res_model.py / image-classification resnet.py
    naming, spec §6.4): conv_bn_layer names, 'bn' + name[3:] BN names, res4b1.. for 101/152."""
    cfg = {18: ([2, 2, 2, 2], False), 34: ([3, 4, 6, 3], False), 50: ([3, 4, 6, 3], True),
           101: ([3, 4, 23, 3], True), 152: ([3, 8, 36, 3], True)}
    counts, bottleneck = cfg[depth]
    params = []

    def conv_bn(name, cin, cout, k):
        params.append((name + "_weights", (cout, cin, k, k)))
        bn = "bn_" + name if name == "conv1" else "bn" + name[3:]
        for suffix in ("scale", "offset", "mean", "variance"):
            params.append((bn + "_" + suffix, (cout,)))

    conv_bn("conv1", in_channels, 64, 7)
    cin = 64
    for block, filters in enumerate([64, 128, 256, 512]):
        for i in range(counts[block]):
            if depth in (101, 152) and block == 2:
                name = "res%d%s" % (block + 2, "a" if i == 0 else "b%d" % i)
            else:
                name = "res%d%s" % (block + 2, chr(97 + i))
            stride = 2 if i == 0 and block != 0 else 1
            if bottleneck:
                conv_bn(name + "_branch2a", cin, filters, 1)
                conv_bn(name + "_branch2b", filters, filters, 3)
                conv_bn(name + "_branch2c", filters, filters * 4, 1)
                cout = filters * 4
            else:
                conv_bn(name + "_branch2a", cin, filters, 3)
                conv_bn(name + "_branch2b", filters, filters, 3)
                cout = filters
            if cin != cout or stride != 1:
                conv_bn(name + "_branch1", cin, cout, 1)
            cin = cout
    params.append(("fc_0.w_0", (cin, num_classes)))
    params.append(("fc_0.b_0", (num_classes,)))
    return params


def resnet_arrays(depth, num_classes, seed):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape, dtype=np.float32)
            for name, shape in paddle_resnet_params(depth, num_classes)}


# ---- a Python-2 cPickle (protocol 2) writer, for the YouTube-8M .pkl format (spec §3.1)
class Py2Str(bytes):
    """A Python 2 `str` (raw bytes, pickled as SHORT_BINSTRING / BINSTRING)."""


def py2_pickle(obj):
    out = bytearray(b"\x80\x02")
    memo = {}

    def put():
        idx = len(memo)
        memo[object()] = idx
        out.extend(b"q" + bytes([idx]) if idx < 256 else b"r" + struct.pack("<I", idx))
        return idx

    def string(s):
        if len(s) < 256:
            out.extend(b"U" + bytes([len(s)]) + s)
        else:
            out.extend(b"T" + struct.pack("<I", len(s)) + s)

    dtype_memo = {}

    def save_dtype(dt):
        key = dt.str
        if key in dtype_memo:
            out.extend(b"h" + bytes([dtype_memo[key]]))
            return
        out.extend(b"cnumpy\ndtype\n")
        put()
        string(Py2Str((dt.kind + str(dt.itemsize)).encode()))
        out.extend(b"K\x00K\x01\x87R")  # dtype('f8', 0, 1)
        dtype_memo[key] = put()
        order = b"|" if dt.itemsize == 1 else dt.str[0].encode()
        out.extend(b"(K\x03")
        string(Py2Str(order))
        out.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")

    def save(o):
        if o is None:
            out.extend(b"N")
        elif o is True or o is False:
            out.extend(b"\x88" if o else b"\x89")
        elif isinstance(o, int):
            if 0 <= o < 256:
                out.extend(b"K" + bytes([o]))
            elif 0 <= o < 65536:
                out.extend(b"M" + struct.pack("<H", o))
            elif -2**31 <= o < 2**31:
                out.extend(b"J" + struct.pack("<i", o))
            else:
                n = (o.bit_length() + 8) // 8
                out.extend(b"\x8a" + bytes([n]) + o.to_bytes(n, "little", signed=True))
        elif isinstance(o, float):
            out.extend(b"G" + struct.pack(">d", o))
        elif isinstance(o, Py2Str):
            string(o)
            put()
        elif isinstance(o, str):  # Python 2 unicode
            data = o.encode("utf-8")
            out.extend(b"X" + struct.pack("<I", len(data)) + data)
            put()
        elif isinstance(o, tuple):
            out.extend(b"(")
            for e in o:
                save(e)
            out.extend(b"t")
            put()
        elif isinstance(o, list):
            out.extend(b"]")
            put()
            if o:
                out.extend(b"(")
                for e in o:
                    save(e)
                out.extend(b"e")
        elif isinstance(o, dict):
            out.extend(b"}")
            put()
            if o:
                out.extend(b"(")
                for k, v in o.items():
                    save(k)
                    save(v)
                out.extend(b"u")
        elif isinstance(o, np.ndarray):
            # numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') + __setstate__
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\n")
            put()
            out.extend(b"cnumpy\nndarray\n")
            put()
            out.extend(b"K\x00\x85")
            string(Py2Str(b"b"))
            out.extend(b"\x87R")
            put()
            fortran = o.flags.f_contiguous and not o.flags.c_contiguous
            out.extend(b"(K\x01")
            save(tuple(o.shape))
            save_dtype(o.dtype)
            out.extend(b"\x88" if fortran else b"\x89")
            string(Py2Str(o.tobytes(order="F" if fortran else "C")))
            out.extend(b"tb")
        else:
            raise TypeError(type(o))

    save(obj)
    out.extend(b".")
    return bytes(out)


def yt8m_records():
    return [
        {Py2Str(b"video"): Py2Str(b"vid\xff1"),
         Py2Str(b"feature"): (np.arange(3 * 8) % 256).astype(np.uint8).reshape(3, 8),
         Py2Str(b"audio"): (np.arange(3 * 4) * 7 % 256).astype(np.uint8).reshape(3, 4),
         Py2Str(b"label"): [1, 5, 3000],
         Py2Str(b"nframes"): 3},
        {Py2Str(b"video"): Py2Str(b"vid2"),
         Py2Str(b"feature"): np.zeros((0, 8), np.uint8),
         Py2Str(b"audio"): np.zeros((0, 4), np.uint8),
         Py2Str(b"label"): [],
         Py2Str(b"nframes"): 0,
         # beyond YouTube-8M: other numpy layouts and scalars the interpreter must read
         Py2Str(b"big_endian"): np.array([1.5, -2.25, 3e100], dtype=">f8"),
         Py2Str(b"fortran"): np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
         Py2Str(b"scalars"): (0.5, -7, 70000, -(2**40), True, None, u"caf\u00e9")},
    ]


# ---- fixtures
def dtype_arrays():
    return {
        "v.bool": np.array([[True, False, True], [False, False, True]]),
        "v.int16": np.array([-32768, -1, 0, 1, 32767], dtype=np.int16),
        "v.int32": np.array([[-2**31, 7], [2**31 - 1, -5]], dtype=np.int32),
        "v.int64": np.array([-2**63, 3000000000, 2**63 - 1], dtype=np.int64),
        "v.fp16": np.array([0.5, -65504, 6e-8, 1.0], dtype=np.float16),
        "v.fp32": (np.arange(24, dtype=np.float32) * 0.1 - 1.0).reshape(2, 3, 4),
        "v.fp64": np.array([np.pi, -1e300, 5e-324], dtype=np.float64),
        "v.uint8": np.array([0, 1, 128, 255], dtype=np.uint8),
        "v.int8": np.array([-128, -1, 0, 127], dtype=np.int8),
        "fc_0.w_0": np.arange(6, dtype=np.float32).reshape(2, 3),
        "@LR_DECAY_COUNTER@": np.array([42], dtype=np.int64),
        "scalar_0d": np.array(3.25, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def main(out):
    arrays = dtype_arrays()
    write_dir(os.path.join(out, "dtypes"), arrays)
    write_pdparams(os.path.join(out, "dtypes.pdparams"), arrays)
    write_pdparams(os.path.join(out, "dtypes_p4.pdparams"), arrays, protocol=4,
                   wrap=lambda d: {"state_dict": dict(d, **{
                       "StructuredToParameterName@@": {"linear.weight": "fc_0.w_0"}})})
    write_pdparams(os.path.join(out, "dtypes_p5.pdparams"), arrays, protocol=5)
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        for name, a in arrays.items():
            with open(os.path.join(out, "expected", name + ".raw"), "wb") as raw:
                raw.write(np.ascontiguousarray(a).tobytes())
            f.write("%s %s %s\n" % (name, a.dtype.name, ",".join(str(d) for d in a.shape)))

    example = (np.arange(64 * 3 * 7 * 7, dtype=np.float32) * 0.001).reshape(64, 3, 7, 7)
    write_variable(os.path.join(out, "example"), "conv1_weights", example)
    write_variable(os.path.join(out, "packed"), "w",
                   np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32), packed=True)
    write_variable(os.path.join(out, "lod"), "seq", np.arange(5, dtype=np.int64).reshape(5, 1),
                   lod=[[0, 2], [0, 2, 5]])

    ok = np.ones((2, 2), dtype=np.float32)
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    good = lod_tensor_bytes(w)
    bad = {
        "truncated": good[:-10],
        "trailing": good + b"\x00\x00\x00\x00",
        "negative_dim": lod_tensor_bytes(w, dims=[-4, 3]),
        "dtype": lod_tensor_bytes(w, dtype_code=7),
        "version": lod_tensor_bytes(w, version=1),
        "tensor_version": lod_tensor_bytes(w, tensor_version=2),
        "desc_size": lod_tensor_bytes(w, desc_size=2**31 - 1),
        "huge_dims": lod_tensor_bytes(w, dims=[2**40, 2**40]),
    }
    for case, data in bad.items():
        d = os.path.join(out, "bad_" + case)
        write_variable(d, "ok_weights", ok)
        with open(os.path.join(d, "broken_weights"), "wb") as f:
            f.write(data)
    write_variable(os.path.join(out, "bad_subdir"), "ok_weights", ok)
    os.makedirs(os.path.join(out, "bad_subdir", "nested"), exist_ok=True)

    for depth, seed in ((18, 1), (50, 2)):
        arrays = resnet_arrays(depth, 10, seed)
        d = os.path.join(out, "resnet%d" % depth)
        write_dir(d, arrays)
        state = {
            "conv1_weights_velocity_0": np.zeros_like(arrays["conv1_weights"]),
            "fc_0.w_0_velocity_0": np.zeros_like(arrays["fc_0.w_0"]),
            "learning_rate": np.array([0.01], dtype=np.float32),
            "@LR_DECAY_COUNTER@": np.array([878], dtype=np.int64),
        }
        write_dir(d, state)
        if depth == 18:
            write_pdparams(os.path.join(out, "resnet18.pdparams"), arrays)
    src = os.path.join(out, "resnet50")
    for variant, drop in (("resnet50_missing", "res3a_branch2a_weights"), ("resnet50_extra", None)):
        d = os.path.join(out, variant)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(src):
            if name != drop:
                # relative: the output folder is renamed after writing
                os.symlink(os.path.join("..", "resnet50", name), os.path.join(d, name))
    write_variable(os.path.join(out, "resnet50_extra"), "extra_var_weights", ok)

    with open(os.path.join(out, "yt8m_py2.pkl"), "wb") as f:
        f.write(py2_pickle(yt8m_records()))


if __name__ == "__main__":
    main(sys.argv[1])
