// TSN — Temporal Segment Networks (spec §6.5): a 2-D ResNet applied to each of T segments
// (each segment = seglen stacked RGB frames, 3*seglen channels), average consensus over T,
// optional dropout, fc. T is read from the input, so a model trained with seg_num 3 tests with 7.
//
// Model contract (models/video_model.h): input "video" float32 [N, T, 3*seglen, H, W]
// (normalised RGB, segment-major) -> logits [N, num_classes].
#pragma once

#include <torch/torch.h>

#include "models/common/dropout.h"
#include "models/common/resnet.h"
#include "models/video_model.h"

namespace vc::models {

struct TsnOptions {
  /// Classes of the final fc (Kinetics-400: 400).
  TORCH_ARG(int64_t, num_classes) = 400;
  /// Consecutive frames stacked per segment; the trunk takes 3*seglen input channels.
  TORCH_ARG(int64_t, seglen) = 1;
  /// ResNet depth of the trunk: 18, 34, 50, 101 or 152.
  TORCH_ARG(int64_t, depth) = 50;
  /// Dropout before the fc, Fluid semantics (see models/common/dropout.h); 0 = none (Paddle TSN).
  TORCH_ARG(double, dropout) = 0.0;
};

/// Submodules: "backbone" (ResNet trunk without fc: backbone.conv1.weight, backbone.layer1.0...,
/// i.e. torchvision keys under "backbone."), "fc" (Linear F -> num_classes), "dropout" when > 0.
class TsnImpl : public VideoModelImpl {
 public:
  explicit TsnImpl(const TsnOptions& options = {});
  void reset();
  /// Reads input "video" [N, T, 3*seglen, H, W] -> logits [N, num_classes].
  torch::Tensor forward(const ModelInput& input) override;

  TsnOptions options;
  ResNet backbone{nullptr};
  torch::nn::Linear fc{nullptr};
  FluidDropout dropout{nullptr};  // null when options.dropout() == 0
};
TORCH_MODULE(Tsn);

}  // namespace vc::models
