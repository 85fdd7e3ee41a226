"""Independent PyTorch NeXtVLAD (spec §6.3) for the C++ parity test (nextvlad_parity_test.cpp).

Written from the spec, not from models/nextvlad, with the original's LoD semantics: a batch is a
list of unpadded videos; frame-level layers run on the concatenation of all real frames
[sum T, ...] (so the frame-level batch norm's training statistics are those of the real frames)
and the sums over frames are per-video segment sums. Batch norm is written out (Fluid: batch
mean / biased variance to normalise in training, running = 0.9 running + 0.1 batch (the
running variance takes the unbiased batch variance, as cuDNN's path), eps 1e-5). fc weights are
kept in Fluid's [in, out] layout (y = x W + b) and saved transposed under the videocls names.

  input processing: rgb = (x*4/255 - 2) * e, e = sqrt(eigenvals[:1024]) + 1e-4;
                    audio = x*4/255 - 2 + 4/512   (x = raw 0..255 values)
  unit (F, K, lambda, G): x~ = x W_e + b_e; alpha = sigmoid(x~ W_g + b_g) [T, G];
    A = softmax_K(BN(x~ W1).reshape(T, G, K)) * alpha; a_sum[k] = sum_t sum_g A;
    vlad[k, :] = sum_t sum_g A[t, g, k] x~[t, g*F':(g+1)*F'] - a_sum[k] W2[k, :];
    transpose [F', K], L2-normalise over F', flatten f'*K + k, BN
  head: concat -> dropout (x (1 - p) at inference) -> hidden fc (no bias) -> BN ->
    gates = sigmoid(relu(BN(h Wg1)) Wg2) -> (h * gates) W_clf + b_clf

Usage: /usr/bin/python3 nextvlad_reference.py OUT_DIR
  weights.pt  plain dict under the videocls names (float32 values, BN running stats random)
  io.pt       {"rgb" [4, 9, 1024], "audio" [4, 9, 128] raw 0..255 values (float32) padded with
               garbage after each video's length, "mask" [4, 9], "lengths" [4] = 9, 4, 6, 1;
               "logits" [4, 20] float64: eval mode, each video run alone unpadded;
               "train_logits" [4, 20] float64: train mode (dropout 0) on the whole LoD batch;
               "train_video_cluster_bn_running_mean" / "_var" and the audio ones: the running
               statistics after that train step}
  paddle/     the weights of weights.pt as a Fluid per-variable directory under the original's
              names and layouts (spec §6.3, §7): eigen_param, {video,audio}_fc_expansion_{w,b},
              _fc_group_attention_{w,b} (fc weights [in, out]), _cluster_weights,
              _cluster_weights2, batch_norm_0..5 .w_0/.b_0/.w_1/.w_2 (scale, bias, mean,
              variance; creation order: video cluster, video vlad, audio cluster, audio vlad,
              hidden, gating), hidden1_fc_weights, gating_fc{1,2}_weights, logits_clf_weights,
              logits_clf_bias; plus Adam state (logits_clf_weights_moment1_0), learning_rate and
              @LR_DECAY_COUNTER@, which a loader must ignore
  input.pt    {"rgb", "audio", "mask", "lengths"} of io.pt, for build/bin/run_model --input
  expected.pt {"logits": [4, 20] float64}: io.pt's eval logits
  config.yaml the MODEL keys of these sizes (K 16, hidden 64, 20 classes; eigen_file none: the
              multiplier comes from the directory's eigen_param) for run_model
"""
import math
import os
import sys

import torch

EPS = 1e-5


def msra_normal(shape, fan_in):
    return torch.randn(shape) * math.sqrt(2.0 / fan_in)


class BN(torch.nn.Module):
    """Fluid batch_norm on [M, C] rows, written out."""

    def __init__(self, c, randomize):
        super().__init__()
        self.w = P(torch.empty(c).uniform_(0.8, 1.2) if randomize else torch.ones(c))
        self.b = P(torch.randn(c) * 0.1 if randomize else torch.zeros(c))
        self.register_buffer("mean", torch.randn(c) * 0.1 if randomize else torch.zeros(c))
        self.register_buffer("var", torch.empty(c).uniform_(0.5, 2.0) if randomize
                             else torch.ones(c))

    def forward(self, x):
        if self.training:
            mu = x.mean(0)
            var = ((x - mu) ** 2).mean(0)
            with torch.no_grad():
                unbiased = var * x.shape[0] / (x.shape[0] - 1)
                self.mean.copy_(0.9 * self.mean + 0.1 * mu)
                self.var.copy_(0.9 * self.var + 0.1 * unbiased)
        else:
            mu, var = self.mean, self.var
        return (x - mu) / torch.sqrt(var + EPS) * self.w + self.b

    def state(self, prefix):
        return {prefix + ".weight": self.w, prefix + ".bias": self.b,
                prefix + ".running_mean": self.mean, prefix + ".running_var": self.var,
                prefix + ".num_batches_tracked": torch.tensor(0, dtype=torch.long)}


def P(t):
    return torch.nn.Parameter(t)


class Unit(torch.nn.Module):
    def __init__(self, feat, K, lam, G, randomize_bn):
        super().__init__()
        self.F, self.K, self.G = feat, K, G
        self.Fp = lam * feat // G
        self.we = P(msra_normal((feat, lam * feat), feat))
        self.be = P(torch.zeros(lam * feat))
        self.wg = P(msra_normal((lam * feat, G), lam * feat))
        self.bg = P(torch.zeros(G))
        self.w1 = P(msra_normal((lam * feat, G * K), lam * feat))
        self.w2 = P(msra_normal((K, self.Fp), K))
        self.bn1 = BN(G * K, randomize_bn)
        self.bn2 = BN(K * self.Fp, randomize_bn)

    def forward(self, videos):
        """videos: list of [T_i, F] -> [N, F'*K]."""
        lengths = [v.shape[0] for v in videos]
        x = torch.cat(videos, 0)                                       # [sum T, F]
        xt = x @ self.we + self.be                                     # [sum T, lam F]
        alpha = torch.sigmoid(xt @ self.wg + self.bg)                  # [sum T, G]
        act = self.bn1(xt @ self.w1)                                   # [sum T, G K]
        act = torch.softmax(act.reshape(-1, self.G, self.K), dim=2)    # [sum T, G, K]
        act = act * alpha.unsqueeze(2)
        outs, start = [], 0
        for n in lengths:
            A = act[start:start + n]                                   # [T, G, K]
            xg = xt[start:start + n].reshape(n, self.G, self.Fp)       # [T, G, F']
            start += n
            a_sum = A.sum((0, 1))                                      # [K]
            vlad = torch.einsum("tgk,tgf->kf", A, xg) - a_sum.unsqueeze(1) * self.w2
            vlad = vlad.t()                                            # [F', K]
            vlad = vlad / torch.sqrt((vlad ** 2).sum(0, keepdim=True) + 1e-12)
            outs.append(vlad.reshape(-1))                              # f'*K + k
        return self.bn2(torch.stack(outs))


class NextVlad(torch.nn.Module):
    def __init__(self, num_classes, K=128, lam=2, G=8, hidden=2048, reduction=8, drop=0.5,
                 randomize_bn=False, eigen=None):
        super().__init__()
        self.drop = drop
        self.register_buffer("eigen", eigen if eigen is not None else torch.ones(1024))
        self.video = Unit(1024, K, lam, G, randomize_bn)
        self.audio = Unit(128, K, lam, G, randomize_bn)
        width = K * (self.video.Fp + self.audio.Fp)
        self.wh = P(msra_normal((width, hidden), width))
        self.bn_h = BN(hidden, randomize_bn)
        self.wg1 = P(msra_normal((hidden, hidden // reduction), hidden))
        self.bn_g = BN(hidden // reduction, randomize_bn)
        self.wg2 = P(msra_normal((hidden // reduction, hidden), hidden // reduction))
        self.wc = P(msra_normal((hidden, num_classes), hidden))
        self.bc = P(torch.randn(num_classes) * 0.1 if randomize_bn else torch.zeros(num_classes))

    def forward(self, rgbs, audios=None):
        """rgbs / audios: lists of raw [T_i, 1024] / [T_i, 128] -> logits [N, C]. Also takes a
        single tensor [N, T, 1152] (rgb | audio, all frames real) for tools/peers."""
        if audios is None:
            audios = list(rgbs[:, :, 1024:])
            rgbs = list(rgbs[:, :, :1024])
        s = 4.0 / 255.0
        v = self.video([(r * s - 2.0) * self.eigen for r in rgbs])
        a = self.audio([x * s - 2.0 + 4.0 / 512.0 for x in audios])
        x = torch.cat([v, a], 1)
        if self.training:
            x = x * (torch.rand_like(x) >= self.drop).to(x.dtype)
        else:
            x = x * (1.0 - self.drop)
        h = self.bn_h(x @ self.wh)
        g = torch.relu(self.bn_g(h @ self.wg1))
        g = torch.sigmoid(g @ self.wg2)
        return (h * g) @ self.wc + self.bc

    def videocls_state_dict(self):
        sd = {"eigen_param": self.eigen}
        for name, u in (("video", self.video), ("audio", self.audio)):
            sd[name + ".fc_expansion.weight"] = u.we.t()
            sd[name + ".fc_expansion.bias"] = u.be
            sd[name + ".fc_group_attention.weight"] = u.wg.t()
            sd[name + ".fc_group_attention.bias"] = u.bg
            sd[name + ".cluster_weights"] = u.w1
            sd[name + ".cluster_weights2"] = u.w2
            sd.update(u.bn1.state(name + ".cluster_bn"))
            sd.update(u.bn2.state(name + ".vlad_bn"))
        sd["hidden1_fc.weight"] = self.wh.t()
        sd.update(self.bn_h.state("hidden1_bn"))
        sd["gating_fc1.weight"] = self.wg1.t()
        sd.update(self.bn_g.state("gating_bn"))
        sd["gating_fc2.weight"] = self.wg2.t()
        sd["logits_clf.weight"] = self.wc.t()
        sd["logits_clf.bias"] = self.bc
        return {k: (v.float() if v.is_floating_point() else v).detach().contiguous().clone()
                for k, v in sd.items()}

    def paddle_state_dict(self):
        """The weights under the original's Paddle variable names (spec §6.3, §7) in Fluid's
        layouts (fc weights [in, out], as kept here); float32 numpy arrays."""
        sd = {"eigen_param": self.eigen}                                # [1024]
        for p, u in (("video_", self.video), ("audio_", self.audio)):
            sd[p + "fc_expansion_w"] = u.we                             # [F, lam F]
            sd[p + "fc_expansion_b"] = u.be
            sd[p + "fc_group_attention_w"] = u.wg                       # [lam F, G]
            sd[p + "fc_group_attention_b"] = u.bg
            sd[p + "cluster_weights"] = u.w1                            # [lam F, G K]
            sd[p + "cluster_weights2"] = u.w2                           # [K, F']
        # The six batch norms are auto-named in creation order (spec §6.3).
        bns = (self.video.bn1, self.video.bn2, self.audio.bn1, self.audio.bn2, self.bn_h,
               self.bn_g)
        for i, bn in enumerate(bns):
            p = "batch_norm_%d" % i
            sd[p + ".w_0"], sd[p + ".b_0"] = bn.w, bn.b                 # scale, bias
            sd[p + ".w_1"], sd[p + ".w_2"] = bn.mean, bn.var            # moving mean, variance
        sd["hidden1_fc_weights"] = self.wh                              # [K (F'v + F'a), hidden]
        sd["gating_fc1_weights"] = self.wg1                             # [hidden, hidden / r]
        sd["gating_fc2_weights"] = self.wg2                             # [hidden / r, hidden]
        sd["logits_clf_weights"] = self.wc                              # [hidden, classes]
        sd["logits_clf_bias"] = self.bc
        return {k: v.detach().float().contiguous().clone().numpy() for k, v in sd.items()}


def build_model(num_classes, mode):
    """The original's network (K 128, lambda 2, G 8, hidden 2048, reduction 8, dropout 0.5);
    mode "train" or anything else (eval). forward takes lists of unpadded raw videos, or one
    tensor [N, T, 1152] (rgb | audio)."""
    m = NextVlad(num_classes)
    m.train(mode == "train")
    return m


if __name__ == "__main__":
    out = sys.argv[1]
    torch.manual_seed(2019)
    torch.set_num_threads(2)
    CLASSES, LENGTHS, TMAX = 20, [9, 4, 6, 1], 9
    N = len(LENGTHS)
    eigen = torch.sqrt(torch.rand(1024) * 20.0) + 1e-4
    cfg = dict(K=16, lam=2, G=8, hidden=64, reduction=8)
    net = NextVlad(CLASSES, randomize_bn=True, eigen=eigen, **cfg)
    net.eval()
    weights = net.videocls_state_dict()
    paddle = net.paddle_state_dict()  # the same values, before the train step below
    rgb = torch.randint(0, 256, (N, TMAX, 1024)).float()
    audio = torch.randint(0, 256, (N, TMAX, 128)).float()
    mask = torch.zeros(N, TMAX)
    for i, n in enumerate(LENGTHS):
        mask[i, :n] = 1
        rgb[i, n:] = torch.randn(TMAX - n, 1024) * 300      # garbage padding
        audio[i, n:] = torch.randn(TMAX - n, 128) * 300
    net = net.double()
    rgbs = [rgb[i, :n].double() for i, n in enumerate(LENGTHS)]
    auds = [audio[i, :n].double() for i, n in enumerate(LENGTHS)]
    with torch.no_grad():
        logits = torch.cat([net([r], [a]) for r, a in zip(rgbs, auds)])  # one by one
        net.drop = 0.0
        net.train()
        train_logits = net(rgbs, auds)                                    # the LoD batch
    io = {"rgb": rgb, "audio": audio, "mask": mask,
          "lengths": torch.tensor(LENGTHS, dtype=torch.long), "logits": logits,
          "train_logits": train_logits}
    for name, u in (("video", net.video), ("audio", net.audio)):
        io["train_%s_cluster_bn_running_mean" % name] = u.bn1.mean.clone()
        io["train_%s_cluster_bn_running_var" % name] = u.bn1.var.clone()
    torch.save(weights, out + "/weights.pt")
    torch.save(io, out + "/io.pt")
    # The same weights as the original's Fluid directory, for run_model --weights DIR.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import numpy as np  # noqa: E402
    import write_paddle_weights as pw  # noqa: E402
    paddle["logits_clf_weights_moment1_0"] = paddle["logits_clf_weights"] * 0  # Adam, ignored
    paddle["learning_rate"] = np.array([2e-4], dtype=np.float32)
    paddle["@LR_DECAY_COUNTER@"] = np.array([12345], dtype=np.int64)
    pw.write_dir(out + "/paddle", paddle)
    torch.save({k: io[k] for k in ("rgb", "audio", "mask", "lengths")}, out + "/input.pt")
    torch.save({"logits": logits}, out + "/expected.pt")
    with open(out + "/config.yaml", "w") as f:
        f.write("MODEL:\n  name: NEXTVLAD\n  num_classes: %d\n  cluster_size: %d\n"
                "  expansion: %d\n  groups: %d\n  hidden_size: %d\n  gating_reduction: %d\n"
                "  eigen_file: none\n" % (CLASSES, cfg["K"], cfg["lam"], cfg["G"], cfg["hidden"],
                                           cfg["reduction"]))
    print("nextvlad_reference: logits", tuple(logits.shape), "written to", out)
