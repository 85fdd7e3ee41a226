// Memory layout of a network's 2-D convolution weights for training: channels-last ("NHWC")
// instead of LibTorch's default NCHW.
//
// LibTorch's CPU convolutions (oneDNN) and batch norm follow the layout of their inputs and
// weights: with channels-last weights every 2-D convolution returns channels-last activations,
// BN / ReLU / pooling take them as they are, and the convolutions' forward and backward skip the
// conversions to and from oneDNN's layouts that NCHW tensors need on every call. The arithmetic is
// the same. Frame-wise 3-D convolution weights [O, I, 1, kh, kw] (Non-local's C2D trunk) are
// re-laid ChannelsLast3d, which, viewed [O, I, kh, kw], is a ChannelsLast 2-D weight: ResNet3d
// then trains in the frame-wise layout (models/common/resnet3d.h), each layer as the 2-D
// channels-last kernel over the clip's frames. Other 3-D weights are left alone: LibTorch
// 1.13's CPU conv3d returns NCDHW whatever the layout of its operands, so a channels-last-3d
// layout would only add conversions. Measured on a 2-core AVX-512 CPU (docs/benchmarks.md):
// StNet and TSN train steps about 10 % faster, TSM about the same, Non-local: see there.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace vc::models {

/// What to_channels_last changed.
struct ChannelsLastReport {
  int64_t weights_2d = 0;  ///< 4-D parameters (2-D conv weights), now ChannelsLast
  /// 5-D parameters [O, I, 1, kh, kw] (frame-wise 3-D conv weights), now ChannelsLast3d
  int64_t weights_frames = 0;
};

/// Re-lays every 4-D parameter of `module` (2-D conv weights) as ChannelsLast and every 5-D one
/// of temporal size 1 as ChannelsLast3d, in place: the
/// parameter tensors stay the same objects (optimizers and gradient hooks holding them see the
/// new layout), values unchanged. Other parameters and all buffers are left as they are.
/// Gradients of the re-laid parameters are dropped (their layout would no longer match). Call
/// before the optimizer's first step; layers written for channels-last inputs keep the layout
/// (e.g. TSM's shift, StNet's temporal blocks), others are free to return NCHW.
ChannelsLastReport to_channels_last(torch::nn::Module& module);

}  // namespace vc::models
