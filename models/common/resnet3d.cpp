#include "models/common/resnet3d.h"

#include <array>
#include <sstream>
#include <stdexcept>
#include <string>

#include "models/common/init.h"

namespace vc::models {
namespace {

torch::nn::Conv3d conv3d(int64_t in, int64_t out, std::vector<int64_t> k, std::vector<int64_t> s,
                         std::vector<int64_t> p) {
  auto conv =
      torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, k).stride(s).padding(p).bias(false));
  init_msra_fluid(conv->weight, /*uniform=*/true);
  return conv;
}

torch::nn::BatchNorm3d bn3d(int64_t c, double gamma = 1.0) {
  // LibTorch momentum 0.1 == Fluid momentum 0.9; eps 1e-5 (spec §1.2).
  auto bn = torch::nn::BatchNorm3d(torch::nn::BatchNormOptions(c).eps(1e-5).momentum(0.1));
  torch::NoGradGuard no_grad;
  bn->weight.fill_(gamma);
  bn->bias.zero_();
  return bn;
}

// [N, C, T, H, W] in the frame-wise layout -> its frames [N*T, C, H, W] (ChannelsLast), a view.
torch::Tensor frames_of(const torch::Tensor& x) {
  return x.permute({0, 2, 1, 3, 4})
      .reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}

// Frames [N*T, C, H, W] -> [N, C, T, H, W]; a view of channels-last frames (frame-wise layout).
torch::Tensor clip_of(const torch::Tensor& frames, int64_t n) {
  return frames.reshape({n, frames.size(0) / n, frames.size(1), frames.size(2), frames.size(3)})
      .permute({0, 2, 1, 3, 4});
}

// Identity whose backward hands the gradient on in the frame-wise layout.
struct FramesGradientFunction : public torch::autograd::Function<FramesGradientFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& x) {
    return x;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grads) {
    return {grads[0].contiguous(torch::MemoryFormat::ChannelsLast3d)};
  }
};

}  // namespace

torch::Tensor frames_gradient(const torch::Tensor& x) {
  if (!torch::GradMode::is_enabled() || !x.requires_grad()) return x;
  return FramesGradientFunction::apply(x);
}

bool is_frames_layout(const torch::Tensor& x) {
  return x.dim() == 5 && x.is_contiguous(torch::MemoryFormat::ChannelsLast3d) && !x.is_contiguous();
}

bool is_frames_weight(const torch::Tensor& w) {
  return w.dim() == 5 && w.size(2) == 1 && w.is_contiguous(torch::MemoryFormat::ChannelsLast3d) &&
         !w.is_contiguous();
}

torch::Tensor conv3d_frames(torch::nn::Conv3dImpl& conv, const torch::Tensor& x) {
  const auto& o = conv.options;
  const auto* pad = c10::get_if<torch::ExpandingArray<3>>(&o.padding());
  const bool frame_wise = pad != nullptr && (*pad)->at(0) == 0 && o.kernel_size()->at(0) == 1 &&
                          o.stride()->at(0) == 1 && !o.transposed() &&
                          c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode());
  if (!frame_wise || !is_frames_layout(x)) return conv.forward(x);
  const std::array<int64_t, 2> stride{o.stride()->at(1), o.stride()->at(2)};
  const std::array<int64_t, 2> padding{(*pad)->at(1), (*pad)->at(2)};
  const std::array<int64_t, 2> dilation{o.dilation()->at(1), o.dilation()->at(2)};
  const torch::Tensor y = torch::conv2d(frames_of(x), conv.weight.squeeze(2), conv.bias, stride,
                                        padding, dilation, o.groups());
  return clip_of(y, x.size(0));  // [N, O, T, H', W']
}

torch::Tensor batch_norm_frames(torch::nn::BatchNorm3dImpl& bn, const torch::Tensor& x) {
  if (!is_frames_layout(x)) return bn.forward(x);
  const auto& o = bn.options;
  if (x.size(1) != o.num_features()) return bn.forward(x);  // bn's own error message
  // As torch::nn::BatchNormImplBase::forward.
  double factor = o.momentum().value_or(0.0);
  if (bn.is_training() && o.track_running_stats() && bn.num_batches_tracked.defined()) {
    torch::NoGradGuard no_grad;
    bn.num_batches_tracked += 1;
    if (!o.momentum().has_value()) factor = 1.0 / bn.num_batches_tracked.item<double>();
  }
  const torch::Tensor y =
      torch::batch_norm(frames_of(x), bn.weight, bn.bias, bn.running_mean, bn.running_var,
                        bn.is_training() || !o.track_running_stats(), factor, o.eps(),
                        at::globalContext().userEnabledCuDNN());
  return clip_of(y, x.size(0));
}

torch::Tensor max_pool_time(const torch::Tensor& x, int64_t kt) {
  if (!is_frames_layout(x) || kt < 1 || x.size(2) < kt) {
    return torch::max_pool3d(x, {kt, 1, 1}, {kt, 1, 1});  // its own errors
  }
  const int64_t n = x.size(0), c = x.size(1), t = x.size(2) / kt, h = x.size(3), w = x.size(4);
  const torch::Tensor nthwc = x.permute({0, 2, 3, 4, 1});  // contiguous [N, T, H, W, C]
  const torch::Tensor y = std::get<0>(
      nthwc.narrow(1, 0, t * kt).reshape({n, t, kt, h * w * c}).max(2));  // [N, T/kt, HWC]
  return y.view({n, t, h, w, c}).permute({0, 4, 1, 2, 3});                // [N, C, T/kt, H, W]
}

torch::Tensor max_pool_frames(const torch::Tensor& x, int64_t kh, int64_t kw, int64_t sh,
                              int64_t sw, int64_t ph, int64_t pw) {
  if (x.dim() != 5) {
    std::ostringstream msg;
    msg << "max_pool_frames expects [N, C, T, H, W], got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  const int64_t n = x.size(0), c = x.size(1), t = x.size(2);
  if (is_frames_layout(x)) {
    return clip_of(torch::max_pool2d(frames_of(x), {kh, kw}, {sh, sw}, {ph, pw}), n);
  }
  const torch::Tensor y = torch::max_pool2d(x.reshape({n, c * t, x.size(3), x.size(4)}), {kh, kw},
                                            {sh, sw}, {ph, pw});  // [N, C*T, H', W']
  return y.view({n, c, t, y.size(2), y.size(3)});
}

bool i3d_use_temp_conv(int64_t stage, int64_t block) {
  switch (stage) {
    case 1:
      return true;  // res2 [1, 1, 1]
    case 2:
    case 3:
      return block % 2 == 0;  // res3 [1,0,1,0], res4 [1,0,1,0,1,0] (alternating for 101)
    case 4:
      return block == 1;  // res5 [0, 1, 0]
    default:
      throw std::out_of_range("i3d_use_temp_conv: stage " + std::to_string(stage) +
                              " is not in 1..4");
  }
}

Bottleneck3dImpl::Bottleneck3dImpl(int64_t in_planes_, int64_t planes_, int64_t stride_,
                                   bool use_temp_conv_, double bn_init_gamma_)
    : in_planes(in_planes_),
      planes(planes_),
      stride(stride_),
      use_temp_conv(use_temp_conv_),
      bn_init_gamma(bn_init_gamma_) {
  reset();
}

void Bottleneck3dImpl::reset() {
  const int64_t u = use_temp_conv ? 1 : 0;
  conv1 =
      register_module("conv1", conv3d(in_planes, planes, {1 + 2 * u, 1, 1}, {1, 1, 1}, {u, 0, 0}));
  bn1 = register_module("bn1", bn3d(planes));
  conv2 =
      register_module("conv2", conv3d(planes, planes, {1, 3, 3}, {1, stride, stride}, {0, 1, 1}));
  bn2 = register_module("bn2", bn3d(planes));
  conv3 = register_module("conv3",
                          conv3d(planes, planes * kExpansion, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}));
  bn3 = register_module("bn3", bn3d(planes * kExpansion, bn_init_gamma));
  if (stride != 1 || in_planes != planes * kExpansion) {
    downsample = register_module(
        "downsample", torch::nn::Sequential(conv3d(in_planes, planes * kExpansion, {1, 1, 1},
                                                   {1, stride, stride}, {0, 0, 0}),
                                            bn3d(planes * kExpansion)));
  } else {
    downsample = nullptr;
  }
}

torch::Tensor Bottleneck3dImpl::forward(torch::Tensor x) {
  // Each layer as its 2-D kernel when x is in the frame-wise layout (resnet3d.h).
  torch::Tensor out = torch::relu(batch_norm_frames(*bn1, conv3d_frames(*conv1, x)));
  out =
      torch::relu(batch_norm_frames(*bn2, conv3d_frames(*conv2, out)));  // [N, planes, T, H/s, W/s]
  out = batch_norm_frames(*bn3, conv3d_frames(*conv3, out));  // [N, 4*planes, T, H/s, W/s]
  torch::Tensor shortcut =
      downsample ? batch_norm_frames(*downsample[1]->as<torch::nn::BatchNorm3dImpl>(),
                                     conv3d_frames(*downsample[0]->as<torch::nn::Conv3dImpl>(), x))
                 : x;
  return torch::relu(out + shortcut);  // [N, 4*planes, T, H/s, W/s]
}

ResNet3dImpl::ResNet3dImpl(const ResNet3dOptions& options_) : options(options_) { reset(); }

void ResNet3dImpl::reset() {
  switch (options.depth()) {
    case 50:
      blocks_ = {3, 4, 6, 3};
      break;
    case 101:
      blocks_ = {3, 4, 23, 3};
      break;
    default: {
      std::ostringstream msg;
      msg << "ResNet3d: depth " << options.depth() << " is not one of 50, 101";
      throw std::invalid_argument(msg.str());
    }
  }
  if (options.width() < 1) {
    throw std::invalid_argument("ResNet3d: width must be >= 1, got " +
                                std::to_string(options.width()));
  }
  const int64_t w = options.width();
  const int64_t kt = options.i3d() ? 5 : 1;
  conv1 = register_module("conv1", conv3d(3, w, {kt, 7, 7}, {1, 2, 2}, {kt / 2, 3, 3}));
  bn1 = register_module("bn1", bn3d(w));
  maxpool = register_module(
      "maxpool",
      torch::nn::MaxPool3d(torch::nn::MaxPool3dOptions({1, 3, 3}).stride({1, 2, 2}).padding(0)));
  pool2 = register_module(
      "pool2", torch::nn::MaxPool3d(torch::nn::MaxPool3dOptions({2, 1, 1}).stride({2, 1, 1})));
  int64_t in_planes = w;
  for (int64_t s = 1; s <= 4; ++s) {
    torch::nn::Sequential layer;
    const int64_t planes = w << (s - 1);
    for (int64_t b = 0; b < blocks_[s - 1]; ++b) {
      const int64_t stride = (b == 0 && s > 1) ? 2 : 1;
      const bool temp = options.i3d() && i3d_use_temp_conv(s, b);
      layer->push_back(Bottleneck3d(in_planes, planes, stride, temp, options.bn_init_gamma()));
      in_planes = planes * Bottleneck3dImpl::kExpansion;
    }
    stage(s) = register_module("layer" + std::to_string(s), layer);
  }
}

torch::nn::Sequential& ResNet3dImpl::stage(int64_t s) {
  switch (s) {
    case 1:
      return layer1;
    case 2:
      return layer2;
    case 3:
      return layer3;
    case 4:
      return layer4;
    default:
      throw std::out_of_range("ResNet3d: stage " + std::to_string(s) + " is not in 1..4");
  }
}

int64_t ResNet3dImpl::num_blocks(int64_t s) const {
  if (s < 1 || s > 4) {
    throw std::out_of_range("ResNet3d: stage " + std::to_string(s) + " is not in 1..4");
  }
  return blocks_[s - 1];
}

int64_t ResNet3dImpl::stage_channels(int64_t s) const {
  num_blocks(s);  // range check
  return (options.width() << (s - 1)) * Bottleneck3dImpl::kExpansion;
}

torch::Tensor ResNet3dImpl::stem(torch::Tensor x) {
  if (x.dim() != 5 || x.size(1) != 3) {
    std::ostringstream msg;
    msg << "ResNet3d expects [N, 3, T, H, W], got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  // Training with a frame-wise conv1 weight laid out channels-last (TRAIN.channels_last): the
  // whole trunk in the frame-wise layout (resnet3d.h), one copy of the input here.
  if (is_training() && is_frames_weight(conv1->weight)) {
    x = x.contiguous(torch::MemoryFormat::ChannelsLast3d);
  }
  x = torch::relu(batch_norm_frames(*bn1, conv3d_frames(*conv1, x)));  // [N, w, T, H/2, W/2]
  // [N, w, T, (H/2-3)/2+1, (W/2-3)/2+1]
  return is_training() || is_frames_layout(x) ? max_pool_frames(x, 3, 3, 2, 2) : maxpool(x);
}

torch::Tensor ResNet3dImpl::forward_block(int64_t s, int64_t block, torch::Tensor x) {
  if (block < 0 || block >= num_blocks(s)) {
    throw std::out_of_range("ResNet3d: block " + std::to_string(block) + " of stage " +
                            std::to_string(s) + " out of range");
  }
  return stage(s)[block]->as<Bottleneck3dImpl>()->forward(x);
}

torch::Tensor ResNet3dImpl::forward_features(torch::Tensor x, const BlockInsertHook& after_block) {
  x = stem(x);  // [N, w, T, H1, W1]
  for (int64_t s = 1; s <= 4; ++s) {
    for (int64_t b = 0; b < num_blocks(s); ++b) {
      x = forward_block(s, b, x);  // [N, C_s, T_s, H_s, W_s]
      if (after_block) x = after_block(s, b, x);
    }
    if (s == 1) x = is_frames_layout(x) ? max_pool_time(x, 2) : pool2(x);  // [N, 4w, T/2, H1, W1]
  }
  // The head's pooling (avg_pool3d) hands back an NCDHW gradient; re-laid here once, the
  // trunk's backward stays in the frame-wise layout (else every ReLU and BN backward of the
  // residual path mixes layouts: 4-6x slower).
  if (is_frames_layout(x)) x = frames_gradient(x);
  return x;  // [N, 32w, T/2, H/32-ish, W/32-ish]
}

}  // namespace vc::models
