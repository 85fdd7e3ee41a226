// NeXtVLAD (spec §6.3): per modality a NeXtVLAD unit (per-frame expansion fc, sigmoid group
// attention, cluster soft-assignment with a frame-level BatchNorm and a softmax over the
// clusters, VLAD residuals against learned cluster centres, intra-normalisation, BatchNorm),
// then dropout -> hidden fc -> BatchNorm -> SE context gating -> logistic fc.
//
// Model contract (models/video_model.h): inputs "rgb" float32 [N, T, video_dim] and "audio"
// float32 [N, T, audio_dim] holding the RAW quantized values 0..255 (the original's June
// snapshot feeds uint8 and dequantizes in the graph: rgb = (x*4/255 - 2) * eigen_param, audio =
// x*4/255 - 2 + 4/512); with variable-length batches also "mask" [N, T] (1 = real frame; padded
// frames may hold anything). -> logits [N, num_classes] (the original's probabilities are
// sigmoid(logits)).
//
// Variable length: the original feeds LoD tensors (no padding), so its sums over frames and the
// frame-level BatchNorm's training statistics see only real frames. Here the sums are masked
// and, in training, the frame-level BatchNorm runs on the gathered real frames only (its batch
// statistics and running-stat update are those of the unpadded frames), so a video's logits do
// not depend on the padding of its batch.
#pragma once

#include <torch/torch.h>

#include "models/common/dropout.h"
#include "models/video_model.h"

namespace vc::models {

/// The multiplier of the rgb features, e[j] = sqrt(eigenvals[j]) + 1e-4 for j < width (spec
/// §6.3), from the PCA eigenvalues ([M, 1] or [M], M >= width, any float dtype; the original's
/// eigenvals.npy is float32 [2048, 1]). Throws std::invalid_argument on a wrong shape, fewer than
/// `width` values, or a negative or non-finite value among the first `width`.
torch::Tensor nextvlad_eigen_scale(const torch::Tensor& eigenvals, int64_t width = 1024);

struct NextVladUnitOptions {
  NextVladUnitOptions(int64_t feature_size) : feature_size_(feature_size) {}
  /// F: width of a frame's feature (1024 rgb, 128 audio).
  TORCH_ARG(int64_t, feature_size);
  /// K: clusters (the original's cluster_size 128).
  TORCH_ARG(int64_t, cluster_size) = 128;
  /// lambda: the expansion fc's width is lambda * F (the original: 2).
  TORCH_ARG(int64_t, expansion) = 2;
  /// G: groups (the original: 8); lambda * F must be divisible by G.
  TORCH_ARG(int64_t, groups) = 8;
};

/// One modality's NeXtVLAD (the original's `video_` / `audio_` prefix). Parameters:
/// "fc_expansion" (Linear F -> lambda*F; the original's `<p>fc_expansion_w/_b`),
/// "fc_group_attention" (Linear lambda*F -> G), "cluster_weights" [lambda*F, G*K] and
/// "cluster_weights2" [K, F'] with F' = lambda*F/G (the original's layout, used as is),
/// "cluster_bn" (BatchNorm over the G*K assignment logits of every real frame),
/// "vlad_bn" (BatchNorm over the K*F' VLAD vector).
class NextVladUnitImpl : public torch::nn::Module {
 public:
  explicit NextVladUnitImpl(const NextVladUnitOptions& options);
  void reset();
  /// x [N, T, F] (processed features), mask [N, T] or undefined (all frames real)
  /// -> [N, F'*K] (index f'*K + k).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  /// F' = lambda * F / G.
  int64_t group_feature_size() const;

  NextVladUnitOptions options;
  torch::nn::Linear fc_expansion{nullptr}, fc_group_attention{nullptr};
  torch::Tensor cluster_weights, cluster_weights2;
  torch::nn::BatchNorm1d cluster_bn{nullptr}, vlad_bn{nullptr};
};
TORCH_MODULE(NextVladUnit);

struct NextVladOptions {
  /// Classes of the logistic fc (YouTube-8M: 3862).
  TORCH_ARG(int64_t, num_classes) = 3862;
  /// Feature widths of "rgb" and "audio" (the original hard-codes 1024 and 128).
  TORCH_ARG(int64_t, video_feature_size) = 1024;
  TORCH_ARG(int64_t, audio_feature_size) = 128;
  /// K, lambda, G of both units.
  TORCH_ARG(int64_t, cluster_size) = 128;
  TORCH_ARG(int64_t, expansion) = 2;
  TORCH_ARG(int64_t, groups) = 8;
  /// Width of the hidden fc (2048) and the gating reduction (8: the gate's bottleneck is
  /// hidden_size / gating_reduction wide).
  TORCH_ARG(int64_t, hidden_size) = 2048;
  TORCH_ARG(int64_t, gating_reduction) = 8;
  /// Dropout probability before the hidden fc (0.5; 0 = none) and its scaling.
  TORCH_ARG(double, dropout) = 0.5;
  TORCH_ARG(DropoutImpl, dropout_impl) = DropoutImpl::kDowngradeInInfer;
  /// The rgb multiplier e [video_feature_size] (nextvlad_eigen_scale of the PCA eigenvalues);
  /// undefined = ones. Kept in the buffer "eigen_param" (part of the state dict, as the
  /// original's non-trainable parameter of that name).
  TORCH_ARG(torch::Tensor, eigen_scale) = {};
};

/// Submodules / tensors, named after the original's: "eigen_param" (buffer [video_dim]),
/// "video" and "audio" (NextVladUnit), "dropout", "hidden1_fc" (no bias), "hidden1_bn",
/// "gating_fc1" (no bias), "gating_bn", "gating_fc2" (no bias), "logits_clf" (with bias).
/// Linear weights are torch's [out, in] (the original's [in, out] transposed).
class NextVladImpl : public VideoModelImpl {
 public:
  explicit NextVladImpl(const NextVladOptions& options = {});
  void reset();
  /// Reads "rgb" [N, T, video_dim], "audio" [N, T, audio_dim] (raw 0..255), optional "mask"
  /// [N, T] -> logits [N, num_classes].
  torch::Tensor forward(const ModelInput& input) override;

  NextVladOptions options;
  torch::Tensor eigen_param;
  NextVladUnit video{nullptr}, audio{nullptr};
  FluidDropout fluid_dropout{nullptr};
  torch::nn::Dropout torch_dropout{nullptr};
  torch::nn::Linear hidden1_fc{nullptr}, gating_fc1{nullptr}, gating_fc2{nullptr},
      logits_clf{nullptr};
  torch::nn::BatchNorm1d hidden1_bn{nullptr}, gating_bn{nullptr};
};
TORCH_MODULE(NextVlad);

}  // namespace vc::models
