#include "models/common/init.h"

#include <cmath>

namespace vc::models {
namespace {

// Fluid fan-in of a LibTorch weight: Linear [out, in] -> in; conv [O, I, k...] -> I * prod(k).
double fan_in_of(const torch::Tensor& w) {
  if (w.dim() < 2) return static_cast<double>(w.numel());
  double f = static_cast<double>(w.size(1));
  for (int64_t d = 2; d < w.dim(); ++d) f *= static_cast<double>(w.size(d));
  return f;
}

double fan_out_of(const torch::Tensor& w) {
  if (w.dim() < 2) return static_cast<double>(w.numel());
  double f = static_cast<double>(w.size(0));
  for (int64_t d = 2; d < w.dim(); ++d) f *= static_cast<double>(w.size(d));
  return f;
}

template <class Conv>
void init_conv(Conv& conv) {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(conv->weight, 0.0, std::sqrt(2.0 / fan_in_of(conv->weight)));
  if (conv->bias.defined()) conv->bias.zero_();
}

template <class Bn>
void init_bn(Bn& bn) {
  torch::NoGradGuard no_grad;
  bn->weight.fill_(1.0);
  bn->bias.zero_();
}

}  // namespace

void init_conv_paddle(torch::nn::Conv2d& conv) { init_conv(conv); }
void init_conv_paddle(torch::nn::Conv3d& conv) { init_conv(conv); }
void init_bn_paddle(torch::nn::BatchNorm2d& bn) { init_bn(bn); }
void init_bn_paddle(torch::nn::BatchNorm3d& bn) { init_bn(bn); }

void init_fc_paddle(torch::nn::Linear& fc, int64_t bound_fan_in) {
  torch::NoGradGuard no_grad;
  const double fan = bound_fan_in > 0 ? static_cast<double>(bound_fan_in)
                                      : static_cast<double>(fc->weight.size(1));
  const double bound = 1.0 / std::sqrt(fan);
  torch::nn::init::uniform_(fc->weight, -bound, bound);
  if (fc->bias.defined()) fc->bias.zero_();
}

void init_xavier_uniform_fluid(torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  const double limit = std::sqrt(6.0 / (fan_in_of(weight) + fan_out_of(weight)));
  weight.uniform_(-limit, limit);
}

void init_msra_fluid(torch::Tensor& weight, bool uniform) {
  torch::NoGradGuard no_grad;
  const double fan = fan_in_of(weight);
  if (uniform) {
    const double limit = std::sqrt(6.0 / fan);
    weight.uniform_(-limit, limit);
  } else {
    weight.normal_(0.0, std::sqrt(2.0 / fan));
  }
}

}  // namespace vc::models
