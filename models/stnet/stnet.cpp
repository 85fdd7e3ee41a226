#include "models/stnet/stnet.h"

#include <sstream>
#include <stdexcept>

#include "models/common/init.h"

namespace vc::models {
namespace {

// Fluid's MSRA(uniform=True) weight, bias 0 (spec §6.7: conv3d and every Xception conv).
template <class Conv>
void init_conv_msra(Conv& conv) {
  init_msra_fluid(conv->weight, /*uniform=*/true);
  torch::NoGradGuard no_grad;
  if (conv->bias.defined()) conv->bias.zero_();
}

// A conv along T only on [N, C, T, 1]: kernel [k, 1], pad [(k-1)/2, 0], with bias.
torch::nn::Conv2d temporal_conv(int64_t in, int64_t out, int64_t k, int64_t groups) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, {k, 1})
                               .stride(1)
                               .padding({(k - 1) / 2, 0})
                               .groups(groups)
                               .bias(true));
}

}  // namespace

// ---- TemporalConvBn -------------------------------------------------------------------------

TemporalConvBnImpl::TemporalConvBnImpl(int64_t channels_) : channels(channels_) { reset(); }

void TemporalConvBnImpl::reset() {
  conv = register_module("conv",
                         torch::nn::Conv3d(torch::nn::Conv3dOptions(channels, channels, {3, 1, 1})
                                               .stride(1)
                                               .padding({1, 0, 0})
                                               .bias(true)));
  bn = register_module("bn", torch::nn::BatchNorm3d(
                                 torch::nn::BatchNorm3dOptions(channels).eps(1e-5).momentum(0.1)));
  init_conv_msra(conv);
  init_bn_paddle(bn);
}

torch::Tensor TemporalConvBnImpl::forward(const torch::Tensor& x, int64_t segments) {
  if (x.dim() != 4 || x.size(1) != channels || segments <= 0 || x.size(0) % segments != 0) {
    std::ostringstream msg;
    msg << "StNet temporal block expects [N*T, " << channels << ", H, W] with T=" << segments
        << ", got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  const int64_t nt = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t n = nt / segments;
  torch::Tensor in = x.reshape({n, segments, channels, h, w});  // [N, T, C, H, W]
  in = in.permute({0, 2, 1, 3, 4});                             // [N, C, T, H, W]
  const torch::Tensor y = bn(torch::relu(conv(in)));            // [N, C, T, H, W]
  // The residual add (no activation) in [N, T, C, H, W] order with x's view first: the sum takes
  // x's memory layout, so the reshape back is a view, not a copy, and a channels-last x gives a
  // channels-last result (channels-last training: models/common/memory_format.h).
  const torch::Tensor sum =
      x.reshape({n, segments, channels, h, w}) + y.permute({0, 2, 1, 3, 4});  // [N, T, C, H, W]
  return sum.reshape({nt, channels, h, w});                                   // [N*T, C, H, W]
}

// ---- TemporalXception -----------------------------------------------------------------------

TemporalXceptionImpl::TemporalXceptionImpl(int64_t in_channels_)
    : in_channels(in_channels_), out_channels(in_channels_ / 2) {
  reset();
}

void TemporalXceptionImpl::reset() {
  if (in_channels < 2 || in_channels % 2 != 0) {
    throw std::invalid_argument("StNet Xception block: input width must be even, got " +
                                std::to_string(in_channels));
  }
  const int64_t f = in_channels, h = out_channels;
  const auto bn_of = [](int64_t c) {
    return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(c).eps(1e-5).momentum(0.1));
  };
  // Registration order = Paddle's construction order (xception_bn, att_conv, att_2, bndw, att1,
  // att1_2, dw, bn2).
  bn = register_module("bn", bn_of(f));
  att_conv = register_module("att_conv", temporal_conv(f, f, 3, f));
  att_2 = register_module("att_2", temporal_conv(f, h, 1, 1));
  bndw = register_module("bndw", bn_of(h));
  att1 = register_module("att1", temporal_conv(h, h, 3, h));
  att1_2 = register_module("att1_2", temporal_conv(h, h, 1, 1));
  dw = register_module("dw", temporal_conv(f, h, 1, 1));
  bn2 = register_module("bn2", bn_of(h));
  for (auto* conv : {&att_conv, &att_2, &att1, &att1_2, &dw}) init_conv_msra(*conv);
  for (auto* b : {&bn, &bndw, &bn2}) init_bn_paddle(*b);
}

torch::Tensor TemporalXceptionImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != in_channels || x.size(3) != 1) {
    std::ostringstream msg;
    msg << "StNet Xception block expects [N, " << in_channels << ", T, 1], got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
  const torch::Tensor b = bn(x);                 // [N, F, T, 1]
  torch::Tensor main = att_2(att_conv(b));       // [N, F/2, T, 1]
  main = att1_2(att1(torch::relu(bndw(main))));  // [N, F/2, T, 1]
  const torch::Tensor shortcut = dw(b);          // [N, F/2, T, 1]
  return torch::relu(bn2(main + shortcut));      // [N, F/2, T, 1]
}

// ---- StNet ----------------------------------------------------------------------------------

StnetImpl::StnetImpl(const StnetOptions& options_) : options(options_) { reset(); }

void StnetImpl::reset() {
  if (options.num_classes() <= 0 || options.seglen() <= 0) {
    std::ostringstream msg;
    msg << "StNet: num_classes and seglen must be positive, got num_classes="
        << options.num_classes() << " seglen=" << options.seglen();
    throw std::invalid_argument(msg.str());
  }
  backbone = register_module(
      "backbone",
      ResNet(
          ResNetOptions().depth(options.depth()).in_channels(3 * options.seglen()).num_classes(0)));
  const int64_t f = backbone->feature_dim();  // 2048 (50+) or 512 (18/34)
  // Output widths of layer2 / layer3: F/4 and F/2 (512 and 1024 for ResNet-50).
  temporal_res3 = register_module("temporal_res3", TemporalConvBn(f / 4));
  temporal_res4 = register_module("temporal_res4", TemporalConvBn(f / 2));
  xception = register_module("xception", TemporalXception(f));
  fc = register_module("fc", torch::nn::Linear(f / 2, options.num_classes()));
  // spec §9.3.7: the original's bound is 1/sqrt(2048) (the pooled width) for a 1024-wide fc.
  init_fc_paddle(fc, /*bound_fan_in=*/f);
}

torch::Tensor StnetImpl::forward(const ModelInput& input) {
  const torch::Tensor& clips = input.at("video");
  const int64_t channels = 3 * options.seglen();
  if (clips.dim() != 5 || clips.size(2) != channels) {
    std::ostringstream msg;
    msg << "StNet expects clips [N, T, " << channels << " (3*seglen), H, W], got " << clips.sizes();
    throw std::invalid_argument(msg.str());
  }
  const int64_t n = clips.size(0);
  const int64_t t = clips.size(1);  // segments, read from the input
  torch::Tensor x =
      clips.reshape({n * t, channels, clips.size(3), clips.size(4)});  // [N*T, 3*seglen, H, W]
  x = backbone->stem(x);                                               // [N*T, 64, H/4, W/4]
  x = backbone->forward_stage(1, x);                                   // [N*T, F/8, H/4, W/4]
  x = backbone->forward_stage(2, x);                                   // [N*T, F/4, H/8, W/8]
  x = temporal_res3->forward(x, t);                                    // [N*T, F/4, H/8, W/8]
  x = backbone->forward_stage(3, x);                                   // [N*T, F/2, H/16, W/16]
  x = temporal_res4->forward(x, t);                                    // [N*T, F/2, H/16, W/16]
  x = backbone->forward_stage(4, x);                                   // [N*T, F, H/32, W/32]
  x = ResNetImpl::pool(x);                                             // [N*T, F]
  x = x.reshape({n, t, -1, 1});                                        // [N, T, F, 1]
  x = x.permute({0, 2, 1, 3});                                         // [N, F, T, 1]
  x = xception->forward(x);                                            // [N, F/2, T, 1]
  x = std::get<0>(x.flatten(2).max(2));                                // [N, F/2] (max over T)
  return fc(x);                                                        // [N, num_classes]
}

}  // namespace vc::models
