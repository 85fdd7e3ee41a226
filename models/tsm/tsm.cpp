#include "models/tsm/tsm.h"

#include <sstream>
#include <stdexcept>

namespace vc::models {

TsmImpl::TsmImpl(const TsmOptions& options_) : options(options_) { reset(); }

void TsmImpl::reset() {
  if (options.num_classes() <= 0 || options.seg_num() <= 0 || options.seglen() <= 0) {
    std::ostringstream msg;
    msg << "TSM: num_classes, seg_num and seglen must be positive, got num_classes="
        << options.num_classes() << " seg_num=" << options.seg_num()
        << " seglen=" << options.seglen();
    throw std::invalid_argument(msg.str());
  }
  if (!(options.dropout() >= 0.0 && options.dropout() < 1.0)) {
    throw std::invalid_argument("TSM: dropout must be in [0, 1), got " +
                                std::to_string(options.dropout()));
  }
  shift_ranges(64, options.shift_ratio(), options.shift_direction());  // validates the ratio
  const int64_t seg_num = options.seg_num();
  const double ratio = options.shift_ratio();
  const ShiftDirection direction = options.shift_direction();
  // The shift on the residual branch of every block of every stage (spec §6.6: all 16 blocks
  // of ResNet-50, including the first block of each stage).
  const ResidualHookFactory hooks = [=](int64_t /*stage*/, int64_t /*block*/) -> ResidualHook {
    return [=](const torch::Tensor& x) { return temporal_shift(x, seg_num, ratio, direction); };
  };
  backbone = register_module("backbone", ResNet(ResNetOptions()
                                                    .depth(options.depth())
                                                    .in_channels(3 * options.seglen())
                                                    .num_classes(0)
                                                    .residual_hooks(hooks)));
  fc = register_module("fc", torch::nn::Linear(backbone->feature_dim(), options.num_classes()));
  init_fc_paddle(fc);
  fluid_dropout = nullptr;
  torch_dropout = nullptr;
  if (options.dropout() > 0.0) {
    if (options.dropout_impl() == DropoutImpl::kDowngradeInInfer) {
      fluid_dropout =
          register_module("dropout", FluidDropout(FluidDropoutOptions().p(options.dropout())));
    } else {
      torch_dropout = register_module(
          "dropout", torch::nn::Dropout(torch::nn::DropoutOptions().p(options.dropout())));
    }
  }
}

torch::Tensor TsmImpl::forward(const ModelInput& input) {
  const torch::Tensor& clips = input.at("video");
  const int64_t channels = 3 * options.seglen();
  const int64_t t = options.seg_num();
  if (clips.dim() != 5 || clips.size(1) != t || clips.size(2) != channels) {
    std::ostringstream msg;
    msg << "TSM expects clips [N, " << t << " (seg_num), " << channels << " (3*seglen), H, W], got "
        << clips.sizes() << " (the reader's seg_num must equal the network's)";
    throw std::invalid_argument(msg.str());
  }
  const int64_t n = clips.size(0);  // videos x views
  torch::Tensor x =
      clips.reshape({n * t, channels, clips.size(3), clips.size(4)});  // [N*T, C, H, W]
  x = backbone->forward_features(x);        // [N*T, F] (shift inside every block)
  if (fluid_dropout) x = fluid_dropout(x);  // [N*T, F]
  if (torch_dropout) x = torch_dropout(x);  // [N*T, F]
  x = x.view({n, t, -1});                   // [N, T, F]
  x = x.mean(1);                            // [N, F]  (average consensus)
  return fc(x);                             // [N, num_classes]
}

}  // namespace vc::models
