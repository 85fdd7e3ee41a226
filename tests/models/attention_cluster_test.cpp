// Attention Cluster (models/attention_cluster): shapes, the parameter names and shapes the
// original's weights use, Fluid's dropout at inference, masking, and errors.
#include "models/attention_cluster/attention_cluster.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

namespace vc::models {
namespace {

AttentionClusterOptions small() {
  return AttentionClusterOptions()
      .num_classes(7)
      .rgb_clusters(3)
      .audio_clusters(2)
      .fc1_size(16)
      .fc2_size(8);
}

ModelInput input(int64_t n, int64_t t) {
  return ModelInput({{"rgb", torch::randn({n, t, 1024})}, {"audio", torch::randn({n, t, 128})}});
}

TEST(AttentionCluster, ParametersAreTheOriginalsTransposedFc) {
  AttentionCluster net;  // the original's sizes
  std::map<std::string, std::vector<int64_t>> want{{"satt0.conv.weight", {32, 1024, 1, 1}},
                                                   {"satt0.conv.bias", {32}},
                                                   {"satt0.shift_w", {32}},
                                                   {"satt0.shift_b", {32}},
                                                   {"satt1.conv.weight", {32, 128, 1, 1}},
                                                   {"satt1.conv.bias", {32}},
                                                   {"satt1.shift_w", {32}},
                                                   {"satt1.shift_b", {32}},
                                                   {"fc1.weight", {1024, 36864}},
                                                   {"fc1.bias", {1024}},
                                                   {"fc2.weight", {4096, 1024}},
                                                   {"fc2.bias", {4096}},
                                                   {"logistic.weight", {3862, 4096}},
                                                   {"logistic.bias", {3862}}};
  std::map<std::string, std::vector<int64_t>> got;
  int64_t count = 0;
  for (const auto& p : net->named_parameters()) {
    got[p.key()] = p.value().sizes().vec();
    count += p.value().numel();
  }
  EXPECT_EQ(got, want);
  // 36864*1024 + 1024 + 1024*4096 + 4096 + 4096*3862 + 3862 + 32*(1024+1+2) + 32*(128+1+2)
  EXPECT_EQ(count, 57807830);
  EXPECT_TRUE(net->named_buffers().is_empty());
}

TEST(AttentionCluster, InitialisationScales) {
  AttentionCluster net;
  auto std_of = [](const torch::Tensor& t) { return t.std().item<double>(); };
  EXPECT_NEAR(std_of(net->satt0->conv->weight), std::sqrt(2.0 / 1024), 2e-3);
  EXPECT_NEAR(std_of(net->fc1->weight), std::sqrt(2.0 / 36864), 1e-4);
  EXPECT_LE(net->satt0->conv->bias.abs().max().item<double>(), std::sqrt(6.0 / 32));
  EXPECT_NEAR(std_of(net->logistic->bias), std::sqrt(2.0 / 3862), 3e-3);
}

TEST(AttentionCluster, ShapesAndFluidDropoutAtInference) {
  torch::manual_seed(3);
  AttentionCluster net(small());
  net->eval();
  torch::NoGradGuard no_grad;
  ModelInput x = input(2, 5);
  torch::Tensor y = net->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 7}));
  // downgrade_in_infer = x * 0.5 before fc1 = the same net without dropout and fc1 weight / 2.
  AttentionCluster plain(small().dropout(0.0));
  for (auto& p : plain->named_parameters()) p.value().copy_(net->named_parameters()[p.key()]);
  plain->fc1->weight.mul_(0.5);
  EXPECT_TRUE(torch::allclose(plain->forward(x), y, 1e-5, 1e-6));
  // upscale_in_train is the identity at inference.
  AttentionCluster up(small().dropout_impl(DropoutImpl::kUpscaleInTrain));
  for (auto& p : up->named_parameters()) p.value().copy_(net->named_parameters()[p.key()]);
  up->eval();
  plain->fc1->weight.mul_(2.0);
  EXPECT_TRUE(torch::allclose(plain->forward(x), up->forward(x), 1e-5, 1e-6));
}

TEST(AttentionCluster, MaskRestrictsAttentionToRealFrames) {
  torch::manual_seed(4);
  AttentionCluster net(small());
  net->eval();
  torch::NoGradGuard no_grad;
  ModelInput x = input(2, 6);
  ModelInput ones = x;
  ones.set("mask", torch::ones({2, 6}));
  EXPECT_TRUE(torch::allclose(net->forward(ones), net->forward(x)));
  ModelInput masked = x;
  torch::Tensor mask = torch::ones({2, 6});
  mask[1].slice(0, 4).zero_();
  masked.set("mask", mask);
  ModelInput alone({{"rgb", x.at("rgb").slice(0, 1, 2).slice(1, 0, 4)},
                    {"audio", x.at("audio").slice(0, 1, 2).slice(1, 0, 4)}});
  EXPECT_TRUE(torch::allclose(net->forward(masked)[1], net->forward(alone)[0], 1e-5, 1e-6));
}

TEST(AttentionCluster, BadInputsAreErrors) {
  AttentionCluster net(small());
  EXPECT_THROW(net->forward(ModelInput(
                   {{"rgb", torch::randn({2, 5, 1000})}, {"audio", torch::randn({2, 5, 128})}})),
               std::invalid_argument);
  EXPECT_THROW(net->forward(ModelInput({{"rgb", torch::randn({2, 5, 1024})}})),
               std::invalid_argument);
  ModelInput bad_mask = input(2, 5);
  bad_mask.set("mask", torch::ones({2, 4}));
  EXPECT_THROW(net->forward(bad_mask), std::invalid_argument);
  EXPECT_THROW(AttentionCluster(small().dropout(1.0)), std::invalid_argument);
  EXPECT_THROW(AttentionCluster(small().rgb_clusters(0)), std::invalid_argument);
}

}  // namespace
}  // namespace vc::models
