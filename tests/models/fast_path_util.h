// Helpers shared by the fast inference path tests (inference_test, onednn_conv_test).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace vc::models {

/// Non-trivial eval-mode BN everywhere: random affine and running statistics, so that folding
/// them into the convs is actually exercised.
inline void randomise_bn(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& mod : m.modules()) {
    if (auto* bn = mod->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0.0, 0.1);
      bn->running_mean.normal_(0.0, 0.1);
      bn->running_var.uniform_(0.5, 2.0);
    }
  }
}

/// Occurrences of `what` in `text` (graph ops in a graph's text).
inline int64_t count(const std::string& text, const std::string& what) {
  int64_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace vc::models
