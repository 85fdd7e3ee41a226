#include "models/common/memory_format.h"

namespace vc::models {

ChannelsLastReport to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  ChannelsLastReport report;
  for (auto& p : module.parameters(/*recurse=*/true)) {
    if (p.dim() != 4) continue;
    if (!p.is_contiguous(torch::MemoryFormat::ChannelsLast)) {
      p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    ++report.weights_2d;
  }
  return report;
}

}  // namespace vc::models
