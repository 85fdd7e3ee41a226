#include "models/attention_lstm/attention_lstm.h"

#include <limits>
#include <sstream>
#include <stdexcept>

#include "models/common/init.h"

namespace vc::models {
namespace {

// Fluid's fc defaults in the original: Xavier-uniform weight, bias Normal(scale=0) = 0.
torch::nn::Linear fluid_fc(int64_t in, int64_t out) {
  torch::nn::Linear fc(in, out);
  init_xavier_uniform_fluid(fc->weight);
  torch::NoGradGuard no_grad;
  fc->bias.zero_();
  return fc;
}

}  // namespace

AttentionLstmBranchImpl::AttentionLstmBranchImpl(int64_t input_dim_,
                                                 const AttentionLstmOptions& options_)
    : input_dim(input_dim_), options(options_) {
  reset();
}

void AttentionLstmBranchImpl::reset() {
  const int64_t e = options.embedding_size();
  const int64_t h = options.lstm_size();
  input_fc = register_module("input_fc", fluid_fc(input_dim, e));
  lstm_forward_fc = register_module("lstm_forward_fc", fluid_fc(e, 4 * h));
  lstm_forward = register_module("lstm_forward",
                                 PeepholeLstm(PeepholeLstmOptions().hidden_size(h).reverse(false)));
  lstm_backward_fc = register_module("lstm_backward_fc", fluid_fc(e, 4 * h));
  lstm_backward = register_module("lstm_backward",
                                  PeepholeLstm(PeepholeLstmOptions().hidden_size(h).reverse(true)));
  attention_fc = register_module("attention_fc", fluid_fc(2 * h, 1));
  fluid_dropout = nullptr;
  torch_dropout = nullptr;
  if (options.drop_rate() > 0.0) {
    if (options.dropout_impl() == DropoutImpl::kDowngradeInInfer) {
      fluid_dropout =
          register_module("dropout", FluidDropout(FluidDropoutOptions().p(options.drop_rate())));
    } else {
      torch_dropout = register_module(
          "dropout", torch::nn::Dropout(torch::nn::DropoutOptions().p(options.drop_rate())));
    }
  }
}

torch::Tensor AttentionLstmBranchImpl::forward(const torch::Tensor& x,
                                               const PackedIndex& forward_index,
                                               const PackedIndex& reverse_index,
                                               const torch::Tensor& valid) {
  const int64_t n = x.size(0);
  const int64_t t = x.size(1);
  const int64_t h = options.lstm_size();
  const torch::Tensor e =
      torch::tanh(input_fc(x.reshape({n * t, input_dim})));  // [N*T, E] (padding unused)
  // Each direction: its packed frames, their own 4H projection, the recurrence, back to the
  // padded layout with zeros at padding.
  auto direction = [&](const PackedIndex& packed, torch::nn::Linear& proj, PeepholeLstm& lstm) {
    const torch::Tensor gates = proj(e.index_select(0, packed.index));              // [P, 4H]
    const torch::Tensor hp = lstm->forward_packed(gates, packed.batch_sizes);       // [P, H]
    return torch::zeros({n * t, h}, hp.options()).index_copy(0, packed.index, hp);  // [N*T, H]
  };
  torch::Tensor hs = torch::cat({direction(forward_index, lstm_forward_fc, lstm_forward),
                                 direction(reverse_index, lstm_backward_fc, lstm_backward)},
                                1)
                         .view({n, t, 2 * h});  // [N, T, 2H]
  if (fluid_dropout) hs = fluid_dropout(hs);    // [N, T, 2H]
  if (torch_dropout) hs = torch_dropout(hs);    // [N, T, 2H]
  // sequence_softmax: softmax of the attention scores over each video's valid frames.
  const torch::Tensor scores = attention_fc(hs).squeeze(2).masked_fill(
      valid.logical_not(), -std::numeric_limits<float>::infinity());  // [N, T]
  const torch::Tensor alpha = torch::softmax(scores, 1);              // [N, T], 0 at padding
  return torch::bmm(alpha.unsqueeze(1), hs).squeeze(1);               // [N, 2H]
}

AttentionLstmImpl::AttentionLstmImpl(const AttentionLstmOptions& options_) : options(options_) {
  reset();
}

void AttentionLstmImpl::reset() {
  const auto& names = options.feature_names();
  const auto& dims = options.feature_dims();
  if (names.empty() || names.size() != dims.size()) {
    std::ostringstream msg;
    msg << "AttentionLSTM: feature_names and feature_dims must be non-empty and of equal length, "
           "got "
        << names.size() << " names and " << dims.size() << " dims";
    throw std::invalid_argument(msg.str());
  }
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] <= 0) {
      throw std::invalid_argument("AttentionLSTM: feature '" + names[i] +
                                  "' must have a positive width, got " + std::to_string(dims[i]));
    }
  }
  if (options.num_classes() <= 0 || options.embedding_size() <= 0 || options.lstm_size() <= 0 ||
      options.fc1_size() <= 0 || options.fc2_size() <= 0) {
    std::ostringstream msg;
    msg << "AttentionLSTM: num_classes, embedding_size, lstm_size, fc1_size and fc2_size must be "
           "positive, got "
        << options.num_classes() << ", " << options.embedding_size() << ", " << options.lstm_size()
        << ", " << options.fc1_size() << ", " << options.fc2_size();
    throw std::invalid_argument(msg.str());
  }
  if (!(options.drop_rate() >= 0.0 && options.drop_rate() < 1.0)) {
    throw std::invalid_argument("AttentionLSTM: drop_rate must be in [0, 1), got " +
                                std::to_string(options.drop_rate()));
  }
  branches.clear();
  for (std::size_t i = 0; i < names.size(); ++i) {
    branches.push_back(register_module(names[i], AttentionLstmBranch(dims[i], options)));
  }
  const int64_t pooled = 2 * options.lstm_size() * static_cast<int64_t>(names.size());
  fc1 = register_module("fc1", fluid_fc(pooled, options.fc1_size()));
  fc2 = register_module("fc2", fluid_fc(options.fc1_size(), options.fc2_size()));
  logit = register_module("logit", fluid_fc(options.fc2_size(), options.num_classes()));
}

torch::Tensor AttentionLstmImpl::forward(const ModelInput& input) {
  const auto& names = options.feature_names();
  const auto& dims = options.feature_dims();
  std::vector<torch::Tensor> xs;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const torch::Tensor& x = input.at(names[i]);
    if (x.dim() != 3 || x.size(2) != dims[i] ||
        (!xs.empty() && (x.size(0) != xs[0].size(0) || x.size(1) != xs[0].size(1)))) {
      std::ostringstream msg;
      msg << "AttentionLSTM expects \"" << names[i] << "\" [N, T, " << dims[i] << "]";
      if (!xs.empty()) msg << " with the N, T of \"" << names[0] << "\" " << xs[0].sizes();
      msg << ", got " << x.sizes();
      throw std::invalid_argument(msg.str());
    }
    xs.push_back(x);
  }
  const int64_t n = xs[0].size(0);
  const int64_t t = xs[0].size(1);
  const torch::Tensor lengths =
      sequence_lengths(input.has("lengths") ? input.at("lengths") : torch::Tensor(),
                       input.has("mask") ? input.at("mask") : torch::Tensor(), n, t,
                       "AttentionLSTM");  // [N] int64, CPU
  const torch::Device device = xs[0].device();
  const PackedIndex forward_index = pack_index(lengths, t, /*reverse=*/false, device);
  const PackedIndex reverse_index = pack_index(lengths, t, /*reverse=*/true, device);
  const torch::Tensor valid = torch::arange(t, torch::TensorOptions().dtype(torch::kLong))
                                  .unsqueeze(0)
                                  .lt(lengths.unsqueeze(1))
                                  .to(device);  // [N, T] bool
  std::vector<torch::Tensor> pooled;
  for (std::size_t i = 0; i < branches.size(); ++i) {
    pooled.push_back(branches[i]->forward(xs[i], forward_index, reverse_index, valid));  // [N, 2H]
  }
  torch::Tensor x = torch::cat(pooled, 1);  // [N, 2H * features]
  x = torch::relu(fc1(x));                  // [N, fc1_size]
  x = torch::tanh(fc2(x));                  // [N, fc2_size]
  return logit(x);                          // [N, num_classes]
}

}  // namespace vc::models
