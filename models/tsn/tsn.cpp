#include "models/tsn/tsn.h"

#include <sstream>
#include <stdexcept>

namespace vc::models {

TsnImpl::TsnImpl(const TsnOptions& options_) : options(options_) { reset(); }

void TsnImpl::reset() {
  if (options.num_classes() <= 0 || options.seglen() <= 0) {
    std::ostringstream msg;
    msg << "TSN: num_classes and seglen must be positive, got num_classes=" << options.num_classes()
        << " seglen=" << options.seglen();
    throw std::invalid_argument(msg.str());
  }
  backbone = register_module(
      "backbone",
      ResNet(
          ResNetOptions().depth(options.depth()).in_channels(3 * options.seglen()).num_classes(0)));
  fc = register_module("fc", torch::nn::Linear(backbone->feature_dim(), options.num_classes()));
  init_fc_paddle(fc);
  if (options.dropout() > 0.0) {
    dropout = register_module("dropout", FluidDropout(FluidDropoutOptions().p(options.dropout())));
  } else {
    dropout = nullptr;
  }
}

torch::Tensor TsnImpl::forward(const ModelInput& input) {
  const torch::Tensor& clips = input.at("video");
  const int64_t channels = 3 * options.seglen();
  if (clips.dim() != 5 || clips.size(2) != channels) {
    std::ostringstream msg;
    msg << "TSN expects clips [N, T, " << channels << " (3*seglen), H, W], got " << clips.sizes();
    throw std::invalid_argument(msg.str());
  }
  const int64_t n = clips.size(0);
  const int64_t t = clips.size(1);  // segments, read from the input
  torch::Tensor x =
      clips.reshape({n * t, channels, clips.size(3), clips.size(4)});  // [N*T, C, H, W]
  x = backbone->forward_features(x);                                   // [N*T, F]
  x = x.view({n, t, -1});                                              // [N, T, F]
  x = x.mean(1);                // [N, F]  (average consensus)
  if (dropout) x = dropout(x);  // [N, F]
  return fc(x);                 // [N, num_classes]
}

}  // namespace vc::models
