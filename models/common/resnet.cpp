#include "models/common/resnet.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace vc::models {

namespace {

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  torch::nn::Conv2d conv(
      torch::nn::Conv2dOptions(in, out, k).stride(stride).padding((k - 1) / 2).bias(false));
  init_conv_paddle(conv);
  return conv;
}

torch::nn::BatchNorm2d make_bn(int64_t channels) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(channels).eps(1e-5).momentum(0.1));
  init_bn_paddle(bn);
  return bn;
}

// conv1x1(stride) + BN when the shortcut changes shape, else null (identity).
torch::nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) {
    return torch::nn::Sequential(nullptr);
  }
  return torch::nn::Sequential(make_conv(in, out, 1, stride), make_bn(out));
}

// Blocks per stage for each depth.
std::vector<int64_t> stage_blocks(int64_t depth) {
  switch (depth) {
    case 18:
      return {2, 2, 2, 2};
    case 34:
      return {3, 4, 6, 3};
    case 50:
      return {3, 4, 6, 3};
    case 101:
      return {3, 4, 23, 3};
    case 152:
      return {3, 8, 36, 3};
    default:
      break;
  }
  std::ostringstream msg;
  msg << "ResNet depth " << depth << " is not supported; valid depths: ";
  const auto& valid = resnet_valid_depths();
  for (size_t i = 0; i < valid.size(); ++i) msg << (i ? ", " : "") << valid[i];
  throw std::invalid_argument(msg.str());
}

}  // namespace

void init_conv_paddle(torch::nn::Conv2d& conv) {
  torch::NoGradGuard no_grad;
  const auto& w = conv->weight;  // [O, I, kh, kw]
  const double fan_in = static_cast<double>(w.size(1) * w.size(2) * w.size(3));
  torch::nn::init::normal_(conv->weight, 0.0, std::sqrt(2.0 / fan_in));
  if (conv->bias.defined()) conv->bias.zero_();
}

void init_bn_paddle(torch::nn::BatchNorm2d& bn) {
  torch::NoGradGuard no_grad;
  bn->weight.fill_(1.0);
  bn->bias.zero_();
}

void init_fc_paddle(torch::nn::Linear& fc) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fc->weight.size(1)));
  torch::nn::init::uniform_(fc->weight, -bound, bound);
  fc->bias.zero_();
}

const std::vector<int64_t>& resnet_valid_depths() {
  static const std::vector<int64_t> depths{18, 34, 50, 101, 152};
  return depths;
}

// ---------------------------------------------------------------------------------------------
BasicBlockImpl::BasicBlockImpl(int64_t in_planes_, int64_t planes_, int64_t stride_)
    : in_planes(in_planes_), planes(planes_), stride(stride_) {
  reset();
}

void BasicBlockImpl::reset() {
  conv1 = register_module("conv1", make_conv(in_planes, planes, 3, stride));
  bn1 = register_module("bn1", make_bn(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, 1));
  bn2 = register_module("bn2", make_bn(planes));
  downsample = make_downsample(in_planes, planes * kExpansion, stride);
  if (downsample) register_module("downsample", downsample);
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  torch::Tensor identity = downsample ? downsample->forward(x) : x;  // [B, planes, H/s, W/s]
  torch::Tensor out = torch::relu(bn1(conv1(x)));                    // [B, planes, H/s, W/s]
  out = bn2(conv2(out));                                             // [B, planes, H/s, W/s]
  return torch::relu(out + identity);
}

// ---------------------------------------------------------------------------------------------
BottleneckImpl::BottleneckImpl(int64_t in_planes_, int64_t planes_, int64_t stride_)
    : in_planes(in_planes_), planes(planes_), stride(stride_) {
  reset();
}

void BottleneckImpl::reset() {
  conv1 = register_module("conv1", make_conv(in_planes, planes, 1, 1));
  bn1 = register_module("bn1", make_bn(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, stride));
  bn2 = register_module("bn2", make_bn(planes));
  conv3 = register_module("conv3", make_conv(planes, planes * kExpansion, 1, 1));
  bn3 = register_module("bn3", make_bn(planes * kExpansion));
  downsample = make_downsample(in_planes, planes * kExpansion, stride);
  if (downsample) register_module("downsample", downsample);
}

torch::Tensor BottleneckImpl::forward(torch::Tensor x) {
  torch::Tensor identity = downsample ? downsample->forward(x) : x;  // [B, 4*planes, H/s, W/s]
  torch::Tensor out = torch::relu(bn1(conv1(x)));                    // [B, planes, H, W]
  out = torch::relu(bn2(conv2(out)));                                // [B, planes, H/s, W/s]
  out = bn3(conv3(out));                                             // [B, 4*planes, H/s, W/s]
  return torch::relu(out + identity);
}

// ---------------------------------------------------------------------------------------------
ResNetImpl::ResNetImpl(const ResNetOptions& options_) : options(options_) { reset(); }

void ResNetImpl::reset() {
  const std::vector<int64_t> blocks = stage_blocks(options.depth());
  if (options.in_channels() <= 0) {
    throw std::invalid_argument("ResNet in_channels must be positive, got " +
                                std::to_string(options.in_channels()));
  }
  if (options.num_classes() < 0) {
    throw std::invalid_argument("ResNet num_classes must be >= 0 (0 = no fc), got " +
                                std::to_string(options.num_classes()));
  }
  bottleneck_ = options.depth() >= 50;
  in_planes_ = 64;

  conv1 = register_module("conv1", make_conv(options.in_channels(), 64, 7, 2));
  bn1 = register_module("bn1", make_bn(64));
  maxpool = register_module(
      "maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  layer1 = register_module("layer1", make_layer(64, blocks[0], 1));
  layer2 = register_module("layer2", make_layer(128, blocks[1], 2));
  layer3 = register_module("layer3", make_layer(256, blocks[2], 2));
  layer4 = register_module("layer4", make_layer(512, blocks[3], 2));
  if (options.num_classes() > 0) {
    fc = register_module("fc", torch::nn::Linear(feature_dim(), options.num_classes()));
    init_fc_paddle(fc);
  } else {
    fc = nullptr;
  }
}

torch::nn::Sequential ResNetImpl::make_layer(int64_t planes, int64_t blocks, int64_t stride) {
  torch::nn::Sequential layer;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t s = i == 0 ? stride : 1;
    if (bottleneck_) {
      layer->push_back(Bottleneck(in_planes_, planes, s));
      in_planes_ = planes * BottleneckImpl::kExpansion;
    } else {
      layer->push_back(BasicBlock(in_planes_, planes, s));
      in_planes_ = planes * BasicBlockImpl::kExpansion;
    }
  }
  return layer;
}

int64_t ResNetImpl::feature_dim() const { return bottleneck_ ? 2048 : 512; }

torch::Tensor ResNetImpl::forward_features(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != options.in_channels()) {
    std::ostringstream msg;
    msg << "ResNet-" << options.depth() << " expects input [B, " << options.in_channels()
        << ", H, W], got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  x = maxpool(torch::relu(bn1(conv1(x))));    // [B, 64, H/4, W/4]
  x = layer1->forward(x);                     // [B, 64*e, H/4, W/4]
  x = layer2->forward(x);                     // [B, 128*e, H/8, W/8]
  x = layer3->forward(x);                     // [B, 256*e, H/16, W/16]
  x = layer4->forward(x);                     // [B, 512*e, H/32, W/32]
  x = torch::adaptive_avg_pool2d(x, {1, 1});  // [B, F, 1, 1]
  return x.flatten(1);                        // [B, F]
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  torch::Tensor features = forward_features(std::move(x));  // [B, F]
  return fc ? fc(features) : features;                      // [B, num_classes] or [B, F]
}

}  // namespace vc::models
