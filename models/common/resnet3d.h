// A 3-D ResNet trunk (depth 50 / 101, bottleneck blocks) as the original Non-local network's
// `resnet_video.py` / `resnet_helper.py` (spec §6.8), with torchvision's submodule names (conv1,
// bn1, layer1.0.conv1, layer1.0.downsample.0 / .1, ...) so that weight import is a table.
//
// Architecture (C2D, the released Non-local backbone; spec §6.8):
//   conv1  conv3d 3->64 kernel [kt,7,7] stride [1,2,2] pad [kt/2,3,3] no bias (kt = 1 for C2D,
//          5 for I3D) -> bn1 -> ReLU -> maxpool [1,3,3] stride [1,2,2] PADDING 0
//   layer1 (res2) 3 bottlenecks, inner 64, out 256 -> pool2: max-pool [2,1,1] stride [2,1,1]
//   layer2 (res3) 4 blocks, inner 128, out 512, first block spatial stride 2
//   layer3 (res4) 6 (23 for depth 101) blocks, inner 256, out 1024, stride 2
//   layer4 (res5) 3 blocks, inner 512, out 2048, stride 2
// Bottleneck (branch2a/2b/2c): conv1 [1+2u,1,1] pad [u,0,0] (u = use_temp_conv: I3D pattern),
// conv2 [1,3,3] stride [1,s,s] pad [0,1,1], conv3 [1,1,1], each + BN (+ ReLU except the last);
// shortcut conv [1,1,1] stride [1,s,s] + BN when the shape changes; ReLU(branch + shortcut).
// Init: every conv MSRA-uniform U(+-sqrt(6/fan_in)) (Fluid MSRA(uniform=True)), no bias; BN
// gamma 1 / beta 0, except the last BN of every block (bn3), whose gamma is `bn_init_gamma`
// (0 in the original). BN momentum 0.1 (= Fluid 0.9), eps 1e-5.
//
// A hook inserts blocks between the blocks of a stage: forward_features(x, after_block) calls
// after_block(stage, block, x) after every block (Non-local inserts its blocks there; the
// modules belong to the caller).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace vc::models {

/// Applied after block `block` (0-based) of stage `stage` (1..4 = layer1..layer4) to its output
/// [N, C, T, H, W]; returns the tensor the next block reads (return x unchanged for none).
using BlockInsertHook =
    std::function<torch::Tensor(int64_t stage, int64_t block, const torch::Tensor& x)>;

/// The 3-D bottleneck (Paddle branch2a/2b/2c, torchvision names conv1..3 / bn1..3).
class Bottleneck3dImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  /// use_temp_conv: temporal kernel 3 (pad 1) on conv1 (I3D); bn_init_gamma: init of bn3.weight.
  Bottleneck3dImpl(int64_t in_planes, int64_t planes, int64_t stride, bool use_temp_conv,
                   double bn_init_gamma);
  void reset();
  /// [N, in_planes, T, H, W] -> [N, 4*planes, T, H/stride, W/stride].
  torch::Tensor forward(torch::Tensor x);

  int64_t in_planes, planes, stride;
  bool use_temp_conv;
  double bn_init_gamma;
  torch::nn::Conv3d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm3d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // conv [1,1,1] stride [1,s,s] + BN, or null
};
TORCH_MODULE(Bottleneck3d);

struct ResNet3dOptions {
  /// 50 or 101 (bottleneck blocks [3,4,6,3] / [3,4,23,3]); anything else is an error.
  TORCH_ARG(int64_t, depth) = 50;
  /// false = C2D (every temporal kernel 1), true = I3D (conv1 temporal kernel 5 and the
  /// use_temp_conv pattern: res2 [1,1,1], res3 [1,0,1,0], res4 [1,0,...] alternating, res5
  /// [0,1,0]).
  TORCH_ARG(bool, i3d) = false;
  /// Width of the first stage (RESNETS.width_per_group * num_groups = 64); the stages are
  /// w, 2w, 4w, 8w wide inside the blocks and 4x that at their outputs. Smaller = a tiny net.
  TORCH_ARG(int64_t, width) = 64;
  /// Init of the last BN gamma of every block (MODEL.bn_init_gamma; 0 = zero-init).
  TORCH_ARG(double, bn_init_gamma) = 0.0;
};

class ResNet3dImpl : public torch::nn::Module {
 public:
  explicit ResNet3dImpl(const ResNet3dOptions& options = {});
  void reset();

  /// conv1, bn1, ReLU, maxpool: [N, 3, T, H, W] -> [N, w, T, (H/2-3)/2+1, ...].
  torch::Tensor stem(torch::Tensor x);
  /// One block of a stage (1..4), block in [0, num_blocks(stage)).
  torch::Tensor forward_block(int64_t stage, int64_t block, torch::Tensor x);
  int64_t num_blocks(int64_t stage) const;
  /// layer1..layer4 by number; throws std::out_of_range otherwise.
  torch::nn::Sequential& stage(int64_t stage);
  /// Channels at the output of stage (1..4): 4w, 8w, 16w, 32w.
  int64_t stage_channels(int64_t stage) const;
  /// The whole trunk: [N, 3, T, H, W] -> [N, 32w, T/2, H', W'] (stem, layer1, pool2, layer2..4),
  /// calling `after_block` (if set) after every block.
  torch::Tensor forward_features(torch::Tensor x, const BlockInsertHook& after_block = nullptr);
  /// Channels of the trunk's output: 32 * width (2048 for width 64).
  int64_t feature_dim() const { return 32 * options.width(); }

  ResNet3dOptions options;
  torch::nn::Conv3d conv1{nullptr};
  torch::nn::BatchNorm3d bn1{nullptr};
  torch::nn::MaxPool3d maxpool{nullptr};  // pool1 [1,3,3] / [1,2,2], padding 0
  torch::nn::MaxPool3d pool2{nullptr};    // [2,1,1] / [2,1,1] after layer1
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};

 private:
  std::vector<int64_t> blocks_;
};
TORCH_MODULE(ResNet3d);

/// use_temp_conv of block `block` of stage 1..4 in the I3D pattern (spec §6.8).
bool i3d_use_temp_conv(int64_t stage, int64_t block);

// Frame-wise layout. A [N, C, T, H, W] tensor in ChannelsLast3d memory (element order n, t, h, w,
// c) is, without a copy, the [N*T, C, H, W] ChannelsLast tensor of its frames. A C2D network's
// layers (every temporal kernel 1) then run as LibTorch's 2-D channels-last kernels on that view:
// oneDNN's 2-D convolutions skip the layout conversions of conv3d on NCDHW (one core, Non-local's
// trunk shapes, forward + backward: 1130 vs 1514 ms, docs/benchmarks.md), batch norm and pooling
// take the channels-last kernels, and the non-local block's [N, T*H*W, C'] operands are views.
// The helpers below take that path when their input is in that layout and the layer is
// frame-wise, and the plain 3-D module otherwise: the same values and gradients either way.
// ResNet3d enters the layout in training when conv1's weight is ChannelsLast3d
// (models/common/memory_format.h: to_channels_last, TRAIN.channels_last).

/// x is 5-D, ChannelsLast3d and not also contiguous (the frame-wise layout above).
bool is_frames_layout(const torch::Tensor& x);
/// A frame-wise 3-D convolution weight [O, I, 1, kh, kw] laid out ChannelsLast3d.
bool is_frames_weight(const torch::Tensor& w);
/// conv(x). When x is in the frame-wise layout and conv is frame-wise (temporal kernel and
/// stride 1, temporal padding 0, zero padding): conv2d over the frames with the weight viewed
/// [O, I, kh, kw]; the result is in the frame-wise layout.
torch::Tensor conv3d_frames(torch::nn::Conv3dImpl& conv, const torch::Tensor& x);
/// bn(x). When x is in the frame-wise layout: LibTorch's batch norm over the frames (the same
/// statistics over N, T, H, W; running statistics and num_batches_tracked updated as bn does).
torch::Tensor batch_norm_frames(torch::nn::BatchNorm3dImpl& bn, const torch::Tensor& x);
/// x, with the gradient that flows back into it re-laid in the frame-wise layout (a copy when
/// it comes in another, e.g. from avg_pool3d's backward, which returns NCDHW).
torch::Tensor frames_gradient(const torch::Tensor& x);
/// max_pool3d(x, kernel [kt, 1, 1], stride [kt, 1, 1]) (Non-local's pool2), for x in the
/// frame-wise layout: the maximum of each kt consecutive frames, a trailing remainder dropped as
/// max_pool3d does; the same values and gradients. Other layouts take max_pool3d.
torch::Tensor max_pool_time(const torch::Tensor& x, int64_t kt);

/// max_pool3d(x [N, C, T, H, W], kernel [1, kh, kw], stride [1, sh, sw], padding [0, ph, pw]) as
/// LibTorch's 2-D max pooling: over the frames for x in the frame-wise layout, else over x
/// viewed as [N, C*T, H, W]. The same values and gradients, and on CPU ~2.5x faster forward +
/// backward than max_pool3d (Non-local's stem pool [1, 64, 8, 112, 112], one core: 48 vs
/// 125 ms). The networks use it in training; in evaluation they keep max_pool3d, which the
/// traced fast path runs on oneDNN tensors in place.
torch::Tensor max_pool_frames(const torch::Tensor& x, int64_t kh, int64_t kw, int64_t sh,
                              int64_t sw, int64_t ph = 0, int64_t pw = 0);

}  // namespace vc::models
