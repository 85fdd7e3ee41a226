// Dropout with Fluid's default semantics ("downgrade_in_infer", spec §1.1):
// training: out = x * mask, mask ~ Bernoulli(1 - p), NO rescaling;
// eval:     out = x * (1 - p).
// (torch::nn::Dropout instead rescales by 1/(1-p) in training and is the identity in eval.)
#pragma once

#include <torch/torch.h>

#include <string>

namespace vc::models {

/// How dropout scales (spec §1.1); a network option of TSM and the YouTube-8M networks.
enum class DropoutImpl {
  kDowngradeInInfer,  ///< Fluid's default: no scaling in training, x(1-p) at inference (Paddle)
  kUpscaleInTrain,    ///< inverted: x/(1-p) in training, identity at inference (torch::nn::Dropout)
};
/// "downgrade_in_infer" / "upscale_in_train" (Fluid's `dropout_implementation` spellings).
std::string dropout_impl_name(DropoutImpl impl);
/// Parses those names; throws std::invalid_argument naming the value otherwise.
DropoutImpl parse_dropout_impl(const std::string& name);

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
