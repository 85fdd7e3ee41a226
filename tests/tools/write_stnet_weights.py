"""Writes Paddle Fluid StNet weight directories (spec §6.7, §7) for stnet_weights_test.cpp.

Usage: /usr/bin/python3 write_stnet_weights.py OUT_DIR      (needs numpy only)

Uses the LoDTensor writer of write_paddle_weights.py. Fixtures (random float32, ResNet-18 trunk
with seglen 2, 5 classes, so small; the names are those the original's construction order gives):
  stnet18/        conv1_weights [64, 6, 7, 7] and the rest of Paddle's ResNet-18 names;
                  conv3d_0.{w_0 [128,128,3,1,1], b_0}, conv3d_1.{w_0 [256,256,3,1,1], b_0};
                  batch_norm_10 / batch_norm_16 .{w_0,b_0,w_1,w_2} (the global BN counter after
                  the trunk's 10 / 10+1+5 BN layers); xception_{bn,bndw,bn2}.{w_0,b_0,w_1,w_2},
                  xception_{att_conv,att_2,att1,att1_2,dw}.{w_0,b_0} (F = 512 -> 256);
                  fc_0.w_0 [256, 5], fc_0.b_0; plus optimizer state (velocity, learning_rate,
                  @LR_DECAY_COUNTER@) as save_persistables writes it
  stnet18_bn01/   the same with the temporal BNs named batch_norm_0 / batch_norm_1 (spec §10)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from write_paddle_weights import paddle_resnet_params, write_dir  # noqa: E402

SEGLEN, CLASSES, F = 2, 5, 512


def stnet18_params(bn_ids):
    params = [(n, s) for n, s in paddle_resnet_params(18, CLASSES, in_channels=3 * SEGLEN)
              if not n.startswith("fc_0")]
    for k, (c, bn) in enumerate(((F // 4, bn_ids[0]), (F // 2, bn_ids[1]))):
        params.append(("conv3d_%d.w_0" % k, (c, c, 3, 1, 1)))
        params.append(("conv3d_%d.b_0" % k, (c,)))
        for v in ("w_0", "b_0", "w_1", "w_2"):
            params.append(("batch_norm_%d.%s" % (bn, v), (c,)))
    h = F // 2
    convs = {"att_conv": (F, 1, 3, 1), "att_2": (h, F, 1, 1), "att1": (h, 1, 3, 1),
             "att1_2": (h, h, 1, 1), "dw": (h, F, 1, 1)}
    for name, shape in convs.items():
        params.append(("xception_%s.w_0" % name, shape))
        params.append(("xception_%s.b_0" % name, (shape[0],)))
    for name, c in (("bn", F), ("bndw", h), ("bn2", h)):
        for v in ("w_0", "b_0", "w_1", "w_2"):
            params.append(("xception_%s.%s" % (name, v), (c,)))
    params.append(("fc_0.w_0", (h, CLASSES)))
    params.append(("fc_0.b_0", (CLASSES,)))
    return params


def main(out):
    for sub, bn_ids, seed in (("stnet18", (10, 16), 7), ("stnet18_bn01", (0, 1), 8)):
        rng = np.random.default_rng(seed)
        arrays = {n: rng.standard_normal(s, dtype=np.float32) for n, s in stnet18_params(bn_ids)}
        for n in arrays:  # variances positive, as a real checkpoint's
            if n.endswith("_variance") or (n.startswith(("batch_norm", "xception_b"))
                                           and n.endswith(".w_2")):
                arrays[n] = np.abs(arrays[n]) + 0.5
        arrays["conv3d_0.w_0_velocity_0"] = np.zeros((F // 4, F // 4, 3, 1, 1), np.float32)
        arrays["learning_rate"] = np.array([0.01], dtype=np.float32)
        arrays["@LR_DECAY_COUNTER@"] = np.array([1756], dtype=np.int64)
        write_dir(os.path.join(out, sub), arrays)


if __name__ == "__main__":
    main(sys.argv[1])
