// A reusable 2-D ResNet trunk (depth 18/34/50/101/152) named exactly like torchvision's
// `torchvision.models.resnetXX`: conv1, bn1, layer1.0.conv1, layer1.0.bn1, ...,
// layer1.0.downsample.0 / .1, fc. So an ImageNet state dict from PyTorch loads by name.
//
// Architecture (spec §6.4): stem conv 7x7/2 (64) + BN + ReLU + max-pool 3x3/2 pad 1, then four
// stages of BasicBlocks (18/34) or Bottlenecks (50+; the stride is on the 3x3 conv, as in
// torchvision v1.5 and Paddle's branch2b), global average pool, optional fc.
// Init follows Paddle (§6.4, models/common/init.h): conv weights Normal(0, sqrt(2 / (k*k*C_in))),
// BN weight 1 bias 0, eps 1e-5, momentum 0.1 (= Paddle's 0.9); fc weight Uniform(+-1/sqrt(F)),
// bias 0.
//
// Hooks for the other networks on this trunk: a residual-branch hook per block
// (ResNetOptions::residual_hooks, TSM's temporal shift) and a stage-wise forward (stem,
// forward_stage / forward_block, pool) so that blocks can be inserted between stages.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "models/common/init.h"

namespace vc::models {

/// A function applied to the input of a block's residual branch (not to its shortcut): TSM's
/// temporal shift goes here. [B, C, H, W] -> [B, C, H, W].
using ResidualHook = std::function<torch::Tensor(const torch::Tensor&)>;
/// Chooses the hook of block `block` (0-based) of stage `stage` (1..4 = layer1..layer4); an
/// empty function = no hook for that block.
using ResidualHookFactory = std::function<ResidualHook(int64_t stage, int64_t block)>;

/// torchvision's BasicBlock (expansion 1): 3x3(stride) BN ReLU 3x3 BN, + shortcut, ReLU.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride, ResidualHook hook = nullptr);
  void reset();
  torch::Tensor forward(torch::Tensor x);

  int64_t in_planes, planes, stride;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  // conv1x1(stride) + BN, or null for identity
  ResidualHook residual_hook;                 // applied to the branch input; may be empty
};
TORCH_MODULE(BasicBlock);

/// torchvision's Bottleneck (expansion 4): 1x1 BN ReLU, 3x3(stride) BN ReLU, 1x1 BN,
/// + shortcut, ReLU. Equals Paddle's branch2a/2b/2c with branch1 as `downsample`.
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride, ResidualHook hook = nullptr);
  void reset();
  torch::Tensor forward(torch::Tensor x);

  int64_t in_planes, planes, stride;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
  ResidualHook residual_hook;  // applied to the branch input (before conv1); may be empty
};
TORCH_MODULE(Bottleneck);

struct ResNetOptions {
  /// Number of layers: 18, 34 (BasicBlock) or 50, 101, 152 (Bottleneck). Anything else is an
  /// error listing the valid depths.
  TORCH_ARG(int64_t, depth) = 50;
  /// Channels of the input image; 3 * seglen when TSN stacks seglen frames per segment.
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Classes of the final fc; 0 = no fc (trunk only, forward returns the pooled features).
  TORCH_ARG(int64_t, num_classes) = 0;
  /// Residual-branch hooks per block (TSM's temporal shift); empty = none.
  TORCH_ARG(ResidualHookFactory, residual_hooks) = nullptr;
};

/// The valid values of ResNetOptions::depth, ascending.
const std::vector<int64_t>& resnet_valid_depths();

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetOptions& options = {});
  void reset();

  /// Stage-wise forward, so that networks can insert blocks between stages (StNet after
  /// layer2 / layer3) or between blocks (Non-local inside res3 / res4):
  /// stem: [B, C_in, H, W] -> [B, 64, H/4, W/4] (conv1, bn1, relu, maxpool).
  torch::Tensor stem(torch::Tensor x);
  /// layer `stage` (1..4) as a whole.
  torch::Tensor forward_stage(int64_t stage, torch::Tensor x);
  /// One block of a stage: `block` in [0, num_blocks(stage)).
  torch::Tensor forward_block(int64_t stage, int64_t block, torch::Tensor x);
  int64_t num_blocks(int64_t stage) const;
  /// layer1..layer4 by number (1..4); throws std::out_of_range otherwise.
  torch::nn::Sequential& stage(int64_t stage);
  /// Global average pool + flatten: [B, F, h, w] -> [B, F].
  static torch::Tensor pool(const torch::Tensor& x);

  /// [B, C_in, H, W] -> [B, feature_dim()] (stem, layer1..4, pool).
  torch::Tensor forward_features(torch::Tensor x);
  /// [B, C_in, H, W] -> [B, num_classes] logits, or the features when num_classes == 0.
  torch::Tensor forward(torch::Tensor x);
  /// Width of the pooled features: 512 (18/34) or 2048 (50+).
  int64_t feature_dim() const;

  ResNetOptions options;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::MaxPool2d maxpool{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};  // null when options.num_classes() == 0

 private:
  torch::nn::Sequential make_layer(int64_t stage, int64_t planes, int64_t blocks, int64_t stride);
  bool bottleneck_ = true;
  int64_t in_planes_ = 64;
};
TORCH_MODULE(ResNet);

}  // namespace vc::models
