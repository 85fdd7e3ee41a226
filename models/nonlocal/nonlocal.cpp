#include "models/nonlocal/nonlocal.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace vc::models {
namespace {
std::string block_key(int64_t stage, int64_t block) {
  return "layer" + std::to_string(stage) + "_" + std::to_string(block);
}
}  // namespace

std::vector<std::pair<int64_t, int64_t>> nonlocal_positions(const NonlocalOptions& o) {
  if (o.layer_mod() < 1) {
    throw std::invalid_argument("Non-local: layer_mod must be >= 1, got " +
                                std::to_string(o.layer_mod()));
  }
  const std::vector<int64_t> blocks =
      o.depth() == 101 ? std::vector<int64_t>{3, 4, 23, 3} : std::vector<int64_t>{3, 4, 6, 3};
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t s : {2, 3}) {
    if ((s == 2 && !o.conv3_nonlocal()) || (s == 3 && !o.conv4_nonlocal())) continue;
    const int64_t mod = (s == 3 && o.depth() == 101) ? 7 : o.layer_mod();
    for (int64_t b = 0; b < blocks[s - 1]; ++b) {
      if (b % mod == mod - 1) out.emplace_back(s, b);
    }
  }
  return out;
}

NonlocalImpl::NonlocalImpl(const NonlocalOptions& options_) : options(options_) { reset(); }

void NonlocalImpl::reset() {
  if (options.num_classes() < 1) {
    throw std::invalid_argument("Non-local: num_classes must be >= 1, got " +
                                std::to_string(options.num_classes()));
  }
  if (options.pool_kernel().size() != 3) {
    throw std::invalid_argument("Non-local: pool_kernel needs 3 values [t, h, w], got " +
                                std::to_string(options.pool_kernel().size()));
  }
  for (int64_t k : options.pool_kernel()) {
    if (k < 1) throw std::invalid_argument("Non-local: pool_kernel values must be >= 1");
  }
  backbone = register_module("backbone", ResNet3d(ResNet3dOptions()
                                                      .depth(options.depth())
                                                      .i3d(options.i3d())
                                                      .width(options.width())
                                                      .bn_init_gamma(options.bn_init_gamma())));
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> blocks;
  for (const auto& [s, b] : nonlocal_positions(options)) {
    const int64_t c = backbone->stage_channels(s);
    blocks.emplace_back(block_key(s, b),
                        NonLocalBlock(NonLocalBlockOptions(c, c / 2)
                                          .conv_init_std(options.nonlocal_conv_init_std())
                                          .bn_init_gamma(options.nonlocal_bn_init_gamma())
                                          .use_scale(options.nonlocal_use_scale())
                                          .use_maxpool(options.nonlocal_use_maxpool()))
                            .ptr());
  }
  nonlocal = register_module("nonlocal", torch::nn::ModuleDict(blocks));
  pred = register_module("pred", torch::nn::Linear(backbone->feature_dim(), options.num_classes()));
  {
    torch::NoGradGuard no_grad;
    pred->weight.normal_(0.0, options.fc_init_std());
    pred->bias.zero_();
  }
  if (options.dropout() > 0.0) {
    dropout = register_module("dropout", FluidDropout(FluidDropoutOptions().p(options.dropout())));
  } else {
    dropout = nullptr;
  }
}

torch::Tensor NonlocalImpl::forward_features(const torch::Tensor& video) {
  const auto hook = [this](int64_t s, int64_t b, const torch::Tensor& x) -> torch::Tensor {
    const std::string key = block_key(s, b);
    if (!nonlocal->contains(key)) return x;
    return nonlocal[key]->as<NonLocalBlockImpl>()->forward(x);  // [N, C, T, H, W]
  };
  torch::Tensor x = backbone->forward_features(video, hook);  // [N, F, T/2, H', W']
  // pool5 as the original; an axis smaller than the kernel (clips smaller than the training
  // ones, where the original fails) is pooled whole.
  const auto& pk = options.pool_kernel();
  const std::vector<int64_t> k{std::min(pk[0], x.size(2)), std::min(pk[1], x.size(3)),
                               std::min(pk[2], x.size(4))};
  return torch::avg_pool3d(x, {k[0], k[1], k[2]}, {1, 1, 1});  // [N, F, t, h, w]
}

torch::Tensor NonlocalImpl::forward(const ModelInput& input) {
  const torch::Tensor& video = input.at("video");
  if (video.dim() != 5 || video.size(1) != 3) {
    std::ostringstream msg;
    msg << "Non-local expects \"video\" [N, 3, T, H, W], got " << video.sizes();
    throw std::invalid_argument(msg.str());
  }
  torch::Tensor x = forward_features(video);  // [N, F, t, h, w]
  const int64_t n = x.size(0), f = x.size(1);
  const int64_t positions = x.size(2) * x.size(3) * x.size(4);
  if (dropout && (is_training() || options.dropout_at_eval())) x = dropout(x);
  if (!options.fully_conv_head()) {
    if (positions != 1) {
      std::ostringstream msg;
      msg << "Non-local: the fc head needs pool5 to leave one position, got " << x.sizes()
          << " (input " << video.sizes()
          << "); clips larger than the training ones need the fully convolutional test head";
      throw std::invalid_argument(msg.str());
    }
    return pred(x.reshape({n, f}));  // [N, num_classes]
  }
  x = x.reshape({n, f, positions}).transpose(1, 2);      // [N, P, F]
  torch::Tensor logp = torch::log_softmax(pred(x), -1);  // [N, P, C] per-position log-softmax
  // log(mean_p softmax) = logsumexp_p(log_softmax) - log(P)
  return torch::logsumexp(logp, 1) - std::log(static_cast<double>(positions));  // [N, C]
}

}  // namespace vc::models
