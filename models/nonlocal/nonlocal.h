// Non-local neural network (Wang et al. 2018) as the original PaddleCV/video NONLOCAL model
// (spec §6.8): a C2D (or I3D) ResNet-50/101 on 3-D clips with embedded-Gaussian non-local blocks
// after blocks idx % layer_mod == layer_mod - 1 of res3 (layer2) and res4 (layer3); pool5
// average-pool (kernel pool_kernel, stride 1); dropout; classifier `pred`.
//
// Model contract (models/video_model.h): input "video" float32 [N, 3, T, H, W] (normalised RGB,
// the Non-local reader's layout; multi-view batches are [N*V, 3, T, H, W]) -> [N, num_classes].
//   fc head (train / valid, fully_conv_head = false): pool5 must leave one position
//     ([N, F, 1, 1, 1]) -> dropout -> pred -> logits.
//   fully convolutional head (test / infer): pool5 -> [N, F, t, h, w] (1x2x2 for 256 crops) ->
//     pred at every position (the original's conv3d 1x1x1 with the same weights) -> softmax over
//     classes per position -> mean over positions = p [N, C]; returns log(p), whose softmax is p
//     (log-probabilities are valid logits), so the generic core's softmax scores equal the
//     original's.
// Dropout: as the June 2019 snapshot, applied only in training (Fluid semantics: 0/1 mask, no
// rescaling); dropout_at_eval = true is the 2019-07-19 fix (x(1-p) at evaluation).
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>

#include "models/common/dropout.h"
#include "models/common/nonlocal_block.h"
#include "models/common/resnet3d.h"
#include "models/video_model.h"

namespace vc::models {

struct NonlocalOptions {
  /// Classes of `pred` (Kinetics-400: 400).
  TORCH_ARG(int64_t, num_classes) = 400;
  /// Backbone depth: 50 or 101.
  TORCH_ARG(int64_t, depth) = 50;
  /// false = C2D (video_arc_choice 1 / 3), true = I3D (2 / 4).
  TORCH_ARG(bool, i3d) = false;
  /// Base width of the backbone (64 = ResNet-50; smaller for tiny nets).
  TORCH_ARG(int64_t, width) = 64;
  /// Init of every block's last BN gamma (MODEL.bn_init_gamma).
  TORCH_ARG(double, bn_init_gamma) = 0.0;
  /// Non-local blocks after blocks idx % layer_mod == layer_mod - 1 (depth 101: res4 uses 7).
  TORCH_ARG(int64_t, layer_mod) = 2;
  /// Non-local blocks in res3 (layer2) / res4 (layer3).
  TORCH_ARG(bool, conv3_nonlocal) = true;
  TORCH_ARG(bool, conv4_nonlocal) = true;
  /// Non-local block options (NONLOCAL.conv_init_std, bn_init_gamma, use_scale, use_maxpool).
  TORCH_ARG(double, nonlocal_conv_init_std) = 0.01;
  TORCH_ARG(double, nonlocal_bn_init_gamma) = 0.0;
  TORCH_ARG(bool, nonlocal_use_scale) = true;
  TORCH_ARG(bool, nonlocal_use_maxpool) = true;
  /// pool5 kernel [t, h, w] (stride 1, no padding): the trunk's output size for the training
  /// clips = [4, 7, 7] in the original. An axis of the trunk's output smaller than the kernel
  /// is pooled whole (the original fails there), so small clips run (tests, demos).
  TORCH_ARG(std::vector<int64_t>, pool_kernel) = std::vector<int64_t>{4, 7, 7};
  /// Dropout before pred (TRAIN.dropout_rate), Fluid semantics; 0 = none.
  TORCH_ARG(double, dropout) = 0.5;
  /// Also apply the dropout at evaluation (x(1-p)): the July 2019 fix; false = the snapshot.
  TORCH_ARG(bool, dropout_at_eval) = false;
  /// The test/infer head: softmax per pooled position, mean over positions (see above).
  TORCH_ARG(bool, fully_conv_head) = false;
  /// Std of pred's Normal init (MODEL.fc_init_std); bias 0.
  TORCH_ARG(double, fc_init_std) = 0.01;
};

/// The (stage, block) pairs after which non-local blocks go, stage 1..4 = layer1..4 (res2..5):
/// for each enabled stage s in {2, 3}, blocks b with b % mod == mod - 1, mod = layer_mod except
/// res4 of depth 101 (7), as the original.
std::vector<std::pair<int64_t, int64_t>> nonlocal_positions(const NonlocalOptions& options);

/// Submodules: "backbone" (ResNet3d, torchvision names: backbone.conv1.weight,
/// backbone.layer1.0.conv1.weight, ...), "nonlocal" (a ModuleDict "layer{s}_{b}" ->
/// NonLocalBlock: nonlocal.layer2_1.theta.weight, ...), "pred" (Linear F -> num_classes; the
/// conv3d 1x1x1 of the test head is the same matrix), "dropout" when > 0.
class NonlocalImpl : public VideoModelImpl {
 public:
  explicit NonlocalImpl(const NonlocalOptions& options = {});
  void reset();
  /// Reads input "video" [N, 3, T, H, W] -> [N, num_classes] (logits, or log-probabilities of
  /// the fully convolutional head).
  torch::Tensor forward(const ModelInput& input) override;
  /// The pooled features before dropout: [N, F, t, h, w].
  torch::Tensor forward_features(const torch::Tensor& video);

  NonlocalOptions options;
  ResNet3d backbone{nullptr};
  torch::nn::ModuleDict nonlocal{nullptr};
  torch::nn::Linear pred{nullptr};
  FluidDropout dropout{nullptr};  // null when options.dropout() == 0
};
TORCH_MODULE(Nonlocal);

}  // namespace vc::models
