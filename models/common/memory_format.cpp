#include "models/common/memory_format.h"

namespace vc::models {

ChannelsLastReport to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  ChannelsLastReport report;
  for (auto& p : module.parameters(/*recurse=*/true)) {
    const bool frames = p.dim() == 5 && p.size(2) == 1;
    if (p.dim() != 4 && !frames) continue;
    const auto format =
        frames ? torch::MemoryFormat::ChannelsLast3d : torch::MemoryFormat::ChannelsLast;
    if (!p.is_contiguous(format)) p.set_data(p.contiguous(format));
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    ++(frames ? report.weights_frames : report.weights_2d);
  }
  return report;
}

}  // namespace vc::models
