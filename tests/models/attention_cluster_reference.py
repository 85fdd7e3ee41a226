"""Independent PyTorch Attention Cluster (spec §6.1) for the C++ parity test
(attention_cluster_parity_test.cpp).

Written from the spec, not from models/attention_cluster: the shifting attention's scores are
the spec's 1x1 conv2d over the frames viewed as [N, F, L, 1]; softmax over L; per cluster the
attention-weighted frame sum, shifted by scalar w_c, b_c, L2-normalised over F with
x / sqrt(sum(x^2) + 1e-12) (Fluid l2_normalize), divided by sqrt(C); clusters concatenated
cluster-major; rgb then audio -> dropout (Fluid downgrade_in_infer: x (1 - p) at inference) ->
fc 1024 tanh -> fc 4096 tanh -> logits. fc weights are kept in Fluid's [in, out] layout here
(y = x W + b) and saved transposed under the videocls names.

Usage: /usr/bin/python3 attention_cluster_reference.py OUT_DIR
  weights.pt  plain dict, videocls names (satt0.conv.weight, satt0.shift_w, fc1.weight [out,
              in], ...), float32 values
  io.pt       {"rgb" [3, 100, 1024], "audio" [3, 100, 128] (dequantized float32),
               "logits" [3, 20] float64 (computed in float64 from the float32 values),
               "logits_masked" [3, 20] float64: the same batch where video 1 has only its first
               37 frames and video 2 its first 60 (the rest of each padded with garbage; the
               reference runs each of them alone on its real frames), "mask" [3, 100]}
  paddle/     the same weights as a Fluid per-variable directory under the original's names and
              layouts (spec §6.1, §7: satt{0,1}.conv.weight [C, F, 1, 1], .conv.bias,
              .shift_w, .shift_b; fc1 / fc2 / logistic .weights [in, out], .bias), plus Adam
              state (logistic.weights_moment1_0) and the constant LR (learning_rate_0), which
              a loader must ignore
  input.pt    {"rgb" [3, 100, 1024], "audio" [3, 100, 128], "mask" [3, 100]}: the masked batch
              of io.pt (rgb_padded, audio_padded) for build/bin/run_model --input
  expected.pt {"logits": [3, 20] float64}: io.pt's logits_masked
  config.yaml the MODEL keys of these sizes (cluster_nums [8, 4], 20 classes) for run_model
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

DEQ_SCALE = 4.0 / 255.0
DEQ_BIAS = 4.0 / 512.0 - 2.0


def msra(shape, fan_in, uniform):
    if uniform:
        limit = math.sqrt(6.0 / fan_in)
        return torch.empty(shape).uniform_(-limit, limit)
    return torch.randn(shape) * math.sqrt(2.0 / fan_in)


class ShiftingAttention(torch.nn.Module):
    def __init__(self, feat, clusters):
        super().__init__()
        self.C = clusters
        self.conv_w = torch.nn.Parameter(msra((clusters, feat, 1, 1), feat, False))
        self.conv_b = torch.nn.Parameter(msra((clusters,), clusters, True))
        std = math.sqrt(1.0 / math.sqrt(clusters))
        self.shift_w = torch.nn.Parameter(torch.randn(clusters) * std)
        self.shift_b = torch.nn.Parameter(torch.randn(clusters) * std)

    def forward(self, x):  # x [N, L, F]
        n, length, feat = x.shape
        img = x.transpose(1, 2).reshape(n, feat, length, 1)           # [N, F, L, 1]
        score = F.conv2d(img, self.conv_w, self.conv_b).squeeze(3)    # [N, C, L]
        att = torch.softmax(score, dim=2)
        outs = []
        for c in range(self.C):
            v = (att[:, c, :].unsqueeze(2) * x).sum(1)                # [N, F]
            v = v * self.shift_w[c] + self.shift_b[c]
            v = v / torch.sqrt((v * v).sum(1, keepdim=True) + 1e-12)
            outs.append(v / math.sqrt(self.C))
        return torch.cat(outs, 1)                                     # [N, C*F]


class AttentionCluster(torch.nn.Module):
    def __init__(self, num_classes, clusters=(32, 32), dims=(1024, 128), drop=0.5):
        super().__init__()
        self.drop = drop
        self.satt = torch.nn.ModuleList(
            [ShiftingAttention(d, c) for d, c in zip(dims, clusters)])
        width = sum(d * c for d, c in zip(dims, clusters))
        self.fc1_w = torch.nn.Parameter(msra((width, 1024), width, False))
        self.fc1_b = torch.nn.Parameter(msra((1024,), 1024, True))
        self.fc2_w = torch.nn.Parameter(msra((1024, 4096), 1024, False))
        self.fc2_b = torch.nn.Parameter(msra((4096,), 4096, True))
        self.lg_w = torch.nn.Parameter(msra((4096, num_classes), 4096, False))
        self.lg_b = torch.nn.Parameter(msra((num_classes,), num_classes, False))

    def forward(self, rgb, audio=None):
        """rgb [N, L, 1024], audio [N, L, 128]; or one tensor [N, L, 1152] (rgb | audio) for
        tools/peers."""
        if audio is None:
            rgb, audio = rgb[:, :, :1024], rgb[:, :, 1024:]
        x = torch.cat([self.satt[0](rgb), self.satt[1](audio)], 1)
        if self.training:
            x = x * (torch.rand_like(x) >= self.drop).to(x.dtype)    # no rescaling
        else:
            x = x * (1.0 - self.drop)
        x = torch.tanh(x @ self.fc1_w + self.fc1_b)
        x = torch.tanh(x @ self.fc2_w + self.fc2_b)
        return x @ self.lg_w + self.lg_b

    def videocls_state_dict(self):
        sd = {}
        for i, s in enumerate(self.satt):
            sd["satt%d.conv.weight" % i] = s.conv_w
            sd["satt%d.conv.bias" % i] = s.conv_b
            sd["satt%d.shift_w" % i] = s.shift_w
            sd["satt%d.shift_b" % i] = s.shift_b
        for ours, w, b in (("fc1", self.fc1_w, self.fc1_b), ("fc2", self.fc2_w, self.fc2_b),
                           ("logistic", self.lg_w, self.lg_b)):
            sd[ours + ".weight"] = w.t()
            sd[ours + ".bias"] = b
        return {k: v.detach().contiguous().clone() for k, v in sd.items()}

    def paddle_state_dict(self):
        """The weights under the original's Paddle variable names (spec §6.1, §7), Fluid
        layouts: the 1x1 conv as conv2d stores it [C, F, 1, 1], fc weights [in, out]; float32
        numpy arrays."""
        sd = {}
        for i, s in enumerate(self.satt):
            sd["satt%d.conv.weight" % i] = s.conv_w                     # [C, F, 1, 1]
            sd["satt%d.conv.bias" % i] = s.conv_b                       # [C]
            sd["satt%d.shift_w" % i] = s.shift_w                        # [C]
            sd["satt%d.shift_b" % i] = s.shift_b                        # [C]
        for name, w, b in (("fc1", self.fc1_w, self.fc1_b), ("fc2", self.fc2_w, self.fc2_b),
                           ("logistic", self.lg_w, self.lg_b)):
            sd[name + ".weights"] = w                                   # [in, out]
            sd[name + ".bias"] = b                                      # [out]
        return {k: v.detach().float().contiguous().clone().numpy() for k, v in sd.items()}


def build_model(num_classes, mode):
    """The original's network (cluster_nums [32, 32], feature_dims [1024, 128]); mode "train"
    or anything else (eval)."""
    m = AttentionCluster(num_classes)
    m.train(mode == "train")
    return m


if __name__ == "__main__":
    out = sys.argv[1]
    torch.manual_seed(2019)
    torch.set_num_threads(2)
    N, L, CLASSES = 3, 100, 20
    model = AttentionCluster(CLASSES, clusters=(8, 4))
    model.eval()
    rgb = torch.randint(0, 256, (N, L, 1024)).float() * DEQ_SCALE + DEQ_BIAS
    audio = torch.randint(0, 256, (N, L, 128)).float() * DEQ_SCALE + DEQ_BIAS
    lengths = [L, 37, 60]
    mask = torch.zeros(N, L)
    rgb_p, audio_p = rgb.clone(), audio.clone()
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        rgb_p[i, n:] = torch.randn(L - n, 1024) * 50   # garbage padding
        audio_p[i, n:] = torch.randn(L - n, 128) * 50
    m64 = AttentionCluster(CLASSES, clusters=(8, 4))
    m64.load_state_dict(model.state_dict())
    m64 = m64.double().eval()
    with torch.no_grad():
        logits = m64(rgb.double(), audio.double())
        masked = torch.cat([m64(rgb[i:i + 1, :n].double(), audio[i:i + 1, :n].double())
                            for i, n in enumerate(lengths)])
    torch.save(model.videocls_state_dict(), out + "/weights.pt")
    torch.save({"rgb": rgb, "audio": audio, "logits": logits, "rgb_padded": rgb_p,
                "audio_padded": audio_p, "mask": mask, "logits_masked": masked},
               out + "/io.pt")
    # The same weights as the original's Fluid directory, for run_model --weights DIR.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import numpy as np  # noqa: E402
    import write_paddle_weights as pw  # noqa: E402
    paddle = model.paddle_state_dict()
    paddle["logistic.weights_moment1_0"] = paddle["logistic.weights"] * 0  # Adam, to be ignored
    paddle["learning_rate_0"] = np.array([0.001], dtype=np.float32)  # constant LR (spec §1.8)
    pw.write_dir(out + "/paddle", paddle)
    torch.save({"rgb": rgb_p, "audio": audio_p, "mask": mask}, out + "/input.pt")
    torch.save({"logits": masked}, out + "/expected.pt")
    with open(out + "/config.yaml", "w") as f:
        f.write("MODEL:\n  name: AttentionCluster\n  num_classes: %d\n  cluster_nums: [8, 4]\n"
                "  feature_dims: [1024, 128]\n  seg_num: %d\n" % (CLASSES, L))
    print("attention_cluster_reference: logits", logits.shape, "written to", out)
