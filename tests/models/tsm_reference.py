"""Independent PyTorch reference of TSM for the C++ parity and weight-import tests.

Written from the semantics of the official PyTorch TSM (mit-han-lab/temporal-shift-module,
ops/temporal_shift.py + ops/models.py): torchvision's resnet50 with each Bottleneck's conv1
wrapped by a TemporalShift module (`make_temporal_shift(net, T, n_div=8, place='blockres')`),
base_model.fc replaced by Dropout, per-frame `new_fc`, then the average consensus over T.
The shift itself is written here as an explicit per-frame loop, not with videocls's slicing:

- torch direction (official, mmaction2): fold = C // 8; channels [0, fold) take frame t+1,
  [fold, 2 fold) take frame t-1, zeros at the clip ends.
- paddle direction (Fluid temporal_shift, spec §1.14): c1 = int(C/8), c2 = int(2C/8); channels
  [0, c1) take t-1, [c1, c2) take t+1. The Paddle network also uses Fluid's dropout, which
  scales the features by (1 - p) at inference (spec §1.1), p = 0.5.

Usage: /usr/bin/python3 tsm_reference.py OUT_DIR
Writes (N=2 videos, T=4 frames, 112x112, 10 classes, eval mode):
  input.pt               the clips [2, 4, 3, 112, 112]
  expected.pt            {"torch": logits [2, 10], "paddle": logits, "tsn": logits (no shift,
                         no dropout: TSN on the same trunk)}
  official_tsm.pth.tar   the torch-direction network as the official main.py saves it:
                         {"epoch", "arch", "state_dict": DataParallel keys "module.base_model.*",
                         "module.new_fc.*" (an OrderedDict), "optimizer", "best_prec1"}
  mmaction2_tsm.pth      mmaction2 ResNetTSM + TSMHead keys ("backbone.conv1.conv.weight",
                         "backbone.layer1.0.conv1.conv.net.weight", "cls_head.fc_cls.*") under
                         "state_dict", with "meta"
  mmaction2_tsn.pth      mmaction2 ResNet + TSNHead keys ("backbone.layer1.0.conv1.conv.weight")
  tsm_weights.pt         the same weights under videocls's names (backbone.*, fc.*)
"""
import collections
import sys

import torch
import torchvision

N, T, H, W, CLASSES, P = 2, 4, 112, 112, 10, 0.5


def shift_naive(x, n_segment, direction):
    """[N*T, C, H, W] -> shifted, one frame and one channel range at a time."""
    nt, c, h, w = x.shape
    v = x.view(nt // n_segment, n_segment, c, h, w)
    outv = torch.zeros_like(v)
    if direction == "torch":
        fold = c // 8
        from_next, from_prev = (0, fold), (fold, 2 * fold)
    else:
        c1, c2 = int(c * 0.125), int(2 * c * 0.125)
        from_prev, from_next = (0, c1), (c1, c2)
    for t in range(n_segment):
        outv[:, t] = v[:, t]
        a, b = from_prev
        outv[:, t, a:b] = v[:, t - 1, a:b] if t > 0 else 0.0
        a, b = from_next
        outv[:, t, a:b] = v[:, t + 1, a:b] if t + 1 < n_segment else 0.0
    return outv.view(nt, c, h, w)


def shift_sliced(x, n_segment, direction):
    """The official ops/temporal_shift.py `shift` (slices into one zeroed buffer), same result as
    shift_naive; the benchmark peer uses it so that Python is timed with its fast shift."""
    nt, c, h, w = x.shape
    v = x.view(nt // n_segment, n_segment, c, h, w)
    fold = c // 8
    out = torch.zeros_like(v)
    if direction == "torch":
        out[:, :-1, :fold] = v[:, 1:, :fold]  # from t+1
        out[:, 1:, fold:2 * fold] = v[:, :-1, fold:2 * fold]  # from t-1
    else:
        out[:, 1:, :fold] = v[:, :-1, :fold]  # from t-1
        out[:, :-1, fold:2 * fold] = v[:, 1:, fold:2 * fold]  # from t+1
    out[:, :, 2 * fold:] = v[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


class TemporalShift(torch.nn.Module):
    """The official module's interface: wraps `net` (a block's conv1), shifts its input."""

    def __init__(self, net, n_segment, direction, shift=shift_naive):
        super().__init__()
        self.net = net
        self.n_segment = n_segment
        self.direction = direction
        self.enabled = True
        self.shift = shift

    def forward(self, x):
        if self.enabled:
            x = self.shift(x, self.n_segment, self.direction)
        return self.net(x)


class TSN(torch.nn.Module):
    """ops/models.py's TSN for RGB ResNet with is_shift=True, dropout > 0."""

    def __init__(self, n_segment=T, num_classes=CLASSES, shift=shift_naive):
        super().__init__()
        self.n_segment = n_segment
        self.base_model = torchvision.models.resnet50()
        for layer in [self.base_model.layer1, self.base_model.layer2, self.base_model.layer3,
                      self.base_model.layer4]:
            for b in layer.children():  # place='blockres', n_round = 1 for ResNet-50
                b.conv1 = TemporalShift(b.conv1, n_segment, "torch", shift)
        self.base_model.fc = torch.nn.Dropout(p=P)
        self.new_fc = torch.nn.Linear(2048, num_classes)

    def set_shift(self, enabled, direction="torch"):
        for m in self.modules():
            if isinstance(m, TemporalShift):
                m.enabled = enabled
                m.direction = direction

    def forward(self, x, feature_scale=1.0):
        base_out = self.base_model(x.view((-1, 3) + x.size()[-2:]))  # [N*T, 2048]
        base_out = self.new_fc(base_out * feature_scale)              # [N*T, CLASSES]
        return base_out.view((-1, self.n_segment) + base_out.size()[1:]).mean(1)  # [N, CLASSES]


def build_model(num_classes, mode):
    """For tools/peers/benchmark_model_peer.py: TSM-ResNet-50 at the original's segment counts
    (train 8, test 8), the official sliced shift in the original's (paddle) direction."""
    model = TSN(n_segment=8, num_classes=num_classes, shift=shift_sliced)
    model.set_shift(True, "paddle")
    return model


def main():
    torch.set_num_threads(2)
    torch.manual_seed(2020)
    out = sys.argv[1]
    model = TSN()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        # Non-trivial eval-mode BN at a sane activation scale (as tsn_reference.py): random affine,
        # running statistics calibrated on random clips, then perturbed.
        for m in bns:
            m.weight.uniform_(0.8, 1.2)
            m.bias.normal_(0.0, 0.05)
            m.reset_running_stats()
            m.momentum = None
        model.train()
        model(torch.randn(2, T, 3, H, W))
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(torch.randn_like(m.running_mean) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
            m.num_batches_tracked.fill_(100)
        model.new_fc.weight.normal_(0.0, 0.05)
        model.new_fc.bias.normal_(0.0, 0.1)
    model.eval()

    x = torch.randn(N, T, 3, H, W)
    with torch.no_grad():
        model.set_shift(True, "torch")
        torch_logits = model(x)  # eval: torch dropout is the identity
        model.set_shift(True, "paddle")
        paddle_logits = model(x, feature_scale=1.0 - P)  # Fluid dropout at inference: x (1 - p)
        model.set_shift(False)
        tsn_logits = model(x)
        model.set_shift(True, "torch")
    torch.save(x, f"{out}/input.pt")
    torch.save({"torch": torch_logits, "paddle": paddle_logits, "tsn": tsn_logits},
               f"{out}/expected.pt")

    sd = model.state_dict()  # base_model.*, base_model.layerK.i.conv1.net.weight, new_fc.*

    # 1. The official checkpoint: DataParallel ("module.") keys in an OrderedDict, plus the rest of
    #    what main.py's save_checkpoint writes.
    official = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch.save({"epoch": 50, "arch": "resnet50", "state_dict": official,
                "optimizer": opt.state_dict(), "best_prec1": 71.2}, f"{out}/official_tsm.pth.tar")

    # 2. mmaction2: ConvModule names (conv + bn), ResNetTSM wraps conv1.conv with the shift.
    def mmaction2_key(k, shifted):
        k = k.replace("base_model.", "backbone.", 1)
        if k.startswith("backbone.conv1."):
            return k.replace("conv1.", "conv1.conv.")
        if k.startswith("backbone.bn1."):
            return k.replace("bn1.", "conv1.bn.")
        if k.startswith("new_fc."):
            return k.replace("new_fc.", "cls_head.fc_cls.")
        parts = k.split(".")  # backbone layerK i name ...
        head, name, rest = parts[:3], parts[3], parts[4:]
        if name == "conv1" and rest[0] == "net":
            return ".".join(head + (["conv1", "conv", "net"] if shifted else ["conv1", "conv"]) +
                            rest[1:])
        if name in ("conv2", "conv3"):
            return ".".join(head + [name, "conv"] + rest)
        if name.startswith("bn"):
            return ".".join(head + ["conv" + name[2:], "bn"] + rest)
        if name == "downsample":
            return ".".join(head + ["downsample", "conv" if rest[0] == "0" else "bn"] + rest[1:])
        raise ValueError(k)

    meta = {"mmaction2_version": "1.2.0", "epoch": 50, "iter": 94000, "seed": 0,
            "exp_name": "tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb",
            "dataset_meta": {"classes": [f"c{i}" for i in range(CLASSES)]}}
    for shifted, name in [(True, "mmaction2_tsm.pth"), (False, "mmaction2_tsn.pth")]:
        sd_mm = collections.OrderedDict((mmaction2_key(k, shifted), v) for k, v in sd.items())
        torch.save({"meta": meta, "state_dict": sd_mm}, f"{out}/{name}")

    # 3. videocls names.
    def ours(k):
        if k.startswith("new_fc."):
            return k.replace("new_fc.", "fc.")
        return k.replace("base_model.", "backbone.", 1).replace(".conv1.net.", ".conv1.")

    torch.save({ours(k): v for k, v in sd.items()}, f"{out}/tsm_weights.pt")
    print("tsm_reference: logits torch", tuple(torch_logits.shape), "max",
          torch_logits.abs().max().item(), "| paddle-direction vs torch-direction max diff",
          (paddle_logits - torch_logits).abs().max().item())


if __name__ == "__main__":
    main()
