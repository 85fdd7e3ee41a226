// Attention Cluster (spec §6.1): per modality a shifting attention unit (C attention clusters
// over the frames, each a softmax-weighted frame average, shifted by a learnable scalar scale and
// offset, L2-normalised and scaled by 1/sqrt(C)); the modalities' cluster vectors concatenated
// -> dropout -> fc1 tanh -> fc2 tanh -> logistic fc.
//
// Model contract (models/video_model.h): inputs "rgb" float32 [N, T, rgb_dim] and "audio"
// float32 [N, T, audio_dim], dequantized (the original: T = seg_num = 100 frames sampled by the
// reader); an optional "mask" [N, T] (1 = real frame) restricts the attention softmax to real
// frames (the original never pads: its reader always yields seg_num frames) -> logits
// [N, num_classes] (the original's output probabilities are sigmoid(logits)).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/common/dropout.h"
#include "models/video_model.h"

namespace vc::models {

struct ShiftingAttentionOptions {
  ShiftingAttentionOptions(int64_t feature_dim, int64_t cluster_num)
      : feature_dim_(feature_dim), cluster_num_(cluster_num) {}
  /// F: width of a frame's feature.
  TORCH_ARG(int64_t, feature_dim);
  /// C: number of attention clusters.
  TORCH_ARG(int64_t, cluster_num);
};

/// One modality's shifting attention (the original's `satt{i}`). Parameters, named as the
/// original's: "conv.weight" [C, F, 1, 1] (the 1x1 conv scoring each frame per cluster, MSRA
/// normal), "conv.bias" [C] (MSRA uniform), "shift_w" [C], "shift_b" [C] (Normal(0,
/// sqrt(1/sqrt(C)))).
class ShiftingAttentionImpl : public torch::nn::Module {
 public:
  explicit ShiftingAttentionImpl(const ShiftingAttentionOptions& options);
  void reset();
  /// x [N, L, F], mask [N, L] or undefined -> [N, C*F] (cluster-major).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});

  ShiftingAttentionOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::Tensor shift_w, shift_b;
};
TORCH_MODULE(ShiftingAttention);

struct AttentionClusterOptions {
  /// Classes of the logistic fc (YouTube-8M: 3862).
  TORCH_ARG(int64_t, num_classes) = 3862;
  /// Feature widths of "rgb" and "audio" (the original's feature_dims [1024, 128]).
  TORCH_ARG(int64_t, rgb_dim) = 1024;
  TORCH_ARG(int64_t, audio_dim) = 128;
  /// Attention clusters of the rgb and audio units (the original's cluster_nums [32, 32]).
  TORCH_ARG(int64_t, rgb_clusters) = 32;
  TORCH_ARG(int64_t, audio_clusters) = 32;
  /// Widths of fc1 and fc2 (fixed 1024 and 4096 in the original).
  TORCH_ARG(int64_t, fc1_size) = 1024;
  TORCH_ARG(int64_t, fc2_size) = 4096;
  /// Dropout probability before fc1 (the original's drop_rate 0.5; 0 = none).
  TORCH_ARG(double, dropout) = 0.5;
  /// Dropout scaling: Fluid's downgrade_in_infer (the original; x(1-p) at inference) or
  /// upscale_in_train.
  TORCH_ARG(DropoutImpl, dropout_impl) = DropoutImpl::kDowngradeInInfer;
};

/// Submodules, named as the original's parameters: "satt0" (rgb), "satt1" (audio), "fc1",
/// "fc2", "logistic" (torch Linear layout [out, in]: the original's `fc1.weights` [in, out]
/// transposed), "dropout" (no parameters).
class AttentionClusterImpl : public VideoModelImpl {
 public:
  explicit AttentionClusterImpl(const AttentionClusterOptions& options = {});
  void reset();
  /// Reads "rgb" [N, T, rgb_dim], "audio" [N, T, audio_dim], optional "mask" [N, T]
  /// -> logits [N, num_classes].
  torch::Tensor forward(const ModelInput& input) override;

  AttentionClusterOptions options;
  ShiftingAttention satt0{nullptr}, satt1{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, logistic{nullptr};
  FluidDropout fluid_dropout{nullptr};        // when dropout > 0 and kDowngradeInInfer
  torch::nn::Dropout torch_dropout{nullptr};  // when dropout > 0 and kUpscaleInTrain
};
TORCH_MODULE(AttentionCluster);

}  // namespace vc::models
