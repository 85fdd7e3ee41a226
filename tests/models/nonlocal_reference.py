"""Independent reference of the Non-local network (spec §6.8) for the C++ parity tests.

Written from the spec alone, in functional PyTorch over a dict of tensors named as the original's
Paddle variables (conv1_weights, bn_conv1_scale, res3b_branch2a_weights, nonlocal_conv3_1_theta_w,
pred_w, ...): C2D ResNet-50 with 5-D kernels, max-pool [1,3,3]/[1,2,2] with padding 0, temporal
max-pool [2,1,1] after res2, embedded-Gaussian non-local blocks after res3 blocks 1, 3 and res4
blocks 1, 3, 5, pool5 avg [4,7,7] stride 1, and the two heads: fc (train/valid) and the fully
convolutional test head (conv 1x1x1 `pred` per position, softmax over classes, mean over
positions). Eval mode throughout (BN running statistics, no dropout: the snapshot's semantics).

Usage: /usr/bin/python3 nonlocal_reference.py OUT_DIR
  block.pt        {"input": [2, 64, 4, 6, 6], "output": ..., "theta.weight": ..., ...} one NL block
                  (C=64, C'=32) under the C++ NonLocalBlock's names
  ours.pt         the network under videocls names (backbone.*, nonlocal.layer2_1.*, pred.*)
  paddle/         the same weights as a Fluid per-variable directory under Paddle names
                  (pred_w [2048, C] as a train checkpoint stores it) plus optimizer state
  in224.pt        [2, 3, 8, 224, 224]; out224.pt  fc-head logits [2, C]
  in256.pt        [2, 3, 8, 256, 256]; out256.pt  log(mean over positions of softmax) [2, C]

build_model(num_classes, mode) (for tools/peers/benchmark_model_peer.py) builds the network of
configs/nonlocal.yaml as models/nonlocal does, as an nn.Module (nn.Conv3d, nn.BatchNorm3d, ...):
C2D ResNet-50 on [N, 3, L, H, W], 5 non-local blocks, pool5 [4, 7, 7] (an axis smaller than the
kernel pooled whole), Fluid dropout 0.5 in training; mode "train": the fc head; mode "test": the
fully convolutional head (log of the mean over positions of the per-position softmax).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

C = 10  # classes
BLOCKS = [3, 4, 6, 3]


def block_name(stage, i):  # res{s}{x}: 2a, 2b, ...
    return f"{stage}{chr(ord('a') + i)}"


def make_params(classes):
    """-> (P: Paddle name -> tensor, OURS: Paddle name -> videocls name,
    NL: (stage, block) -> non-local Paddle prefix)."""
    P = {}
    OURS = {}

    def add_conv(name, shape, ours):
        fan_in = shape[1] * math.prod(shape[2:])
        P[name] = torch.randn(shape) * math.sqrt(2.0 / fan_in)
        OURS[name] = ours

    def add_bn(name, c, ours, gamma=(0.8, 1.2)):
        P[name + "_scale"] = torch.empty(c).uniform_(*gamma)
        P[name + "_offset"] = torch.randn(c) * 0.05
        P[name + "_mean"] = torch.zeros(c)
        P[name + "_variance"] = torch.ones(c)
        for s, o in (("scale", "weight"), ("offset", "bias"), ("mean", "running_mean"),
                     ("variance", "running_var")):
            OURS[f"{name}_{s}"] = f"{ours}.{o}"

    add_conv("conv1_weights", [64, 3, 1, 7, 7], "backbone.conv1.weight")
    add_bn("bn_conv1", 64, "backbone.bn1")
    NL = {}  # (stage, i) -> paddle prefix
    dim_in = 64
    for si, stage in enumerate([2, 3, 4, 5]):
        inner = 64 << si
        out = inner * 4
        for i in range(BLOCKS[si]):
            b = block_name(stage, i)
            ours = f"backbone.layer{si + 1}.{i}"
            add_conv(f"res{b}_branch2a_weights", [inner, dim_in, 1, 1, 1], ours + ".conv1.weight")
            add_bn(f"bn{b}_branch2a", inner, ours + ".bn1")
            add_conv(f"res{b}_branch2b_weights", [inner, inner, 1, 3, 3], ours + ".conv2.weight")
            add_bn(f"bn{b}_branch2b", inner, ours + ".bn2")
            add_conv(f"res{b}_branch2c_weights", [out, inner, 1, 1, 1], ours + ".conv3.weight")
            add_bn(f"bn{b}_branch2c", out, ours + ".bn3", gamma=(0.1, 0.3))  # keeps the scale sane
            if dim_in != out or (i == 0 and stage > 2):
                add_conv(f"res{b}_branch1_weights", [out, dim_in, 1, 1, 1],
                         ours + ".downsample.0.weight")
                add_bn(f"bn{b}_branch1", out, ours + ".downsample.1")
            dim_in = out
            if stage in (3, 4) and i % 2 == 1:
                p = f"nonlocal_conv{stage}_{i}"
                NL[(stage, i)] = p
                ci = out // 2
                on = f"nonlocal.layer{si + 1}_{i}"
                for part, shape in (("theta", [ci, out]), ("phi", [ci, out]), ("g", [ci, out]),
                                    ("out", [out, ci])):
                    P[f"{p}_{part}_w"] = torch.randn(shape + [1, 1, 1]) / math.sqrt(shape[1])
                    P[f"{p}_{part}_b"] = torch.randn(shape[0]) * 0.05
                    OURS[f"{p}_{part}_w"] = f"{on}.{part}.weight"
                    OURS[f"{p}_{part}_b"] = f"{on}.{part}.bias"
                add_bn(f"{p}_bn", out, on + ".bn", gamma=(0.1, 0.3))
    P["pred_w"] = torch.randn(2048, classes) * 0.02  # fc layout [in, out]
    P["pred_b"] = torch.randn(classes) * 0.1
    return P, OURS, NL


def bn(P, x, name, calibrate):
    return F.batch_norm(x, P[name + "_mean"], P[name + "_variance"], P[name + "_scale"],
                        P[name + "_offset"], training=calibrate, momentum=1.0, eps=1e-5)


def conv_bn(P, x, conv, bn_name, stride, pad, calibrate, relu=True):
    x = bn(P, F.conv3d(x, P[conv], None, stride, pad), bn_name, calibrate)
    return F.relu(x) if relu else x


def nonlocal_block(P, x, p, calibrate):
    n, c, t, h, w = x.shape
    theta = F.conv3d(x, P[p + "_theta_w"], P[p + "_theta_b"])          # [N, C', T, H, W]
    ci = theta.shape[1]
    pooled = F.max_pool3d(x, [1, 2, 2], [1, 2, 2])                     # [N, C, T, H/2, W/2]
    phi = F.conv3d(pooled, P[p + "_phi_w"], P[p + "_phi_b"])
    g = F.conv3d(pooled, P[p + "_g_w"], P[p + "_g_b"])
    theta = theta.reshape(n, ci, -1).transpose(1, 2)                   # [N, THW, C']
    phi = phi.reshape(n, ci, -1)                                       # [N, C', K]
    g = g.reshape(n, ci, -1)                                           # [N, C', K]
    aff = torch.matmul(theta, phi) * ci ** -0.5                        # [N, THW, K]
    aff = F.softmax(aff, dim=2)
    y = torch.matmul(g, aff.transpose(1, 2)).reshape(n, ci, t, h, w)   # [N, C', T, H, W]
    y = bn(P, F.conv3d(y, P[p + "_out_w"], P[p + "_out_b"]), p + "_bn", calibrate)
    return x + y


def trunk(P, NL, x, calibrate=False):
    x = conv_bn(P, x, "conv1_weights", "bn_conv1", [1, 2, 2], [0, 3, 3], calibrate)
    x = F.max_pool3d(x, [1, 3, 3], [1, 2, 2], 0)
    for si, stage in enumerate([2, 3, 4, 5]):
        for i in range(BLOCKS[si]):
            b = block_name(stage, i)
            s = 2 if (i == 0 and stage > 2) else 1
            y = conv_bn(P, x, f"res{b}_branch2a_weights", f"bn{b}_branch2a", 1, 0, calibrate)
            y = conv_bn(P, y, f"res{b}_branch2b_weights", f"bn{b}_branch2b", [1, s, s], [0, 1, 1],
                        calibrate)
            y = conv_bn(P, y, f"res{b}_branch2c_weights", f"bn{b}_branch2c", 1, 0, calibrate,
                        relu=False)
            if f"res{b}_branch1_weights" in P:
                sc = conv_bn(P, x, f"res{b}_branch1_weights", f"bn{b}_branch1", [1, s, s], 0,
                             calibrate, relu=False)
            else:
                sc = x
            x = F.relu(y + sc)
            if (stage, i) in NL:
                x = nonlocal_block(P, x, NL[(stage, i)], calibrate)
        if stage == 2:
            x = F.max_pool3d(x, [2, 1, 1], [2, 1, 1])
    return F.avg_pool3d(x, [4, 7, 7], 1)  # pool5


def fc_head(P, x):
    return x.flatten(1) @ P["pred_w"] + P["pred_b"]  # [N, C]


def conv_head(P, x):
    classes = P["pred_b"].shape[0]
    w = P["pred_w"].t().reshape(classes, 2048, 1, 1, 1)  # load_test_weights' transpose
    y = F.conv3d(x, w, P["pred_b"])                      # [N, C, t, h, w]
    y = y.permute(0, 2, 3, 4, 1)                         # channels last
    prob = F.softmax(y, dim=-1).reshape(x.shape[0], -1, classes).mean(1)  # [N, C]
    return prob.log()


# ---- the same network as an nn.Module, for the benchmark peer --------------------------------
def conv3d(cin, cout, k, stride=1, pad=0, bias=False):
    return torch.nn.Conv3d(cin, cout, k, stride, pad, bias=bias)


class Bottleneck3d(torch.nn.Module):
    """C2D bottleneck (temporal kernel 1): 1x1x1 -> 1x3x3 (stride [1,s,s]) -> 1x1x1, BN after each,
    shortcut conv 1x1x1 + BN when the shape changes; ReLU(branch + shortcut)."""

    def __init__(self, cin, inner, stride):
        super().__init__()
        out = inner * 4
        self.conv1, self.bn1 = conv3d(cin, inner, 1), torch.nn.BatchNorm3d(inner, eps=1e-5)
        self.conv2 = conv3d(inner, inner, (1, 3, 3), (1, stride, stride), (0, 1, 1))
        self.bn2 = torch.nn.BatchNorm3d(inner, eps=1e-5)
        self.conv3, self.bn3 = conv3d(inner, out, 1), torch.nn.BatchNorm3d(out, eps=1e-5)
        self.downsample = None
        if cin != out or stride != 1:
            self.downsample = torch.nn.Sequential(conv3d(cin, out, 1, (1, stride, stride)),
                                                  torch.nn.BatchNorm3d(out, eps=1e-5))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class NonLocalBlock(torch.nn.Module):
    """nonlocal_block with modules: embedded Gaussian, keys / values max-pooled [1,2,2]."""

    def __init__(self, c):
        super().__init__()
        ci = c // 2
        self.theta, self.phi, self.g = (conv3d(c, ci, 1, bias=True) for _ in range(3))
        self.out = conv3d(ci, c, 1, bias=True)
        self.bn = torch.nn.BatchNorm3d(c, eps=1e-5)
        for conv in (self.theta, self.phi, self.g, self.out):
            torch.nn.init.normal_(conv.weight, 0.0, 0.01)
            torch.nn.init.zeros_(conv.bias)

    def forward(self, x):
        n, c, t, h, w = x.shape
        ci = c // 2
        th = self.theta(x).reshape(n, ci, t * h * w).transpose(1, 2)  # [N, THW, C']
        kv = F.max_pool3d(x, [1, 2, 2], [1, 2, 2])                    # [N, C, T, H/2, W/2]
        ph = self.phi(kv).reshape(n, ci, -1)                           # [N, C', K]
        g = self.g(kv).reshape(n, ci, -1)                              # [N, C', K]
        aff = torch.softmax(torch.bmm(th, ph) * ci ** -0.5, -1)        # [N, THW, K]
        y = torch.bmm(g, aff.transpose(1, 2)).reshape(n, ci, t, h, w)  # [N, C', T, H, W]
        return x + self.bn(self.out(y))                                # [N, C, T, H, W]


class Nonlocal(torch.nn.Module):
    """Non-local C2D ResNet-50 (spec §6.8, configs/nonlocal.yaml): [N, 3, L, H, W] -> [N, C], under
    the videocls names (backbone.*, nonlocal.layer2_1.*, pred.*: main()'s ours.pt loads as is).
    fully_conv_head False: fc `pred` (needs pool5 to leave one position); True: the test head,
    log(mean over positions of softmax(pred))."""

    def __init__(self, num_classes=400, fully_conv_head=False, dropout=0.5, pool_kernel=(4, 7, 7)):
        super().__init__()
        self.fully_conv_head = fully_conv_head
        self.dropout = dropout
        self.pool_kernel = pool_kernel
        self.backbone = torch.nn.Module()
        self.backbone.conv1 = conv3d(3, 64, (1, 7, 7), (1, 2, 2), (0, 3, 3))
        self.backbone.bn1 = torch.nn.BatchNorm3d(64, eps=1e-5)
        blocks = torch.nn.ModuleDict()
        self.after = {}  # (stage index, block) -> key in self.nonlocal
        cin = 64
        for si, stage in enumerate([2, 3, 4, 5]):
            inner = 64 << si
            layer = torch.nn.Sequential()
            for i in range(BLOCKS[si]):
                layer.append(Bottleneck3d(cin, inner, 2 if (i == 0 and si > 0) else 1))
                cin = inner * 4
                if stage in (3, 4) and i % 2 == 1:  # layer_mod 2
                    self.after[(si, i)] = f"layer{si + 1}_{i}"
                    blocks[f"layer{si + 1}_{i}"] = NonLocalBlock(cin)
            self.backbone.add_module(f"layer{si + 1}", layer)
        self.add_module("nonlocal", blocks)  # a Python keyword: no attribute syntax
        self.pred = torch.nn.Linear(2048, num_classes)
        torch.nn.init.normal_(self.pred.weight, 0.0, 0.01)
        torch.nn.init.zeros_(self.pred.bias)

    def forward(self, video):
        t, blocks = self.backbone, self._modules["nonlocal"]
        x = torch.relu(t.bn1(t.conv1(video)))                 # [N, 64, L, H/2, W/2]
        x = F.max_pool3d(x, [1, 3, 3], [1, 2, 2], 0)          # [N, 64, L, H1, W1]
        for si, layer in enumerate((t.layer1, t.layer2, t.layer3, t.layer4)):
            for i, block in enumerate(layer):
                x = block(x)                                  # [N, C_s, T_s, H_s, W_s]
                if (si, i) in self.after:
                    x = blocks[self.after[(si, i)]](x)        # [N, C_s, T_s, H_s, W_s]
            if si == 0:
                x = F.max_pool3d(x, [2, 1, 1], [2, 1, 1])     # [N, 256, L/2, H1, W1]
        # pool5; an axis smaller than the kernel is pooled whole (as models/nonlocal)
        k = [min(p, s) for p, s in zip(self.pool_kernel, x.shape[2:])]
        x = F.avg_pool3d(x, k, 1)                             # [N, 2048, t, h, w]
        n = x.shape[0]
        if self.training and self.dropout > 0:  # Fluid dropout: 0/1 mask, no rescaling
            x = x * (torch.rand_like(x) >= self.dropout).to(x.dtype)
        x = x.reshape(n, 2048, -1).transpose(1, 2)            # [N, P, 2048]
        if not self.fully_conv_head:
            if x.shape[1] != 1:
                raise ValueError(f"Non-local fc head: pool5 left {x.shape[1]} positions")
            return self.pred(x[:, 0])                         # [N, C]
        logp = torch.log_softmax(self.pred(x), -1)            # [N, P, C]
        return torch.logsumexp(logp, 1) - math.log(x.shape[1])  # [N, C] log(mean_p softmax)


def build_model(num_classes, mode):
    """For tools/peers/benchmark_model_peer.py: configs/nonlocal.yaml's network as the C++ row
    builds it: C2D ResNet-50, pool5 [video_length/2, 7, 7] = [4, 7, 7], dropout 0.5; mode
    "train": fc head, "test": the fully convolutional head."""
    if mode not in ("train", "test"):
        raise ValueError(
            f"nonlocal_reference.build_model: mode must be train or test, got {mode!r}")
    return Nonlocal(num_classes=num_classes, fully_conv_head=(mode == "test"))


def main():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import write_paddle_weights as pw

    torch.set_num_threads(2)
    torch.manual_seed(8)
    OUT = sys.argv[1]
    P, OURS, NL = make_params(C)

    with torch.no_grad():
        # Eval BN with statistics calibrated on one batch (so activations stay sane), then
        # perturbed.
        trunk(P, NL, torch.randn(2, 3, 8, 224, 224), calibrate=True)
        for k in list(P):
            if k.endswith("_variance"):
                P[k].mul_(torch.empty_like(P[k]).uniform_(0.8, 1.25))
            elif k.endswith("_mean"):
                P[k].add_(torch.randn_like(P[k]) * 0.1 * P[k[:-5] + "_variance"].sqrt())

        # One non-local block alone (C = 64, C' = 32) under the C++ NonLocalBlock's names.
        blk = {}
        for part, shape in (("theta", [32, 64]), ("phi", [32, 64]), ("g", [32, 64]),
                            ("out", [64, 32])):
            P[f"blk_{part}_w"] = torch.randn(shape + [1, 1, 1]) / math.sqrt(shape[1])
            P[f"blk_{part}_b"] = torch.randn(shape[0]) * 0.05
            blk[f"{part}.weight"] = P[f"blk_{part}_w"]
            blk[f"{part}.bias"] = P[f"blk_{part}_b"]
        P["blk_bn_scale"] = torch.empty(64).uniform_(0.5, 1.5)
        P["blk_bn_offset"] = torch.randn(64) * 0.1
        P["blk_bn_mean"] = torch.randn(64) * 0.1
        P["blk_bn_variance"] = torch.empty(64).uniform_(0.5, 2.0)
        for s, o in (("scale", "weight"), ("offset", "bias"), ("mean", "running_mean"),
                     ("variance", "running_var")):
            blk[f"bn.{o}"] = P[f"blk_bn_{s}"]
        blk["bn.num_batches_tracked"] = torch.tensor(0)
        xb = torch.randn(2, 64, 4, 6, 6)
        blk["input"] = xb
        blk["output"] = nonlocal_block(P, xb, "blk", False)
        torch.save(blk, f"{OUT}/block.pt")
        for k in [k for k in P if k.startswith("blk_")]:
            del P[k]

        x224 = torch.randn(2, 3, 8, 224, 224)
        f224 = trunk(P, NL, x224)
        x256 = torch.randn(2, 3, 8, 256, 256)
        f256 = trunk(P, NL, x256)
        # Random weights leave the features at an arbitrary scale: scale pred so that the logits
        # are O(1) (a saturated softmax would make the test head's log-probabilities -inf).
        P["pred_w"] *= 2.0 / fc_head(P, f224).abs().max()
        out224 = fc_head(P, f224)
        assert tuple(f256.shape) == (2, 2048, 1, 2, 2), f256.shape
        out256 = conv_head(P, f256)

    ours = {}
    for k, v in P.items():
        if k in OURS:
            ours[OURS[k]] = v.clone()
            if OURS[k].endswith(".running_var"):
                ours[OURS[k][: -len("running_var")] + "num_batches_tracked"] = torch.tensor(0)
    ours["pred.weight"] = P["pred_w"].t().contiguous()
    ours["pred.bias"] = P["pred_b"].clone()
    torch.save(ours, f"{OUT}/ours.pt")

    paddle = {k: v.numpy() for k, v in P.items()}
    paddle["pred_w_velocity_0"] = paddle["pred_w"] * 0  # optimizer state, to be ignored
    paddle["learning_rate"] = torch.tensor([0.01]).numpy()
    os.makedirs(f"{OUT}/paddle", exist_ok=True)
    pw.write_dir(f"{OUT}/paddle", paddle)

    torch.save(x224, f"{OUT}/in224.pt")
    torch.save(out224, f"{OUT}/out224.pt")
    torch.save(x256, f"{OUT}/in256.pt")
    torch.save(out256, f"{OUT}/out256.pt")
    print("nonlocal_reference: logits scale", out224.abs().max().item(), out256.abs().max().item())


if __name__ == "__main__":
    main()
