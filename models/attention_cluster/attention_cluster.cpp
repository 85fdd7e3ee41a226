#include "models/attention_cluster/attention_cluster.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "models/common/init.h"

namespace vc::models {

ShiftingAttentionImpl::ShiftingAttentionImpl(const ShiftingAttentionOptions& options_)
    : options(options_) {
  reset();
}

void ShiftingAttentionImpl::reset() {
  const int64_t f = options.feature_dim();
  const int64_t c = options.cluster_num();
  if (f <= 0 || c <= 0) {
    std::ostringstream msg;
    msg << "shifting attention: feature_dim and cluster_num must be positive, got feature_dim=" << f
        << " cluster_num=" << c;
    throw std::invalid_argument(msg.str());
  }
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(f, c, 1).bias(true)));
  init_msra_fluid(conv->weight, /*uniform=*/false);  // Normal(0, sqrt(2 / F))
  init_msra_fluid(conv->bias, /*uniform=*/true);     // U(+-sqrt(6 / C))
  // Normal(0, sqrt(1 / sqrt(C))) (spec §6.1).
  const double std = std::sqrt(1.0 / std::sqrt(static_cast<double>(c)));
  shift_w = register_parameter("shift_w", torch::randn({c}) * std);
  shift_b = register_parameter("shift_b", torch::randn({c}) * std);
}

torch::Tensor ShiftingAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t c = options.cluster_num();
  const int64_t f = options.feature_dim();
  const int64_t n = x.size(0);
  // The 1x1 conv over x viewed as [N, F, L, 1] is one matmul per frame.
  torch::Tensor scores = torch::matmul(x, conv->weight.view({c, f}).t()) + conv->bias;  // [N, L, C]
  scores = scores.transpose(1, 2);                                                      // [N, C, L]
  if (mask.defined()) {
    scores = scores.masked_fill(mask.unsqueeze(1) <= 0, -std::numeric_limits<float>::infinity());
  }
  torch::Tensor attention = torch::softmax(scores, /*dim=*/2);  // [N, C, L]
  torch::Tensor v = torch::bmm(attention, x);                   // [N, C, F]
  v = v * shift_w.view({1, c, 1}) + shift_b.view({1, c, 1});    // [N, C, F]
  // Fluid l2_normalize (spec §1.10): x / sqrt(sum(x^2) + 1e-12), then 1 / sqrt(C).
  v = v / torch::sqrt(v.pow(2).sum(2, /*keepdim=*/true) + 1e-12);  // [N, C, F]
  v = v / std::sqrt(static_cast<double>(c));
  return v.reshape({n, c * f});  // [N, C*F]
}

AttentionClusterImpl::AttentionClusterImpl(const AttentionClusterOptions& options_)
    : options(options_) {
  reset();
}

void AttentionClusterImpl::reset() {
  const auto& o = options;
  if (o.num_classes() <= 0 || o.fc1_size() <= 0 || o.fc2_size() <= 0) {
    std::ostringstream msg;
    msg << "Attention Cluster: num_classes, fc1_size and fc2_size must be positive, got "
        << o.num_classes() << ", " << o.fc1_size() << ", " << o.fc2_size();
    throw std::invalid_argument(msg.str());
  }
  if (!(o.dropout() >= 0.0 && o.dropout() < 1.0)) {
    throw std::invalid_argument("Attention Cluster: dropout must be in [0, 1), got " +
                                std::to_string(o.dropout()));
  }
  satt0 = register_module(
      "satt0", ShiftingAttention(ShiftingAttentionOptions(o.rgb_dim(), o.rgb_clusters())));
  satt1 = register_module(
      "satt1", ShiftingAttention(ShiftingAttentionOptions(o.audio_dim(), o.audio_clusters())));
  const int64_t concat = o.rgb_dim() * o.rgb_clusters() + o.audio_dim() * o.audio_clusters();
  fc1 = register_module("fc1", torch::nn::Linear(concat, o.fc1_size()));
  fc2 = register_module("fc2", torch::nn::Linear(o.fc1_size(), o.fc2_size()));
  logistic = register_module("logistic", torch::nn::Linear(o.fc2_size(), o.num_classes()));
  // Weights MSRA normal (fan_in = in); biases MSRA uniform, the logistic bias MSRA normal
  // (fan of a 1-D bias = its size, spec §1.3).
  for (auto* fc : {&fc1, &fc2, &logistic}) init_msra_fluid((*fc)->weight, /*uniform=*/false);
  init_msra_fluid(fc1->bias, /*uniform=*/true);
  init_msra_fluid(fc2->bias, /*uniform=*/true);
  init_msra_fluid(logistic->bias, /*uniform=*/false);
  fluid_dropout = nullptr;
  torch_dropout = nullptr;
  if (o.dropout() > 0.0) {
    if (o.dropout_impl() == DropoutImpl::kDowngradeInInfer) {
      fluid_dropout =
          register_module("dropout", FluidDropout(FluidDropoutOptions().p(o.dropout())));
    } else {
      torch_dropout = register_module(
          "dropout", torch::nn::Dropout(torch::nn::DropoutOptions().p(o.dropout())));
    }
  }
}

torch::Tensor AttentionClusterImpl::forward(const ModelInput& input) {
  const torch::Tensor& rgb = input.at("rgb");
  const torch::Tensor& audio = input.at("audio");
  if (rgb.dim() != 3 || rgb.size(2) != options.rgb_dim() || audio.dim() != 3 ||
      audio.size(2) != options.audio_dim() || audio.size(0) != rgb.size(0) ||
      audio.size(1) != rgb.size(1) || rgb.size(1) == 0) {
    std::ostringstream msg;
    msg << "Attention Cluster expects rgb [N, T, " << options.rgb_dim() << "] and audio [N, T, "
        << options.audio_dim() << "] with T > 0, got rgb " << rgb.sizes() << " and audio "
        << audio.sizes();
    throw std::invalid_argument(msg.str());
  }
  torch::Tensor mask;
  if (input.has("mask")) {
    mask = input.at("mask");
    if (mask.dim() != 2 || mask.size(0) != rgb.size(0) || mask.size(1) != rgb.size(1)) {
      std::ostringstream msg;
      msg << "Attention Cluster: mask must be [N, T] = [" << rgb.size(0) << ", " << rgb.size(1)
          << "], got " << mask.sizes();
      throw std::invalid_argument(msg.str());
    }
  }
  torch::Tensor x = torch::cat({satt0(rgb, mask), satt1(audio, mask)}, 1);  // [N, Cr*Fr + Ca*Fa]
  if (fluid_dropout) x = fluid_dropout(x);
  if (torch_dropout) x = torch_dropout(x);
  x = torch::tanh(fc1(x));  // [N, fc1_size]
  x = torch::tanh(fc2(x));  // [N, fc2_size]
  return logistic(x);       // [N, num_classes]
}

}  // namespace vc::models
