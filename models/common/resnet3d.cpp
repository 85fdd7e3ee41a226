#include "models/common/resnet3d.h"

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

}  // namespace

torch::Tensor max_pool_frames(const torch::Tensor& x, int64_t kh, int64_t kw, int64_t sh,
                              int64_t sw, int64_t ph, int64_t pw) {
  if (x.dim() != 5) {
    std::ostringstream msg;
    msg << "max_pool_frames expects [N, C, T, H, W], got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  const int64_t n = x.size(0), c = x.size(1), t = x.size(2);
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
  torch::Tensor out = torch::relu(bn1(conv1(x)));  // [N, planes, T, H, W]
  out = torch::relu(bn2(conv2(out)));              // [N, planes, T, H/s, W/s]
  out = bn3(conv3(out));                           // [N, 4*planes, T, H/s, W/s]
  torch::Tensor shortcut = downsample ? downsample->forward(x) : x;
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
  x = torch::relu(bn1(conv1(x)));  // [N, w, T, H/2, W/2]
  // [N, w, T, (H/2-3)/2+1, (W/2-3)/2+1]
  return is_training() ? max_pool_frames(x, 3, 3, 2, 2) : maxpool(x);
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
    if (s == 1) x = pool2(x);  // [N, 4w, T/2, H1, W1]
  }
  return x;  // [N, 32w, T/2, H/32-ish, W/32-ish]
}

}  // namespace vc::models
