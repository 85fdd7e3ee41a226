#include "models/common/peephole_lstm.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "models/common/blas_threads.h"
#include "models/common/init.h"

namespace vc::models {

PackedIndex pack_index(const torch::Tensor& lengths, int64_t t, bool reverse,
                       const torch::Device& device) {
  const torch::Tensor len = lengths.to(torch::kCPU, torch::kLong).contiguous();
  if (len.dim() != 1) {
    throw std::invalid_argument("sequence lengths must be [N], got " + std::to_string(len.dim()) +
                                "-D");
  }
  const int64_t n = len.size(0);
  const int64_t* l = len.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (l[i] < 1 || l[i] > t) {
      std::ostringstream msg;
      msg << "sequence " << i << " of the batch has length " << l[i] << ", expected 1.." << t
          << " (the padded length)";
      throw std::invalid_argument(msg.str());
    }
  }
  // Sequences by decreasing length, ties in batch order.
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return l[a] > l[b]; });
  const int64_t steps = n > 0 ? l[order[0]] : 0;
  PackedIndex packed;
  packed.batch_sizes.reserve(static_cast<std::size_t>(steps));
  const int64_t total = std::accumulate(l, l + n, int64_t{0});
  torch::Tensor index = torch::empty({total}, torch::kLong);
  int64_t* out = index.data_ptr<int64_t>();
  int64_t running = n;
  for (int64_t s = 0; s < steps; ++s) {
    while (running > 0 && l[order[static_cast<std::size_t>(running - 1)]] <= s) --running;
    packed.batch_sizes.push_back(running);
    for (int64_t j = 0; j < running; ++j) {
      const int64_t row = order[static_cast<std::size_t>(j)];
      const int64_t frame = reverse ? l[row] - 1 - s : s;
      *out++ = row * t + frame;
    }
  }
  packed.index = index.to(device);
  return packed;
}

torch::Tensor sequence_lengths(const torch::Tensor& lengths, const torch::Tensor& mask, int64_t n,
                               int64_t t, const std::string& what) {
  torch::Tensor len;
  if (lengths.defined()) {
    if (lengths.dim() != 1 || lengths.size(0) != n) {
      std::ostringstream msg;
      msg << what << ": \"lengths\" must be [" << n << "], got " << lengths.sizes();
      throw std::invalid_argument(msg.str());
    }
    len = lengths.to(torch::kCPU, torch::kLong);
  } else if (mask.defined()) {
    if (mask.dim() != 2 || mask.size(0) != n || mask.size(1) != t) {
      std::ostringstream msg;
      msg << what << ": \"mask\" must be [" << n << ", " << t << "], got " << mask.sizes();
      throw std::invalid_argument(msg.str());
    }
    len = (mask.to(torch::kCPU) > 0.5).sum(1).to(torch::kLong);
  } else {
    return torch::full({n}, t, torch::kLong);
  }
  const int64_t* l = len.contiguous().data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (l[i] < 1 || l[i] > t) {
      std::ostringstream msg;
      msg << what << ": video " << i << " of the batch has " << l[i]
          << " valid frames, expected 1.." << t << " (a video needs at least one frame)";
      throw std::invalid_argument(msg.str());
    }
  }
  return len.contiguous();
}

PeepholeLstmImpl::PeepholeLstmImpl(const PeepholeLstmOptions& options_) : options(options_) {
  reset();
}

void PeepholeLstmImpl::reset() {
  const int64_t h = options.hidden_size();
  if (h <= 0) {
    throw std::invalid_argument("PeepholeLstm: hidden_size must be positive, got " +
                                std::to_string(h));
  }
  weight = register_parameter("weight", torch::empty({h, 4 * h}));
  bias = register_parameter("bias", torch::zeros({1, (options.use_peepholes() ? 7 : 4) * h}));
  init_xavier_uniform_fluid(weight);
}

torch::Tensor PeepholeLstmImpl::forward(const torch::Tensor& gates_x,
                                        const torch::Tensor& lengths) {
  const int64_t h = options.hidden_size();
  if (gates_x.dim() != 3 || gates_x.size(2) != 4 * h) {
    std::ostringstream msg;
    msg << "PeepholeLstm expects gate inputs [N, T, " << 4 * h << "], got " << gates_x.sizes();
    throw std::invalid_argument(msg.str());
  }
  const int64_t n = gates_x.size(0);
  const int64_t t = gates_x.size(1);
  const PackedIndex packed = pack_index(lengths, t, options.reverse(), gates_x.device());
  const torch::Tensor flat = gates_x.reshape({n * t, 4 * h});      // [N*T, 4H]
  const torch::Tensor x = flat.index_select(0, packed.index);      // [P, 4H]
  const torch::Tensor hp = forward_packed(x, packed.batch_sizes);  // [P, H]
  return torch::zeros({n * t, h}, hp.options())
      .index_copy(0, packed.index, hp)  // [N*T, H], zero at padding
      .view({n, t, h});                 // [N, T, H]
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The whole packed recurrence as one autograd node (see the header). Saved for the backward:
// the gate activations [P, 4H] (c~, i, f, o after their nonlinearities), the cell states [P, H]
// and the outputs [P, H]; nothing per step.
struct FusedRecurrence : public torch::autograd::Function<FusedRecurrence> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gates_x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const std::vector<int64_t>& batch_sizes) {
    const int64_t h = weight.size(0);
    const bool peep = bias.size(1) == 7 * h;
    const int64_t total = gates_x.size(0);
    const torch::Tensor act = torch::empty({total, 4 * h}, gates_x.options());
    const torch::Tensor cell = torch::empty({total, h}, gates_x.options());
    const torch::Tensor out = torch::empty({total, h}, gates_x.options());
    const torch::Tensor gate_bias = bias.narrow(1, 0, 4 * h);  // [1, 4H]
    const SerialElementwiseScope serial;                       // see blas_threads.h
    int64_t offset = 0;
    int64_t prev_offset = 0;
    for (std::size_t s = 0; s < batch_sizes.size(); ++s) {
      const int64_t n = batch_sizes[s];
      torch::Tensor a = act.narrow(0, offset, n);  // [n, 4H]: pre-activations, then gates
      torch::add_out(a, gates_x.narrow(0, offset, n), gate_bias);
      const torch::Tensor cand = a.narrow(1, 0, h);
      const torch::Tensor i = a.narrow(1, h, h);
      const torch::Tensor f = a.narrow(1, 2 * h, h);
      const torch::Tensor o = a.narrow(1, 3 * h, h);
      torch::Tensor c = cell.narrow(0, offset, n);
      torch::Tensor hs = out.narrow(0, offset, n);
      torch::Tensor cp;  // c_{t-1} of the running sequences (a prefix of the previous step)
      if (s > 0) {
        cp = cell.narrow(0, prev_offset, n);
        a.addmm_(out.narrow(0, prev_offset, n), weight);  // + h_{t-1} W
        if (peep) {
          i.addcmul_(cp, bias.narrow(1, 4 * h, h));
          f.addcmul_(cp, bias.narrow(1, 5 * h, h));
        }
      }
      cand.tanh_();
      i.sigmoid_();
      f.sigmoid_();  // unused at the first step (c_0 = 0); kept so every row is defined
      torch::mul_out(c, cand, i);
      if (s > 0) c.addcmul_(cp, f);
      if (peep) o.addcmul_(c, bias.narrow(1, 6 * h, h));
      o.sigmoid_();
      torch::tanh_out(hs, c);
      hs.mul_(o);
      prev_offset = offset;
      offset += n;
    }
    ctx->save_for_backward({weight, bias, act, cell, out});
    ctx->saved_data["batch_sizes"] = batch_sizes;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& weight = saved[0];
    const torch::Tensor& bias = saved[1];
    const torch::Tensor& act = saved[2];
    const torch::Tensor& cell = saved[3];
    const torch::Tensor& out = saved[4];
    const std::vector<int64_t> batch_sizes = ctx->saved_data["batch_sizes"].toIntVector();
    const int64_t h = weight.size(0);
    const bool peep = bias.size(1) == 7 * h;
    const int64_t total = act.size(0);
    const int64_t steps = static_cast<int64_t>(batch_sizes.size());
    torch::Tensor grad_out = grads[0].defined() ? grads[0] : torch::zeros_like(out);
    std::vector<int64_t> offsets(batch_sizes.size() + 1, 0);
    for (std::size_t s = 0; s < batch_sizes.size(); ++s) {
      offsets[s + 1] = offsets[s] + batch_sizes[s];
    }
    torch::Tensor w_ic, w_fc, w_oc;  // [1, H] each
    if (peep) {
      w_ic = bias.narrow(1, 4 * h, h);
      w_fc = bias.narrow(1, 5 * h, h);
      w_oc = bias.narrow(1, 6 * h, h);
    }
    // Gradient of the pre-activations = of gates_x (and, summed, of the gate bias).
    const torch::Tensor dg = torch::empty({total, 4 * h}, act.options());
    torch::Tensor dh_next, dc_next;  // from step s + 1, for its running sequences (a prefix)
    std::optional<SerialElementwiseScope> serial(std::in_place);  // see blas_threads.h
    for (int64_t s = steps - 1; s >= 0; --s) {
      const int64_t n = batch_sizes[static_cast<std::size_t>(s)];
      const int64_t off = offsets[static_cast<std::size_t>(s)];
      torch::Tensor a = act.narrow(0, off, n);
      const torch::Tensor cand = a.narrow(1, 0, h);
      const torch::Tensor i = a.narrow(1, h, h);
      const torch::Tensor f = a.narrow(1, 2 * h, h);
      const torch::Tensor o = a.narrow(1, 3 * h, h);
      torch::Tensor c = cell.narrow(0, off, n);
      const torch::Tensor d = dg.narrow(0, off, n);
      torch::Tensor d_cand = d.narrow(1, 0, h);
      torch::Tensor d_i = d.narrow(1, h, h);
      torch::Tensor d_f = d.narrow(1, 2 * h, h);
      torch::Tensor d_o = d.narrow(1, 3 * h, h);

      torch::Tensor dh = grad_out.narrow(0, off, n).clone(torch::MemoryFormat::Contiguous);
      if (dh_next.defined()) dh.narrow(0, 0, dh_next.size(0)).add_(dh_next);
      const torch::Tensor tc = torch::tanh(c);
      // h = o * tanh(c): d a_o = dh * tanh(c) * o (1 - o)
      torch::mul_out(d_o, dh * tc, o * (1 - o));
      // dc: through tanh(c), the output peephole, and from step s + 1
      torch::Tensor dc = dh * o * (1 - tc * tc);
      if (peep) dc.addcmul_(d_o, w_oc);
      if (dc_next.defined()) dc.narrow(0, 0, dc_next.size(0)).add_(dc_next);
      // c = c~ i + c_{t-1} f
      torch::mul_out(d_cand, dc * i, 1 - cand * cand);
      torch::mul_out(d_i, dc * cand, i * (1 - i));
      if (s > 0) {
        const torch::Tensor cp = cell.narrow(0, offsets[static_cast<std::size_t>(s - 1)], n);
        torch::mul_out(d_f, dc * cp, f * (1 - f));
        dc_next = dc * f;
        if (peep) {
          dc_next.addcmul_(d_i, w_ic);
          dc_next.addcmul_(d_f, w_fc);
        }
        dh_next = torch::mm(d, weight.t());  // [n, H]
      } else {
        d_f.zero_();  // c_0 = 0: the forget gate has no effect at the first step
      }
    }
    serial.reset();  // the rest are a few large ops
    // Parameter gradients over all steps at once. Rows of steps >= 1 pair with the previous
    // step's state of the same sequence: h_{t-1}, c_{t-1}.
    torch::Tensor d_weight;
    torch::Tensor d_peep_i, d_peep_f;
    const int64_t first = batch_sizes.empty() ? 0 : batch_sizes[0];
    if (total > first) {
      std::vector<int64_t> prev_rows;
      prev_rows.reserve(static_cast<std::size_t>(total - first));
      for (int64_t s = 1; s < steps; ++s) {
        const int64_t base = offsets[static_cast<std::size_t>(s - 1)];
        for (int64_t j = 0; j < batch_sizes[static_cast<std::size_t>(s)]; ++j) {
          prev_rows.push_back(base + j);
        }
      }
      const torch::Tensor index = torch::tensor(prev_rows, torch::kLong).to(act.device());
      const torch::Tensor d_rest = dg.narrow(0, first, total - first);  // [P - n_0, 4H]
      d_weight = out.index_select(0, index).t().mm(d_rest);             // [H, 4H]
      if (peep) {
        const torch::Tensor c_prev = cell.index_select(0, index);  // [P - n_0, H]
        d_peep_i = (d_rest.narrow(1, h, h) * c_prev).sum(0, /*keepdim=*/true);
        d_peep_f = (d_rest.narrow(1, 2 * h, h) * c_prev).sum(0, /*keepdim=*/true);
      }
    } else {
      d_weight = torch::zeros_like(weight);
      if (peep) {
        d_peep_i = torch::zeros({1, h}, act.options());
        d_peep_f = torch::zeros({1, h}, act.options());
      }
    }
    torch::Tensor d_bias = dg.sum(0, /*keepdim=*/true);  // [1, 4H]
    if (peep) {
      const torch::Tensor d_peep_o = (dg.narrow(1, 3 * h, h) * cell).sum(0, /*keepdim=*/true);
      d_bias = torch::cat({d_bias, d_peep_i, d_peep_f, d_peep_o}, 1);  // [1, 7H]
    }
    return {dg, d_weight, d_bias, torch::Tensor()};
  }
};

// The recurrence step by step under autograd (fused(false)).
torch::Tensor unfused_recurrence(const torch::Tensor& gates_x, const torch::Tensor& weight,
                                 const torch::Tensor& bias, bool peep,
                                 const std::vector<int64_t>& batch_sizes) {
  const int64_t h = weight.size(0);
  const torch::Tensor gate_bias = bias.narrow(1, 0, 4 * h);  // [1, 4H]
  torch::Tensor w_ic, w_fc, w_oc;                            // [1, H] each
  if (peep) {
    w_ic = bias.narrow(1, 4 * h, h);
    w_fc = bias.narrow(1, 5 * h, h);
    w_oc = bias.narrow(1, 6 * h, h);
  }
  std::vector<torch::Tensor> outputs;
  outputs.reserve(batch_sizes.size());
  torch::Tensor h_prev, c_prev;  // [n_{s-1}, H]
  int64_t offset = 0;
  for (std::size_t s = 0; s < batch_sizes.size(); ++s) {
    const int64_t n = batch_sizes[s];
    const torch::Tensor xs = gates_x.narrow(0, offset, n);  // [n, 4H]
    offset += n;
    torch::Tensor c, h_t;
    if (s == 0) {
      // h_0 = c_0 = 0: no recurrent matmul, no forget gate, no input peephole.
      const torch::Tensor gates = xs + gate_bias;  // [n, 4H]
      const auto g = gates.chunk(4, 1);            // 4 x [n, H]: c~, i, f, o
      c = torch::tanh(g[0]) * torch::sigmoid(g[1]);
      const torch::Tensor o =
          torch::sigmoid(peep ? torch::addcmul(g[3], c, w_oc) : g[3]);  // [n, H]
      h_t = o * torch::tanh(c);
    } else {
      const torch::Tensor hp = h_prev.narrow(0, 0, n);  // [n, H] (running ones are a prefix)
      const torch::Tensor cp = c_prev.narrow(0, 0, n);  // [n, H]
      // The gate bias is added per step (in place: addmm's backward does not read its output),
      // not to all of gates_x at once, which would copy the largest tensor of the network.
      const torch::Tensor gates = torch::addmm(xs, hp, weight).add_(gate_bias);  // [n, 4H]
      const auto g = gates.chunk(4, 1);  // 4 x [n, H]: c~, i, f, o
      const torch::Tensor i = torch::sigmoid(peep ? torch::addcmul(g[1], cp, w_ic) : g[1]);
      const torch::Tensor f = torch::sigmoid(peep ? torch::addcmul(g[2], cp, w_fc) : g[2]);
      c = torch::addcmul(torch::tanh(g[0]) * i, cp, f);  // c~ * i + c_{t-1} * f
      const torch::Tensor o = torch::sigmoid(peep ? torch::addcmul(g[3], c, w_oc) : g[3]);
      h_t = o * torch::tanh(c);  // [n, H]
    }
    outputs.push_back(h_t);
    h_prev = h_t;
    c_prev = c;
  }
  if (outputs.empty()) return torch::zeros({0, h}, gates_x.options());
  return torch::cat(outputs, 0);  // [P, H]
}

}  // namespace

torch::Tensor PeepholeLstmImpl::forward_packed(const torch::Tensor& gates_x,
                                               const std::vector<int64_t>& batch_sizes) {
  const int64_t h = options.hidden_size();
  const int64_t total = std::accumulate(batch_sizes.begin(), batch_sizes.end(), int64_t{0});
  if (gates_x.dim() != 2 || gates_x.size(1) != 4 * h || gates_x.size(0) != total) {
    std::ostringstream msg;
    msg << "PeepholeLstm expects packed gate inputs [" << total << ", " << 4 * h << "], got "
        << gates_x.sizes();
    throw std::invalid_argument(msg.str());
  }
  if (total == 0) return torch::zeros({0, h}, gates_x.options());
  if (options.fused()) return FusedRecurrence::apply(gates_x, weight, bias, batch_sizes);
  return unfused_recurrence(gates_x, weight, bias, options.use_peepholes(), batch_sizes);
}

}  // namespace vc::models
