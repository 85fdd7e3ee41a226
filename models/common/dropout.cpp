#include "models/common/dropout.h"

#include <stdexcept>
#include <string>

namespace vc::models {

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
