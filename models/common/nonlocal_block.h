// The embedded-Gaussian non-local block of the original Non-local network (spec §6.8,
// `nonlocal_helper.py: spacetime_nonlocal` with use_softmax, use_scale, use_maxpool, use_bn):
//
//   theta = conv 1x1x1 C->C' on x                        [N, C', T, H, W]
//   x_p   = max-pool3d(x, [1,2,2], stride [1,2,2])       [N, C, T, H/2, W/2]  (floor)
//   phi, g = conv 1x1x1 C->C' on x_p                      [N, C', T, H/2, W/2]
//   f     = softmax_keys(theta^T phi * C'^-0.5)           [N, THW, THW/4]
//   y     = g f^T                                          [N, C', THW] -> [N, C', T, H, W]
//   out   = x + BN(conv 1x1x1 C'->C (y))                  (no ReLU)
//
// Init: the four convs Normal(0, conv_init_std = 0.01) with biases 0; the BN's gamma
// `bn_init_gamma` (0: the block starts as the identity), beta 0; BN momentum 0.1 (= Fluid 0.9),
// eps 1e-5.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace vc::models {

struct NonLocalBlockOptions {
  NonLocalBlockOptions(int64_t channels, int64_t inner_channels)
      : channels_(channels), inner_channels_(inner_channels) {}
  /// C: channels of the input and output.
  TORCH_ARG(int64_t, channels);
  /// C': channels of theta / phi / g (C/2 in the original).
  TORCH_ARG(int64_t, inner_channels);
  /// Std of the Normal init of theta, phi, g and out (NONLOCAL.conv_init_std).
  TORCH_ARG(double, conv_init_std) = 0.01;
  /// Init of the output BN's gamma (NONLOCAL.bn_init_gamma).
  TORCH_ARG(double, bn_init_gamma) = 0.0;
  /// Scale the affinities by C'^-0.5 (NONLOCAL.use_scale).
  TORCH_ARG(bool, use_scale) = true;
  /// phi and g read the [1,2,2]-max-pooled input (NONLOCAL.use_maxpool).
  TORCH_ARG(bool, use_maxpool) = true;
};

/// Submodules theta, phi, g, out (Conv3d 1x1x1 with bias), bn (BatchNorm3d C).
class NonLocalBlockImpl : public torch::nn::Module {
 public:
  explicit NonLocalBlockImpl(const NonLocalBlockOptions& options);
  void reset();
  /// [N, C, T, H, W] -> [N, C, T, H, W].
  torch::Tensor forward(const torch::Tensor& x);

  NonLocalBlockOptions options;
  torch::nn::Conv3d theta{nullptr}, phi{nullptr}, g{nullptr}, out{nullptr};
  torch::nn::BatchNorm3d bn{nullptr};
};
TORCH_MODULE(NonLocalBlock);

}  // namespace vc::models
