"""Independent PyTorch reference of Attention LSTM, written from spec §6.2 and §1.12 (not from
the C++): parameters in Fluid's layout and names (fc_k.w_0 [in, out], lstm_k.w_0 [H, 4H] with
gate blocks [c~, i, f, o], lstm_k.b_0 [1, 7H] = gate biases + peepholes w_ic, w_fc, w_oc), and
every video processed UNPADDED over its own frames, one at a time (Fluid's LoD semantics), so a
padded, masked implementation is checked against a computation that never saw padding.

Usage: /usr/bin/python3 attention_lstm_reference.py OUT_DIR

Writes under OUT_DIR (small sizes: embedding 32, LSTM 24, head 64 / 48, 20 classes; the real
feature widths 1024 / 128):
  weights.pt      the weights under videocls names (plain dict; fc weights [out, in])
  paddle/         the same weights as a Fluid per-variable directory under the original's auto
                  names (fc_0..fc_10, lstm_0..lstm_3) plus optimizer state to be ignored
  input.pt        {"rgb" [5, 12, 1024], "audio" [5, 12, 128], "mask" [5, 12], "lengths" [5]}:
                  lengths 12, 3, 7, 1, 9; the padded frames hold large random values (never read)
  fixed.pt        {"rgb" [3, 5, 1024], "audio" [3, 5, 128]}: no mask, every frame real
  expected.pt     {"padded": logits [5, 20] (eval, Fluid dropout x0.5), "padded_upscale":
                  logits [5, 20] (eval, inverted dropout = identity), "fixed": logits [3, 20]}
  config.yaml     the MODEL keys of these sizes for run_model

build_model(num_classes, mode) gives the full-size network (embedding 512, LSTM 1024, head 8192 /
4096) with the original's initialisation, for tools/peers/benchmark_model_peer.py; its forward
takes (rgb [N, T, 1024], audio [N, T, 128], lengths [N] or None) or one tensor [N, T, 1152]
(rgb and audio concatenated on the last axis); without lengths the batch runs as a whole.
"""
import math
import os
import sys

import torch


def sigmoid_ce(logits, labels):
    """Fluid's sigmoid_cross_entropy_with_logits (spec §1.11), element-wise."""
    return logits.clamp(min=0) - logits * labels + torch.log1p(torch.exp(-logits.abs()))


def xavier(shape):
    """Fluid's default weight init (spec §1.3): U(+-sqrt(6 / (fan_in + fan_out))), [in, out]."""
    limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return torch.empty(shape).uniform_(-limit, limit)


def dynamic_lstm(gates_x, w, b, reverse):
    """Fluid's lstm op over sequences of one common length: gates_x [N, T, 4H] (the input
    projections), w [H, 4H], b [1, 7H] -> hidden [N, T, H]. Zero initial state; reverse runs
    from the last step to the first, outputs at the original positions."""
    n, t, four_h = gates_x.shape
    h_size = four_h // 4
    b_gates, w_ic, w_fc, w_oc = b[0, :four_h], b[0, 4 * h_size:5 * h_size], \
        b[0, 5 * h_size:6 * h_size], b[0, 6 * h_size:]
    h = gates_x.new_zeros(n, h_size)
    c = gates_x.new_zeros(n, h_size)
    out = [None] * t
    for step in (range(t - 1, -1, -1) if reverse else range(t)):
        a = gates_x[:, step] + h @ w + b_gates
        a_c, a_i, a_f, a_o = a[:, :h_size], a[:, h_size:2 * h_size], \
            a[:, 2 * h_size:3 * h_size], a[:, 3 * h_size:]
        cand = torch.tanh(a_c)
        i = torch.sigmoid(a_i + w_ic * c)
        f = torch.sigmoid(a_f + w_fc * c)
        c = cand * i + c * f
        o = torch.sigmoid(a_o + w_oc * c)
        h = o * torch.tanh(c)
        out[step] = h
    return torch.stack(out, 1)


class Reference(torch.nn.Module):
    """Parameters under the original's names ("fc_0.w_0" -> attribute "fc_0__w_0")."""

    def __init__(self, num_classes, dims=(1024, 128), embedding=512, lstm=1024, fc1=8192,
                 fc2=4096, drop_rate=0.5):
        super().__init__()
        self.dims, self.e, self.h = dims, embedding, lstm
        self.drop_rate = drop_rate
        self.dropout_scale = 1.0 - drop_rate  # Fluid's downgrade_in_infer at inference
        self.shapes = {}
        fc = 0
        for m, d in enumerate(dims):
            # creation order of lstm_attention.py: input fc, forward fc, lstm, backward fc,
            # lstm, attention fc
            self._fc(fc, d, embedding)
            self._fc(fc + 1, embedding, 4 * lstm)
            self._lstm(2 * m, lstm)
            self._fc(fc + 2, embedding, 4 * lstm)
            self._lstm(2 * m + 1, lstm)
            self._fc(fc + 3, 2 * lstm, 1)
            fc += 4
        self._fc(fc, 2 * lstm * len(dims), fc1)
        self._fc(fc + 1, fc1, fc2)
        self._fc(fc + 2, fc2, num_classes)
        self.num_fc = fc + 3

    def _add(self, name, tensor):
        self.register_parameter(name.replace(".", "__"), torch.nn.Parameter(tensor))
        self.shapes[name] = tuple(tensor.shape)

    def _fc(self, k, i, o):
        self._add(f"fc_{k}.w_0", xavier((i, o)))
        self._add(f"fc_{k}.b_0", torch.zeros(o))

    def _lstm(self, k, h):
        self._add(f"lstm_{k}.w_0", xavier((h, 4 * h)))
        self._add(f"lstm_{k}.b_0", torch.zeros(1, 7 * h))

    def p(self, name):
        return getattr(self, name.replace(".", "__"))

    def fc(self, k, x):
        return x @ self.p(f"fc_{k}.w_0") + self.p(f"fc_{k}.b_0")

    def dropout(self, x):
        if self.training:  # Fluid: 0/1 mask, no rescaling
            return x * torch.empty_like(x).bernoulli_(1.0 - self.drop_rate)
        return x * self.dropout_scale

    def branch(self, m, x):
        """One modality over videos of one common length: x [N, T, d] -> [N, 2H]."""
        fc, lstm = 4 * m, 2 * m
        e = torch.tanh(self.fc(fc, x))                                       # [N, T, E]
        fwd = dynamic_lstm(self.fc(fc + 1, e), self.p(f"lstm_{lstm}.w_0"),
                           self.p(f"lstm_{lstm}.b_0"), reverse=False)        # [N, T, H]
        bwd = dynamic_lstm(self.fc(fc + 2, e), self.p(f"lstm_{lstm + 1}.w_0"),
                           self.p(f"lstm_{lstm + 1}.b_0"), reverse=True)     # [N, T, H]
        hs = self.dropout(torch.cat([fwd, bwd], 2))                          # [N, T, 2H]
        alpha = torch.softmax(self.fc(fc + 3, hs)[:, :, 0], 1)              # [N, T]
        return (alpha[:, :, None] * hs).sum(1)                               # [N, 2H]

    def head(self, pooled):
        x = torch.relu(self.fc(self.num_fc - 3, pooled))
        x = torch.tanh(self.fc(self.num_fc - 2, x))
        return self.fc(self.num_fc - 1, x)

    def forward(self, rgb, audio=None, lengths=None):
        if audio is None:  # one tensor [N, T, 1024 + 128]
            rgb, audio = rgb[..., :self.dims[0]], rgb[..., self.dims[0]:]
        feats = [rgb, audio]
        if lengths is None:
            return self.head(torch.cat([self.branch(m, x) for m, x in enumerate(feats)], 1))
        rows = []
        for v in range(rgb.shape[0]):  # each video alone, over its own frames only
            length = int(lengths[v])
            rows.append(self.head(torch.cat(
                [self.branch(m, x[v:v + 1, :length]) for m, x in enumerate(feats)], 1)))
        return torch.cat(rows, 0)


def build_model(num_classes, mode):
    """The full-size network of spec §6.2 (mode "train" or "test" share every option)."""
    del mode
    return Reference(num_classes)


def ours_state_dict(ref):
    """The reference's weights under videocls names (fc weights transposed to [out, in])."""
    out = {}
    branch = ["input_fc", "lstm_forward_fc", "lstm_backward_fc", "attention_fc"]
    for m, name in enumerate(["rgb", "audio"]):
        for j, sub in enumerate(branch):
            k = 4 * m + j
            out[f"{name}.{sub}.weight"] = ref.p(f"fc_{k}.w_0").detach().t().contiguous()
            out[f"{name}.{sub}.bias"] = ref.p(f"fc_{k}.b_0").detach().clone()
        for j, sub in enumerate(["lstm_forward", "lstm_backward"]):
            out[f"{name}.{sub}.weight"] = ref.p(f"lstm_{2 * m + j}.w_0").detach().clone()
            out[f"{name}.{sub}.bias"] = ref.p(f"lstm_{2 * m + j}.b_0").detach().clone()
    for j, sub in enumerate(["fc1", "fc2", "logit"]):
        k = ref.num_fc - 3 + j
        out[f"{sub}.weight"] = ref.p(f"fc_{k}.w_0").detach().t().contiguous()
        out[f"{sub}.bias"] = ref.p(f"fc_{k}.b_0").detach().clone()
    return out


def main(out_dir):
    torch.manual_seed(9)
    torch.set_num_threads(2)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import write_paddle_weights as pw  # noqa: E402

    num_classes = 20
    ref = Reference(num_classes, embedding=32, lstm=24, fc1=64, fc2=48)
    with torch.no_grad():  # non-zero biases and peepholes, so that every layout is exercised
        for name in ref.shapes:
            p = ref.p(name)
            if name.endswith(".b_0"):
                p.uniform_(-0.5, 0.5)
            else:
                p.mul_(1.5)
    ref.eval()

    # Padded batch: lengths 12, 3, 7, 1, 9 of T = 12; padding = large garbage, never read.
    lengths = torch.tensor([12, 3, 7, 1, 9])
    n, t = len(lengths), 12
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    rgb = torch.randint(0, 256, (n, t, 1024)).float() * (4 / 255) + (4 / 512 - 2)
    audio = torch.randint(0, 256, (n, t, 128)).float() * (4 / 255) + (4 / 512 - 2)
    pad = (1 - mask)[:, :, None]
    rgb = rgb * mask[:, :, None] + pad * 100 * torch.randn(n, t, 1024)
    audio = audio * mask[:, :, None] + pad * 100 * torch.randn(n, t, 128)
    fixed_rgb = torch.randn(3, 5, 1024)
    fixed_audio = torch.randn(3, 5, 128)

    ref64 = Reference(num_classes, embedding=32, lstm=24, fc1=64, fc2=48).double().eval()
    ref64.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
    with torch.no_grad():
        padded = ref64(rgb.double(), audio.double(), lengths).float()
        ref64.dropout_scale = 1.0  # inverted dropout: identity at inference
        padded_up = ref64(rgb.double(), audio.double(), lengths).float()
        ref64.dropout_scale = 0.5
        fixed = ref64(fixed_rgb.double(), fixed_audio.double()).float()
        # The whole-batch path (benchmarks) agrees with the per-video one on equal lengths.
        fixed_per_video = ref64(fixed_rgb.double(), fixed_audio.double(),
                                torch.tensor([5, 5, 5])).float()
        assert (fixed - fixed_per_video).abs().max() < 1e-6
        # Unpadding matters: the padded frames would change the scores if they were read.
        leak = ref64(rgb.double(), audio.double()).float()
        assert (leak[1:4] - padded[1:4]).abs().max() > 1e-3

    os.makedirs(out_dir, exist_ok=True)
    torch.save(ours_state_dict(ref), os.path.join(out_dir, "weights.pt"))
    paddle = {k: ref.p(k).detach().numpy() for k in ref.shapes}
    paddle["fc_0.w_0_mean_square_0"] = paddle["fc_0.w_0"] * 0  # RMSProp state, to be ignored
    paddle["learning_rate"] = torch.tensor([0.001]).numpy()
    pw.write_dir(os.path.join(out_dir, "paddle"), paddle)
    torch.save({"rgb": rgb, "audio": audio, "mask": mask, "lengths": lengths},
               os.path.join(out_dir, "input.pt"))
    torch.save({"rgb": fixed_rgb, "audio": fixed_audio}, os.path.join(out_dir, "fixed.pt"))
    torch.save({"padded": padded, "padded_upscale": padded_up, "fixed": fixed},
               os.path.join(out_dir, "expected.pt"))
    with open(os.path.join(out_dir, "config.yaml"), "w") as f:
        f.write("MODEL:\n  name: AttentionLSTM\n  num_classes: 20\n  embedding_size: 32\n"
                "  lstm_size: 24\n  fc1_size: 64\n  fc2_size: 48\n  seg_num: 0\n")
    print("attention_lstm_reference: logits scale", padded.abs().max().item(),
          "loss", sigmoid_ce(padded, (torch.rand_like(padded) < 0.1).float()).sum().item())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: attention_lstm_reference.py OUT_DIR")
    main(sys.argv[1])
