// The one interface every video network of vc_models implements.
#pragma once

#include <torch/torch.h>

#include <memory>

namespace vc::models {

/// A video classifier: clips in, logits out.
///
/// Input layout is [N, T, C, H, W] for frame-based networks (TSN, TSM, StNet: C = 3 * seglen)
/// and feature-based ones use their own documented layout. The output is raw logits
/// [N, num_classes]: no softmax/sigmoid is applied (losses and metrics apply them).
class VideoModelImpl : public torch::nn::Module {
 public:
  /// [N, T, C, H, W] -> logits [N, num_classes].
  virtual torch::Tensor forward(const torch::Tensor& clips) = 0;
  virtual ~VideoModelImpl() = default;
};

using VideoModelPtr = std::shared_ptr<VideoModelImpl>;

}  // namespace vc::models
