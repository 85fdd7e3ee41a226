"""Independent PyTorch StNet (spec §6.7) for the C++ parity test (stnet_parity_test.cpp).

Written from the spec, not from models/stnet: torchvision's resnet50 (conv1 widened to
3*seglen input channels) is the trunk; the temporal blocks and the temporal Xception block are
plain tensor algebra (explicit zero padding along T, per-tap einsums for conv3d (3,1,1) and the
depthwise [3,1] convs, einsums for the 1x1 convs, batch norm written out).

  temporal block (after res3 and res4): [N*T, C, H, W] -> [N, C, T, H, W] -> conv3d (3,1,1)
      pad (1,0,0) + bias -> ReLU -> BN -> + input -> [N*T, C, H, W]
  head: res5 -> global avg pool [N*T, 2048] -> [N, 2048, T] -> xception_bn ->
      main: depthwise [3,1] (att_conv) -> 1x1 2048->1024 (att_2) -> BN+ReLU (bndw) ->
            depthwise [3,1] (att1) -> 1x1 (att1_2);  shortcut: 1x1 2048->1024 (dw) on bn's output
      sum -> BN (bn2) -> ReLU -> max over T -> fc

Usage: /usr/bin/python3 stnet_reference.py OUT_DIR
  stnet_weights.pt  every tensor under videocls StNet names (backbone.*, temporal_res{3,4}.*,
                    xception.*, fc.*), plain dict
  input.pt          the input [2, 3, 9, 64, 64] (N=2 videos, T=3 segments, seglen 3)
  io.pt             {"input" (float32), "logits" [2, 10], and the temporal blocks' and
                    Xception block's inputs / outputs: "t3_in", "t3_out", "t4_in", "t4_out",
                    "x_in", "x_out"}; all but "input" computed in float64 from the float32
                    weights and input; plus "logits32", the same network run in float32 (its
                    distance to "logits" is the float32 rounding noise of this random ResNet-50)

build_model(num_classes, mode) (for tools/peers/benchmark_model_peer.py) builds the same network
at the original's size as an nn.Module with standard layers (nn.Conv3d temporal blocks, grouped
nn.Conv2d Xception convs, nn.BatchNorm*): ResNet-50, seglen 5, segments read from the input
(train seg_num 7 at 224, test 25 at 256). The parity path (main()) keeps the explicit algebra.
"""
import sys

import torch
import torchvision

N, T, SEGLEN, H, W, CLASSES = 2, 3, 3, 64, 64, 10
EPS = 1e-5


# ---- parameters ---------------------------------------------------------------------------
def make_trunk(classes, seglen):
    trunk = torchvision.models.resnet50(num_classes=classes)
    trunk.conv1 = torch.nn.Conv2d(3 * seglen, 64, kernel_size=7, stride=2, padding=3, bias=False)
    torch.nn.init.kaiming_normal_(trunk.conv1.weight, mode="fan_out", nonlinearity="relu")
    return trunk


def msra_uniform(shape, fan_in):
    limit = (6.0 / fan_in) ** 0.5
    return torch.empty(shape).uniform_(-limit, limit)


def bn_params(c):
    return {"weight": torch.empty(c).uniform_(0.8, 1.2), "bias": torch.randn(c) * 0.05,
            "running_mean": torch.zeros(c), "running_var": torch.ones(c)}


def temporal_params(c):
    return {"w": msra_uniform((c, c, 3, 1, 1), 3 * c), "b": torch.randn(c) * 0.05,
            "bn": bn_params(c)}


def make_params(classes):
    return {
        "t3": temporal_params(512),
        "t4": temporal_params(1024),
        "x": {
            "bn": bn_params(2048),
            "att_conv": (msra_uniform((2048, 1, 3, 1), 3), torch.randn(2048) * 0.05),
            "att_2": (msra_uniform((1024, 2048, 1, 1), 2048), torch.randn(1024) * 0.05),
            "bndw": bn_params(1024),
            "att1": (msra_uniform((1024, 1, 3, 1), 3), torch.randn(1024) * 0.05),
            "att1_2": (msra_uniform((1024, 1024, 1, 1), 1024), torch.randn(1024) * 0.05),
            "dw": (msra_uniform((1024, 2048, 1, 1), 2048), torch.randn(1024) * 0.05),
            "bn2": bn_params(1024),
        },
        "fc": (torch.randn(classes, 1024) * 0.05, torch.randn(classes) * 0.1),
    }


# ---- the operations -------------------------------------------------------------------------
def batch_norm(x, p, calibrate):
    """x [N, C, ...]; eval: running statistics. calibrate: batch statistics, which also become
    the running statistics (unbiased variance, as torch keeps)."""
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    if calibrate:
        mean = x.mean(dims)
        var = x.var(dims, unbiased=False)
        p["running_mean"] = mean.detach().clone()
        p["running_var"] = x.var(dims, unbiased=True).detach().clone()
    else:
        mean, var = p["running_mean"], p["running_var"]
    return ((x - mean.view(shape)) / torch.sqrt(var.view(shape) + EPS) * p["weight"].view(shape)
            + p["bias"].view(shape))


def pad_t(x, dim):
    """Zero padding of one step at both ends of axis `dim`."""
    z = torch.zeros_like(x.narrow(dim, 0, 1))
    return torch.cat([z, x, z], dim)


def temporal_block(x, p, calibrate, segments):
    nt, c, h, w = x.shape
    y = x.reshape(nt // segments, segments, c, h, w).permute(0, 2, 1, 3, 4)  # [N, C, T, H, W]
    yp = pad_t(y, 2)                                           # [N, C, T+2, H, W]
    z = p["b"].view(1, -1, 1, 1, 1).expand_as(y).clone()
    for k in range(3):
        z = z + torch.einsum("oc,ncthw->nothw", p["w"][:, :, k, 0, 0], yp[:, :, k:k + segments])
    z = batch_norm(torch.relu(z), p["bn"], calibrate) + y      # [N, C, T, H, W]
    return z.permute(0, 2, 1, 3, 4).reshape(nt, c, h, w)       # [N*T, C, H, W]


def depthwise_t(x, wb):
    """x [N, C, T]; weight [C, 1, 3, 1] along T, groups C."""
    w, b = wb
    xp = pad_t(x, 2)
    return sum(w[:, 0, k, 0].view(1, -1, 1) * xp[:, :, k:k + x.shape[2]] for k in range(3)) \
        + b.view(1, -1, 1)


def pointwise(x, wb):
    """x [N, C, T]; weight [O, C, 1, 1]."""
    w, b = wb
    return torch.einsum("oc,nct->not", w[:, :, 0, 0], x) + b.view(1, -1, 1)


def xception(x, p, calibrate):
    """x [N, 2048, T] -> [N, 1024, T]."""
    b = batch_norm(x, p["bn"], calibrate)
    main = pointwise(depthwise_t(b, p["att_conv"]), p["att_2"])
    main = torch.relu(batch_norm(main, p["bndw"], calibrate))
    main = pointwise(depthwise_t(main, p["att1"]), p["att1_2"])
    return torch.relu(batch_norm(main + pointwise(b, p["dw"]), p["bn2"], calibrate))


def stnet(trunk, P, clips, calibrate=False, taps=None):
    """clips [N, T, 3*seglen, H, W]; trunk: the torchvision ResNet-50, P: make_params' dict."""
    n, segments = clips.shape[0], clips.shape[1]
    x = clips.reshape(n * segments, clips.shape[2], clips.shape[3], clips.shape[4])
    x = trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(x))))
    x = trunk.layer2(trunk.layer1(x))
    if taps is not None:
        taps["t3_in"] = x
    x = temporal_block(x, P["t3"], calibrate, segments)
    if taps is not None:
        taps["t3_out"] = x
    x = trunk.layer3(x)
    if taps is not None:
        taps["t4_in"] = x
    x = temporal_block(x, P["t4"], calibrate, segments)
    if taps is not None:
        taps["t4_out"] = x
    x = trunk.avgpool(trunk.layer4(x)).flatten(1)           # [N*T, 2048]
    x = x.reshape(n, segments, 2048).permute(0, 2, 1)       # [N, 2048, T]
    if taps is not None:
        taps["x_in"] = x.unsqueeze(-1)                      # [N, 2048, T, 1]
    x = xception(x, P["x"], calibrate)                      # [N, 1024, T]
    if taps is not None:
        taps["x_out"] = x.unsqueeze(-1)
    x = x.amax(2)                                           # [N, 1024] (max over T)
    return x @ P["fc"][0].t() + P["fc"][1]                  # [N, CLASSES]


# ---- the same network as an nn.Module, for the benchmark peer --------------------------------
def msra_uniform_(conv):
    """Fluid's MSRA(uniform) weight (limit sqrt(6 / fan_in)), bias 0 (spec §6.7)."""
    fan_in = conv.weight[0].numel()
    with torch.no_grad():
        conv.weight.uniform_(-(6.0 / fan_in) ** 0.5, (6.0 / fan_in) ** 0.5)
        conv.bias.zero_()


class TemporalBlock(torch.nn.Module):
    """temporal_block with standard layers: conv3d (3,1,1) pad (1,0,0) + bias -> ReLU -> BN ->
    + input."""

    def __init__(self, c):
        super().__init__()
        self.conv = torch.nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0), bias=True)
        self.bn = torch.nn.BatchNorm3d(c, eps=EPS)
        msra_uniform_(self.conv)

    def forward(self, x, segments):
        nt, c, h, w = x.shape
        y = x.reshape(nt // segments, segments, c, h, w).permute(0, 2, 1, 3, 4)  # [N, C, T, H, W]
        z = self.bn(torch.relu(self.conv(y))) + y                                 # [N, C, T, H, W]
        return z.permute(0, 2, 1, 3, 4).reshape(nt, c, h, w)                      # [N*T, C, H, W]


class Xception(torch.nn.Module):
    """xception with standard layers: the depthwise convs as grouped nn.Conv2d [3,1] on
    [N, C, T, 1]."""

    def __init__(self, f=2048):
        super().__init__()
        h = f // 2

        def conv(i, o, k, groups):
            c = torch.nn.Conv2d(i, o, (k, 1), padding=((k - 1) // 2, 0), groups=groups, bias=True)
            msra_uniform_(c)
            return c

        self.bn = torch.nn.BatchNorm2d(f, eps=EPS)
        self.att_conv = conv(f, f, 3, f)
        self.att_2 = conv(f, h, 1, 1)
        self.bndw = torch.nn.BatchNorm2d(h, eps=EPS)
        self.att1 = conv(h, h, 3, h)
        self.att1_2 = conv(h, h, 1, 1)
        self.dw = conv(f, h, 1, 1)
        self.bn2 = torch.nn.BatchNorm2d(h, eps=EPS)

    def forward(self, x):
        b = self.bn(x)                                                  # [N, F, T, 1]
        main = self.att_2(self.att_conv(b))                             # [N, F/2, T, 1]
        main = self.att1_2(self.att1(torch.relu(self.bndw(main))))      # [N, F/2, T, 1]
        return torch.relu(self.bn2(main + self.dw(b)))                  # [N, F/2, T, 1]


class StNet(torch.nn.Module):
    """StNet-ResNet-50 (spec §6.7): [N, T, 3*seglen, H, W] -> logits [N, num_classes]; the
    segment count T is read from the input (as models/stnet)."""

    def __init__(self, num_classes=400, seglen=5):
        super().__init__()
        self.seglen = seglen
        self.backbone = make_trunk(1000, seglen)
        self.backbone.fc = torch.nn.Identity()
        self.temporal_res3 = TemporalBlock(512)
        self.temporal_res4 = TemporalBlock(1024)
        self.xception = Xception(2048)
        self.fc = torch.nn.Linear(1024, num_classes)
        bound = 1.0 / 2048 ** 0.5  # the original's Uniform(±1/sqrt(2048)), bias 0
        with torch.no_grad():
            self.fc.weight.uniform_(-bound, bound)
            self.fc.bias.zero_()

    def forward(self, clips):
        n, segments = clips.shape[0], clips.shape[1]
        t = self.backbone
        x = clips.reshape(n * segments, clips.shape[2], clips.shape[3], clips.shape[4])
        x = t.maxpool(t.relu(t.bn1(t.conv1(x))))                # [N*T, 64, H/4, W/4]
        x = t.layer2(t.layer1(x))                               # [N*T, 512, H/8, W/8]
        x = self.temporal_res3(x, segments)                     # [N*T, 512, H/8, W/8]
        x = t.layer3(x)                                         # [N*T, 1024, H/16, W/16]
        x = self.temporal_res4(x, segments)                     # [N*T, 1024, H/16, W/16]
        x = t.avgpool(t.layer4(x)).flatten(1)                   # [N*T, 2048]
        x = x.reshape(n, segments, 2048).permute(0, 2, 1)       # [N, 2048, T]
        x = self.xception(x.unsqueeze(-1))                      # [N, 1024, T, 1]
        x = x.flatten(2).amax(2)                                # [N, 1024] (max over T)
        return self.fc(x)                                       # [N, num_classes]


def build_model(num_classes, mode):
    """For tools/peers/benchmark_model_peer.py: StNet-ResNet-50 at the original's size, seglen 5.
    The segment count (train 7, test 25) is the input's axis 1, so the module is the same for
    both modes."""
    if mode not in ("train", "test"):
        raise ValueError(f"stnet_reference.build_model: mode must be train or test, got {mode!r}")
    return StNet(num_classes=num_classes, seglen=5)


def main():
    torch.set_num_threads(2)
    torch.manual_seed(2019)
    out = sys.argv[1]
    trunk = make_trunk(CLASSES, SEGLEN)
    P = make_params(CLASSES)

    # ---- non-trivial eval-mode BN: calibrate on random clips, then perturb -------------------
    bns = [m for m in trunk.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.uniform_(0.8, 1.2)
            m.bias.normal_(0.0, 0.05)
            m.reset_running_stats()
            m.momentum = None
        trunk.train()
        stnet(trunk, P, torch.randn(4, T, 3 * SEGLEN, H, W), calibrate=True)
        trunk.eval()
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(torch.randn_like(m.running_mean) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
            m.num_batches_tracked.fill_(100)
        ours_bns = [P["t3"]["bn"], P["t4"]["bn"]] + [P["x"][k] for k in ("bn", "bndw", "bn2")]
        for p in ours_bns:
            # Channels that a few random clips leave (almost) constant after a ReLU would get a
            # near-zero variance and amplify rounding noise ~100x; a trained network has none.
            var = p["running_var"]
            var = torch.maximum(var, 0.1 * var.median())
            p["running_mean"] = p["running_mean"] + torch.randn_like(p["running_mean"]) * 0.1 * \
                var.sqrt()
            p["running_var"] = var * torch.empty_like(var).uniform_(0.8, 1.25)
        for m in bns:
            m.running_var.copy_(torch.maximum(m.running_var, 0.1 * m.running_var.median()))

        x = torch.randn(N, T, 3 * SEGLEN, H, W)

        # The expected values in float64 from the same float32 weights and input: the C++ side
        # runs in float32 (< 1e-4) and in float64 (< 1e-8), so rounding noise of either side
        # cannot hide or fake a mismatch.
        def to_double(obj):
            if isinstance(obj, dict):
                return {k: to_double(v) for k, v in obj.items()}
            if isinstance(obj, tuple):
                return tuple(to_double(v) for v in obj)
            return obj.double()

        logits32 = stnet(trunk, P, x)  # the reference's own float32 run: float32 rounding
        trunk.double()
        taps = {}
        logits = stnet(trunk, to_double(P), x.double(), taps=taps)
        trunk.float()

    # ---- export under videocls names --------------------------------------------------------
    weights = {"backbone." + k: v for k, v in trunk.state_dict().items() if not k.startswith("fc.")}

    def put_bn(prefix, p):
        for k in ("weight", "bias", "running_mean", "running_var"):
            weights[prefix + "." + k] = p[k]
        weights[prefix + ".num_batches_tracked"] = torch.tensor(100)

    for name, key in (("temporal_res3", "t3"), ("temporal_res4", "t4")):
        weights[name + ".conv.weight"] = P[key]["w"]
        weights[name + ".conv.bias"] = P[key]["b"]
        put_bn(name + ".bn", P[key]["bn"])
    for layer in ("bn", "bndw", "bn2"):
        put_bn("xception." + layer, P["x"][layer])
    for layer in ("att_conv", "att_2", "att1", "att1_2", "dw"):
        weights["xception." + layer + ".weight"] = P["x"][layer][0]
        weights["xception." + layer + ".bias"] = P["x"][layer][1]
    weights["fc.weight"], weights["fc.bias"] = P["fc"]
    weights = {k: v.detach().contiguous() for k, v in weights.items()}

    torch.save(weights, f"{out}/stnet_weights.pt")
    torch.save(x, f"{out}/input.pt")
    io = {"input": x, "logits": logits, "logits32": logits32}
    io.update({k: v.contiguous() for k, v in taps.items()})
    torch.save(io, f"{out}/io.pt")
    print("stnet_reference: logits", tuple(logits.shape), "scale %.3f" % logits.abs().max().item(),
          "; float32 vs float64 max |diff| %.3g" % (logits32.double() - logits).abs().max().item())


if __name__ == "__main__":
    main()
