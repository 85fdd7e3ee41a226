// Dropout with Fluid's default semantics ("downgrade_in_infer", spec §1.1):
// training: out = x * mask, mask ~ Bernoulli(1 - p), NO rescaling;
// eval:     out = x * (1 - p).
// (torch::nn::Dropout instead rescales by 1/(1-p) in training and is the identity in eval.)
#pragma once

#include <torch/torch.h>

namespace vc::models {

struct FluidDropoutOptions {
  /// Probability of dropping an element, in [0, 1).
  TORCH_ARG(double, p) = 0.5;
};

class FluidDropoutImpl : public torch::nn::Module {
 public:
  explicit FluidDropoutImpl(const FluidDropoutOptions& options = {});
  void reset();
  /// Any shape -> same shape.
  torch::Tensor forward(const torch::Tensor& x);

  FluidDropoutOptions options;
};
TORCH_MODULE(FluidDropout);

}  // namespace vc::models
