// StNet — "super-image" spatio-temporal network (spec §6.7, stnet_res_model.py): each of T
// segments is a super-image of seglen consecutive RGB frames stacked on the channel axis
// (3*seglen channels). A 2-D ResNet (spec §6.4, conv1 widened to 3*seglen input channels) runs
// per segment; temporal modelling blocks (conv3d (3,1,1) + bias -> ReLU -> BN3d -> + input) after
// res3 (torchvision layer2) and res4 (layer3); after res5 and global average pooling the temporal
// Xception block mixes the T feature vectors; global max over T; fc.
//
// Model contract (models/video_model.h): input "video" float32 [N, T, 3*seglen, H, W]
// (normalised RGB, segment-major, channel = frame_in_segment*3 + rgb) -> logits [N, num_classes].
// T is read from the input (7 in training, 25 at test in the original); multi-view batches
// [N*V, T, ...] are simply N*V videos.
//
// Widths: the original is ResNet-50 only (temporal blocks of 512 and 1024 channels, Xception
// 2048 -> 1024, fc 1024 -> classes). Other depths use the trunk's own widths: the temporal blocks
// take the output width of layer2 / layer3, the Xception block F -> F/2 with F the pooled width
// (512 for ResNet-18/34), so tiny demo configs work.
//
// Init (Fluid, spec §1.3, §6.7): trunk as models/common/resnet.h; conv3d and every Xception conv
// MSRA uniform U(+-sqrt(6/fan_in)) with bias 0; every BN scale 1 / offset 0, momentum 0.9 (torch
// 0.1), eps 1e-5; fc Uniform(+-1/sqrt(F)) where F is the pooled width (2048 for ResNet-50)
// although the fc's fan-in is F/2 (spec §9.3.7: the original's quirk, reproduced), bias 0.
#pragma once

#include <torch/torch.h>

#include "models/common/resnet.h"
#include "models/video_model.h"

namespace vc::models {

struct StnetOptions {
  /// Classes of the final fc (Kinetics-400: 400).
  TORCH_ARG(int64_t, num_classes) = 400;
  /// Consecutive frames per super-image; the trunk takes 3*seglen input channels.
  TORCH_ARG(int64_t, seglen) = 5;
  /// ResNet depth of the trunk: 18, 34, 50 (the original), 101 or 152.
  TORCH_ARG(int64_t, depth) = 50;
};

/// Temporal modelling block (spec §6.7 temporal_conv_bn): on [N*T, C, H, W] with T segments
/// per video: [N, C, T, H, W] -> conv3d C->C kernel (3,1,1) pad (1,0,0) + bias -> ReLU ->
/// BatchNorm3d -> + block input -> [N*T, C, H, W]. Submodules "conv" (Paddle conv3d_k), "bn"
/// (Paddle batch_norm_k).
class TemporalConvBnImpl : public torch::nn::Module {
 public:
  explicit TemporalConvBnImpl(int64_t channels);
  void reset();
  /// x [N*T, C, H, W], `segments` = T -> [N*T, C, H, W].
  torch::Tensor forward(const torch::Tensor& x, int64_t segments);

  int64_t channels;
  torch::nn::Conv3d conv{nullptr};
  torch::nn::BatchNorm3d bn{nullptr};
};
TORCH_MODULE(TemporalConvBn);

/// Temporal Xception block (spec §6.7 xception) on [N, F, T, 1]; every conv acts along T only.
/// bn (xception_bn, BN(F)) -> main path: att_conv (depthwise [3,1], groups F) -> att_2 (1x1
/// F->F/2) -> bndw (BN + ReLU) -> att1 (depthwise [3,1], groups F/2) -> att1_2 (1x1);
/// shortcut: dw (1x1 F->F/2) on bn's output; sum -> bn2 (BN) -> ReLU -> [N, F/2, T, 1].
/// Submodule names are Paddle's layer names without the "xception_" prefix.
class TemporalXceptionImpl : public torch::nn::Module {
 public:
  explicit TemporalXceptionImpl(int64_t in_channels);
  void reset();
  /// [N, F, T, 1] -> [N, F/2, T, 1].
  torch::Tensor forward(const torch::Tensor& x);

  int64_t in_channels, out_channels;
  torch::nn::BatchNorm2d bn{nullptr}, bndw{nullptr}, bn2{nullptr};
  torch::nn::Conv2d att_conv{nullptr}, att_2{nullptr}, att1{nullptr}, att1_2{nullptr}, dw{nullptr};
};
TORCH_MODULE(TemporalXception);

/// Submodules: "backbone" (ResNet trunk without fc, torchvision keys under "backbone."),
/// "temporal_res3" / "temporal_res4" (TemporalConvBn after layer2 / layer3), "xception"
/// (TemporalXception), "fc" (Linear F/2 -> num_classes).
class StnetImpl : public VideoModelImpl {
 public:
  explicit StnetImpl(const StnetOptions& options = {});
  void reset();
  /// Reads input "video" [N, T, 3*seglen, H, W] -> logits [N, num_classes].
  torch::Tensor forward(const ModelInput& input) override;

  StnetOptions options;
  ResNet backbone{nullptr};
  TemporalConvBn temporal_res3{nullptr}, temporal_res4{nullptr};
  TemporalXception xception{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Stnet);

}  // namespace vc::models
