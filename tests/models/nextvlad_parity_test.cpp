// PARITY: NeXtVLAD (K 16, lambda 2, G 8, hidden 64, 20 classes, real feature widths 1024 / 128)
// against the independent PyTorch implementation of tests/models/nextvlad_reference.py, which
// has the original's LoD semantics (each video unpadded; frame-level layers on the concatenated
// real frames; expected values in float64). Same weights (random BN statistics, random eigen
// multipliers) and raw 0..255 input padded with garbage after each video's length:
//  - eval: the padded batch (lengths 9, 4, 6, 1) against each video run alone: float64 < 1e-8,
//    float32 < 1e-4;
//  - train (dropout 0): the logits of the batch (frame-level BN on the real frames only) and
//    the running statistics of both frame-level BNs after the step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "models/nextvlad/nextvlad.h"
#include "tests/models/test_util.h"
#include "tools/common/weights/state_dict.h"

namespace vc::models {
namespace {

struct Reference {
  std::string dir;
  std::map<std::string, torch::Tensor> io;
};

const Reference& reference() {
  static const Reference ref = [] {
    Reference r;
    r.dir = vc::test::cached_script_output("nextvlad_reference.py");
    if (r.dir.empty()) return r;
    for (auto& kv : app::read_state_dict(r.dir + "/io.pt")) r.io.emplace(kv.first, kv.second);
    return r;
  }();
  return ref;
}

#define VC_REQUIRE_NV_REFERENCE() \
  VC_REQUIRE_TORCHVISION();       \
  if (reference().dir.empty()) FAIL() << "nextvlad_reference.py failed"

NextVlad loaded_net(torch::Dtype dtype, double dropout) {
  NextVlad net(NextVladOptions()
                   .num_classes(20)
                   .cluster_size(16)
                   .expansion(2)
                   .groups(8)
                   .hidden_size(64)
                   .gating_reduction(8)
                   .dropout(dropout));
  const std::string path = reference().dir + "/weights.pt";
  app::load_state_dict(*net, app::read_state_dict(path), app::LoadOptions{}, path);  // strict
  net->to(dtype);
  return net;
}

ModelInput batch(torch::Dtype dtype) {
  const auto& io = reference().io;
  return ModelInput({{"rgb", io.at("rgb").to(dtype)},
                     {"audio", io.at("audio").to(dtype)},
                     {"mask", io.at("mask").to(dtype)},
                     {"lengths", io.at("lengths")}});
}

double max_diff(const torch::Tensor& ours, const torch::Tensor& expected) {
  EXPECT_EQ(ours.sizes(), expected.sizes());
  return (ours.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
}

TEST(NextVladParity, EvalPaddedBatchEqualsEachVideoAlone) {
  VC_REQUIRE_NV_REFERENCE();
  torch::NoGradGuard no_grad;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    NextVlad net = loaded_net(dtype, 0.5);
    net->eval();
    const double d = max_diff(net->forward(batch(dtype)), reference().io.at("logits"));
    std::printf("NeXtVLAD eval %s: max |dlogit| = %.3g\n",
                dtype == torch::kDouble ? "float64" : "float32", d);
    EXPECT_LT(d, dtype == torch::kDouble ? 1e-8 : 1e-4);
  }
}

TEST(NextVladParity, TrainStepUsesStatisticsOfRealFramesOnly) {
  VC_REQUIRE_NV_REFERENCE();
  const auto& io = reference().io;
  torch::NoGradGuard no_grad;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    NextVlad net = loaded_net(dtype, 0.0);
    net->train();
    const double d = max_diff(net->forward(batch(dtype)), io.at("train_logits"));
    std::printf("NeXtVLAD train %s: max |dlogit| = %.3g\n",
                dtype == torch::kDouble ? "float64" : "float32", d);
    EXPECT_LT(d, dtype == torch::kDouble ? 1e-8 : 1e-4);
    for (const char* unit : {"video", "audio"}) {
      const auto& bn = (std::string(unit) == "video" ? net->video : net->audio)->cluster_bn;
      const std::string key = std::string("train_") + unit + "_cluster_bn_running_";
      EXPECT_LT(max_diff(bn->running_mean, io.at(key + "mean")), 1e-5) << unit;
      EXPECT_LT(max_diff(bn->running_var, io.at(key + "var")), 1e-5) << unit;
    }
  }
}

}  // namespace
}  // namespace vc::models
