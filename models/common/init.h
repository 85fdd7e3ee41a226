// Paddle Fluid's initialisers (spec §1.3), as in-place functions on LibTorch modules and
// tensors, shared by every network of vc_models.
#pragma once

#include <torch/torch.h>

namespace vc::models {

/// Fluid's conv2d / conv3d default: weight ~ Normal(0, sqrt(2 / fan_in)), fan_in = C_in * prod(k)
/// (all input channels, not per group); bias (if any) 0.
void init_conv_paddle(torch::nn::Conv2d& conv);
void init_conv_paddle(torch::nn::Conv3d& conv);
/// BN scale 1, offset 0 (running stats keep their defaults 0 / 1).
void init_bn_paddle(torch::nn::BatchNorm2d& bn);
void init_bn_paddle(torch::nn::BatchNorm3d& bn);
/// Classifier of TSN/TSM: weight ~ Uniform(+-1/sqrt(bound_fan_in)), bias 0. bound_fan_in <= 0
/// means the real fan-in (StNet's original uses 2048 for a 1024-wide fc, spec §9.3.7).
void init_fc_paddle(torch::nn::Linear& fc, int64_t bound_fan_in = 0);
/// Fluid's default for weights with no initializer: Xavier uniform, limit sqrt(6/(fan_in +
/// fan_out)) with Fluid's fans (2-D [in, out] stored; a torch Linear weight is [out, in]).
void init_xavier_uniform_fluid(torch::Tensor& weight);
/// MSRA(uniform=false): Normal(0, sqrt(2 / fan_in)); MSRA(uniform=true): U(+-sqrt(6 / fan_in)).
/// fan_in of a torch Linear weight [out, in] is `in`; of a conv weight C_in * prod(k).
void init_msra_fluid(torch::Tensor& weight, bool uniform);

}  // namespace vc::models
