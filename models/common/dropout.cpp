#include "models/common/dropout.h"

#include <stdexcept>
#include <string>

namespace vc::models {

std::string dropout_impl_name(DropoutImpl impl) {
  return impl == DropoutImpl::kDowngradeInInfer ? "downgrade_in_infer" : "upscale_in_train";
}

DropoutImpl parse_dropout_impl(const std::string& name) {
  if (name == "downgrade_in_infer") return DropoutImpl::kDowngradeInInfer;
  if (name == "upscale_in_train") return DropoutImpl::kUpscaleInTrain;
  throw std::invalid_argument(
      "dropout implementation must be 'downgrade_in_infer' or 'upscale_in_train', got '" + name +
      "'");
}

FluidDropoutImpl::FluidDropoutImpl(const FluidDropoutOptions& options_) : options(options_) {
  reset();
}

void FluidDropoutImpl::reset() {
  if (!(options.p() >= 0.0 && options.p() < 1.0)) {
    throw std::invalid_argument("dropout probability must be in [0, 1), got " +
                                std::to_string(options.p()));
  }
}

torch::Tensor FluidDropoutImpl::forward(const torch::Tensor& x) {
  const double p = options.p();
  if (p == 0.0) return x;
  if (!is_training()) return x * (1.0 - p);
  torch::Tensor mask = torch::empty_like(x).bernoulli_(1.0 - p);  // 1 = keep
  return x * mask;
}

}  // namespace vc::models
