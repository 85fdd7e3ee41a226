// TSM — Temporal Shift Module network (spec §6.6): TSN's 2-D ResNet with a temporal shift
// (models/common/temporal_shift.h) on the input of every block's residual branch (the
// shortcut sees the unshifted input: the original's "residual shift", the official PyTorch
// `place='blockres'`), dropout on the per-frame features, average consensus over T, fc.
//
// Model contract (models/video_model.h): input "video" float32 [N, T, 3*seglen, H, W]
// (normalised RGB, segment-major) with T == seg_num (the shift mixes neighbouring frames of a
// clip, so the clip length is part of the network, as in the original); N may count several
// views of a video ([N*V, T, ...]) -> logits [N, num_classes].
#pragma once

#include <torch/torch.h>

#include <string>

#include "models/common/dropout.h"
#include "models/common/resnet.h"
#include "models/common/temporal_shift.h"
#include "models/video_model.h"

namespace vc::models {

struct TsmOptions {
  /// Classes of the final fc (Kinetics-400: 400).
  TORCH_ARG(int64_t, num_classes) = 400;
  /// Frames (segments) per clip, T: the shift's clip length. The input's T must equal it.
  TORCH_ARG(int64_t, seg_num) = 8;
  /// Consecutive frames stacked per segment; the trunk takes 3*seglen input channels.
  TORCH_ARG(int64_t, seglen) = 1;
  /// ResNet depth of the trunk: 18, 34, 50, 101 or 152.
  TORCH_ARG(int64_t, depth) = 50;
  /// Dropout probability on the per-frame features [N*T, F] (0 = none). The original: 0.5.
  TORCH_ARG(double, dropout) = 0.5;
  /// Dropout scaling: Fluid's (the original) or inverted (PyTorch TSM / mmaction2 weights).
  TORCH_ARG(DropoutImpl, dropout_impl) = DropoutImpl::kDowngradeInInfer;
  /// Fraction of channels shifted each way (1/8 in the original and the PyTorch TSM).
  TORCH_ARG(double, shift_ratio) = 0.125;
  /// Which channels move which way (see temporal_shift.h); kTorch for PyTorch-trained weights.
  TORCH_ARG(ShiftDirection, shift_direction) = ShiftDirection::kPaddle;
};

/// Submodules: "backbone" (ResNet trunk without fc, torchvision keys under "backbone."; the
/// shift has no parameters), "fc" (Linear F -> num_classes, Paddle's init; the original's
/// fc_0), "dropout" when dropout > 0 (no parameters).
class TsmImpl : public VideoModelImpl {
 public:
  explicit TsmImpl(const TsmOptions& options = {});
  void reset();
  /// Reads input "video" [N, seg_num, 3*seglen, H, W] -> logits [N, num_classes].
  torch::Tensor forward(const ModelInput& input) override;

  TsmOptions options;
  ResNet backbone{nullptr};
  torch::nn::Linear fc{nullptr};
  FluidDropout fluid_dropout{nullptr};        // when dropout > 0 and kDowngradeInInfer
  torch::nn::Dropout torch_dropout{nullptr};  // when dropout > 0 and kUpscaleInTrain
};
TORCH_MODULE(Tsm);

}  // namespace vc::models
