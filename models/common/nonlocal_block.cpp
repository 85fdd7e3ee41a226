#include "models/common/nonlocal_block.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "models/common/resnet3d.h"

namespace vc::models {
namespace {

torch::nn::Conv3d conv1x1(int64_t in, int64_t out, double std) {
  auto conv = torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, 1).bias(true));
  torch::NoGradGuard no_grad;
  conv->weight.normal_(0.0, std);
  conv->bias.zero_();
  return conv;
}

}  // namespace

NonLocalBlockImpl::NonLocalBlockImpl(const NonLocalBlockOptions& options_) : options(options_) {
  reset();
}

void NonLocalBlockImpl::reset() {
  const int64_t c = options.channels();
  const int64_t ci = options.inner_channels();
  if (c < 1 || ci < 1) {
    std::ostringstream msg;
    msg << "NonLocalBlock: channels and inner_channels must be >= 1, got " << c << " and " << ci;
    throw std::invalid_argument(msg.str());
  }
  const double std = options.conv_init_std();
  theta = register_module("theta", conv1x1(c, ci, std));
  phi = register_module("phi", conv1x1(c, ci, std));
  g = register_module("g", conv1x1(c, ci, std));
  out = register_module("out", conv1x1(ci, c, std));
  bn = register_module(
      "bn", torch::nn::BatchNorm3d(torch::nn::BatchNormOptions(c).eps(1e-5).momentum(0.1)));
  torch::NoGradGuard no_grad;
  bn->weight.fill_(options.bn_init_gamma());
  bn->bias.zero_();
}

torch::Tensor NonLocalBlockImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 5 || x.size(1) != options.channels()) {
    std::ostringstream msg;
    msg << "NonLocalBlock expects [N, " << options.channels() << ", T, H, W], got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  const int64_t n = x.size(0), t = x.size(2), h = x.size(3), w = x.size(4);
  const int64_t ci = options.inner_channels();
  if (is_frames_layout(x)) {
    // The frame-wise layout (resnet3d.h; training with TRAIN.channels_last): the 1x1x1 convs run
    // as 2-D channels-last convs, whose outputs [N, C', T, H, W] are [N, THW, C'] in memory, so
    // `rows` is a view. bmm hands back gradients row-major in its operands' shapes; phi's
    // operand is transposed, so its gradient comes back [N, C', K]-major (NCDHW) and
    // frames_gradient re-lays it, keeping every backward of the trunk in one layout.
    const auto rows = [n, ci](const torch::Tensor& y) {
      return frames_gradient(y).permute({0, 2, 3, 4, 1}).reshape({n, -1, ci});
    };
    const torch::Tensor th = rows(conv3d_frames(*theta, x));  // [N, THW, C']
    const torch::Tensor kv = options.use_maxpool() ? max_pool_frames(x, 2, 2, 2, 2) : x;
    const torch::Tensor ph = rows(conv3d_frames(*phi, kv));  // [N, K, C']
    const torch::Tensor gg = rows(conv3d_frames(*g, kv));    // [N, K, C']
    torch::Tensor aff = torch::bmm(th, ph.transpose(1, 2));  // [N, THW, K]
    if (options.use_scale()) aff = aff * (1.0 / std::sqrt(static_cast<double>(ci)));
    aff = torch::softmax(aff, -1);
    // [N, THW, C'] -> [N, C', T, H, W] in the frame-wise layout
    const torch::Tensor y = torch::bmm(aff, gg).view({n, t, h, w, ci}).permute({0, 4, 1, 2, 3});
    return x + batch_norm_frames(*bn, conv3d_frames(*out, y));
  }
  torch::Tensor th = theta(x).reshape({n, ci, t * h * w}).permute({0, 2, 1});  // [N, THW, C']
  // [N, C, T, H/2, W/2] (training: the same pooling as 2-D, faster; resnet3d.h)
  torch::Tensor kv = !options.use_maxpool() ? x
                     : is_training()        ? max_pool_frames(x, 2, 2, 2, 2)
                                            : torch::max_pool3d(x, {1, 2, 2}, {1, 2, 2});
  const int64_t keys = kv.size(2) * kv.size(3) * kv.size(4);
  torch::Tensor ph = phi(kv).reshape({n, ci, keys});  // [N, C', K]
  torch::Tensor gg = g(kv).reshape({n, ci, keys});    // [N, C', K]
  torch::Tensor aff = torch::bmm(th, ph);             // [N, THW, K]
  if (options.use_scale()) aff = aff * (1.0 / std::sqrt(static_cast<double>(ci)));
  aff = torch::softmax(aff, -1);                          // [N, THW, K] over keys
  torch::Tensor y = torch::bmm(gg, aff.transpose(1, 2));  // [N, C', THW]
  y = y.reshape({n, ci, t, h, w});                        // [N, C', T, H, W]
  return x + bn(out(y));                                  // [N, C, T, H, W]
}

}  // namespace vc::models
