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

const std::vector<int64_t>& resnet_valid_depths() {
  static const std::vector<int64_t> depths{18, 34, 50, 101, 152};
  return depths;
}

// ---------------------------------------------------------------------------------------------
BasicBlockImpl::BasicBlockImpl(int64_t in_planes_, int64_t planes_, int64_t stride_,
                               ResidualHook hook)
    : in_planes(in_planes_), planes(planes_), stride(stride_), residual_hook(std::move(hook)) {
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
  if (residual_hook) x = residual_hook(x);                           // [B, C, H, W]
  torch::Tensor out = bn1(conv1(x)).relu_();                         // [B, planes, H/s, W/s]
  out = bn2(conv2(out));                                             // [B, planes, H/s, W/s]
  return out.add_(identity).relu_();                                 // in place, as torchvision
}

// ---------------------------------------------------------------------------------------------
BottleneckImpl::BottleneckImpl(int64_t in_planes_, int64_t planes_, int64_t stride_,
                               ResidualHook hook)
    : in_planes(in_planes_), planes(planes_), stride(stride_), residual_hook(std::move(hook)) {
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
  if (residual_hook) x = residual_hook(x);                           // [B, C, H, W]
  torch::Tensor out = bn1(conv1(x)).relu_();                         // [B, planes, H, W]
  out = bn2(conv2(out)).relu_();                                     // [B, planes, H/s, W/s]
  out = bn3(conv3(out));                                             // [B, 4*planes, H/s, W/s]
  return out.add_(identity).relu_();                                 // in place, as torchvision
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
  layer1 = register_module("layer1", make_layer(1, 64, blocks[0], 1));
  layer2 = register_module("layer2", make_layer(2, 128, blocks[1], 2));
  layer3 = register_module("layer3", make_layer(3, 256, blocks[2], 2));
  layer4 = register_module("layer4", make_layer(4, 512, blocks[3], 2));
  if (options.num_classes() > 0) {
    fc = register_module("fc", torch::nn::Linear(feature_dim(), options.num_classes()));
    init_fc_paddle(fc);
  } else {
    fc = nullptr;
  }
}

torch::nn::Sequential ResNetImpl::make_layer(int64_t stage_no, int64_t planes, int64_t blocks,
                                             int64_t stride) {
  torch::nn::Sequential layer;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t s = i == 0 ? stride : 1;
    ResidualHook hook = options.residual_hooks() ? options.residual_hooks()(stage_no, i) : nullptr;
    if (bottleneck_) {
      layer->push_back(Bottleneck(in_planes_, planes, s, hook));
      in_planes_ = planes * BottleneckImpl::kExpansion;
    } else {
      layer->push_back(BasicBlock(in_planes_, planes, s, hook));
      in_planes_ = planes * BasicBlockImpl::kExpansion;
    }
  }
  return layer;
}

int64_t ResNetImpl::feature_dim() const { return bottleneck_ ? 2048 : 512; }

torch::Tensor ResNetImpl::stem(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != options.in_channels()) {
    std::ostringstream msg;
    msg << "ResNet-" << options.depth() << " expects input [B, " << options.in_channels()
        << ", H, W], got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  return maxpool(bn1(conv1(x)).relu_());  // [B, 64, H/4, W/4]
}

torch::nn::Sequential& ResNetImpl::stage(int64_t stage_no) {
  switch (stage_no) {
    case 1:
      return layer1;
    case 2:
      return layer2;
    case 3:
      return layer3;
    case 4:
      return layer4;
    default:
      break;
  }
  throw std::out_of_range("ResNet stage must be 1..4, got " + std::to_string(stage_no));
}

int64_t ResNetImpl::num_blocks(int64_t stage_no) const {
  return static_cast<int64_t>(const_cast<ResNetImpl*>(this)->stage(stage_no)->size());
}

torch::Tensor ResNetImpl::forward_stage(int64_t stage_no, torch::Tensor x) {
  return stage(stage_no)->forward(x);
}

torch::Tensor ResNetImpl::forward_block(int64_t stage_no, int64_t block, torch::Tensor x) {
  torch::nn::Sequential& layer = stage(stage_no);
  if (block < 0 || block >= static_cast<int64_t>(layer->size())) {
    throw std::out_of_range("ResNet layer" + std::to_string(stage_no) + " has " +
                            std::to_string(layer->size()) + " blocks, asked for block " +
                            std::to_string(block));
  }
  const std::shared_ptr<torch::nn::Module> m = layer->ptr(static_cast<std::size_t>(block));
  if (bottleneck_) return m->as<BottleneckImpl>()->forward(std::move(x));
  return m->as<BasicBlockImpl>()->forward(std::move(x));
}

torch::Tensor ResNetImpl::pool(const torch::Tensor& x) {
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // [B, F]
}

torch::Tensor ResNetImpl::forward_features(torch::Tensor x) {
  x = stem(std::move(x));  // [B, 64, H/4, W/4]
  x = layer1->forward(x);  // [B, 64*e, H/4, W/4]
  x = layer2->forward(x);  // [B, 128*e, H/8, W/8]
  x = layer3->forward(x);  // [B, 256*e, H/16, W/16]
  x = layer4->forward(x);  // [B, 512*e, H/32, W/32]
  return pool(x);          // [B, F]
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  torch::Tensor features = forward_features(std::move(x));  // [B, F]
  return fc ? fc(features) : features;                      // [B, num_classes] or [B, F]
}

}  // namespace vc::models
