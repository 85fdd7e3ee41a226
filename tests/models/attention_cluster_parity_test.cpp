// PARITY: Attention Cluster (rgb 8 clusters, audio 4, fc 1024 / 4096, 20 classes) against the
// independent PyTorch implementation of tests/models/attention_cluster_reference.py (1x1 conv
// scores, per-cluster loops, Fluid's downgrade_in_infer dropout; expected logits in float64),
// same weights and input, eval mode: float64 < 1e-8, float32 < 1e-4; and a masked batch (two
// videos shorter than the batch, garbage in their padding) against each video run alone.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "models/attention_cluster/attention_cluster.h"
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
    r.dir = vc::test::cached_script_output("attention_cluster_reference.py");
    if (r.dir.empty()) return r;
    for (auto& kv : app::read_state_dict(r.dir + "/io.pt")) r.io.emplace(kv.first, kv.second);
    return r;
  }();
  return ref;
}

#define VC_REQUIRE_AC_REFERENCE() \
  VC_REQUIRE_TORCHVISION();       \
  if (reference().dir.empty()) FAIL() << "attention_cluster_reference.py failed"

AttentionCluster loaded_net(torch::Dtype dtype) {
  AttentionCluster net(AttentionClusterOptions().num_classes(20).rgb_clusters(8).audio_clusters(4));
  const std::string path = reference().dir + "/weights.pt";
  app::load_state_dict(*net, app::read_state_dict(path), app::LoadOptions{}, path);  // strict
  net->to(dtype);
  net->eval();
  return net;
}

double max_diff(const torch::Tensor& ours, const torch::Tensor& expected) {
  EXPECT_EQ(ours.sizes(), expected.sizes());
  return (ours.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
}

TEST(AttentionClusterParity, EvalLogitsFloat64AndFloat32) {
  VC_REQUIRE_AC_REFERENCE();
  const auto& io = reference().io;
  torch::NoGradGuard no_grad;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    AttentionCluster net = loaded_net(dtype);
    const torch::Tensor logits = net->forward(
        ModelInput({{"rgb", io.at("rgb").to(dtype)}, {"audio", io.at("audio").to(dtype)}}));
    const double d = max_diff(logits, io.at("logits"));
    std::printf("Attention Cluster %s: max |dlogit| = %.3g\n",
                dtype == torch::kDouble ? "float64" : "float32", d);
    EXPECT_LT(d, dtype == torch::kDouble ? 1e-8 : 1e-4);
  }
}

TEST(AttentionClusterParity, MaskedBatchEqualsEachVideoAlone) {
  VC_REQUIRE_AC_REFERENCE();
  const auto& io = reference().io;
  torch::NoGradGuard no_grad;
  AttentionCluster net = loaded_net(torch::kFloat);
  const torch::Tensor logits = net->forward(ModelInput(
      {{"rgb", io.at("rgb_padded")}, {"audio", io.at("audio_padded")}, {"mask", io.at("mask")}}));
  const double d = max_diff(logits, io.at("logits_masked"));
  std::printf("Attention Cluster masked float32: max |dlogit| = %.3g\n", d);
  EXPECT_LT(d, 1e-4);
}

}  // namespace
}  // namespace vc::models
