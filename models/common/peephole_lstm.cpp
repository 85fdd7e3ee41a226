#include "models/common/peephole_lstm.h"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <stdexcept>

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
  const bool peep = options.use_peepholes();
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

}  // namespace vc::models
