"""Reference TSN (ResNet-50) logits from torchvision for the C++ parity test.

TSN (spec §6.5) = ResNet trunk per segment -> global average pool -> mean over T -> fc.
torchvision's resnet50 with the same weights gives the per-frame features (everything up to and
including avgpool) and the classifier (its fc).

Usage: /usr/bin/python3 tsn_reference.py OUT_DIR
  weights.pt  torchvision resnet50(num_classes=10).state_dict() with randomised BN statistics
  io.pt       {"input": [2, 3, 3, 112, 112] float32, "logits": [2, 10] float32}
  tsn_weights.pt  the same weights under TSN names (backbone.*, fc.*), input.pt  the input alone
"""
import sys

import torch
import torchvision

torch.set_num_threads(2)
torch.manual_seed(2019)
out = sys.argv[1]
N, T, H, W, CLASSES = 2, 3, 112, 112, 10

model = torchvision.models.resnet50(num_classes=CLASSES)
bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
with torch.no_grad():
    # Non-trivial eval-mode BN that still keeps activations at a sane scale: random affine,
    # running statistics calibrated on random images (cumulative average), then perturbed.
    for m in bns:
        m.weight.uniform_(0.8, 1.2)
        m.bias.normal_(0.0, 0.05)
        m.reset_running_stats()
        m.momentum = None
    model.train()
    model(torch.randn(8, 3, H, W))
    for m in bns:
        m.momentum = 0.1
        m.running_mean.add_(torch.randn_like(m.running_mean) * 0.1 * m.running_var.sqrt())
        m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
        m.num_batches_tracked.fill_(100)
    model.fc.weight.normal_(0.0, 0.05)
    model.fc.bias.normal_(0.0, 0.1)
model.eval()

x = torch.randn(N, T, 3, H, W)
with torch.no_grad():
    frames = x.reshape(N * T, 3, H, W)                      # [N*T, 3, H, W]
    trunk = torch.nn.Sequential(*list(model.children())[:-1])  # up to avgpool
    feats = trunk(frames).flatten(1)                        # [N*T, 2048]
    feats = feats.reshape(N, T, -1).mean(1)                 # [N, 2048]
    logits = model.fc(feats)                                # [N, CLASSES]

torch.save(model.state_dict(), f"{out}/weights.pt")
torch.save({"input": x, "logits": logits}, f"{out}/io.pt")

# The same network under TSN's own names, and the input alone, for build/bin/run_model.
tsn = {("backbone." + k if not k.startswith("fc.") else k): v for k, v in model.state_dict().items()}
torch.save(tsn, f"{out}/tsn_weights.pt")
torch.save(x, f"{out}/input.pt")
