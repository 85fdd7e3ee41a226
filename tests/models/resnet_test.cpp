// ResNet trunk: shapes and gradients for every depth, options, init, torchvision key names.
#include "models/common/resnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "tests/models/test_util.h"
#include "tools/common/state_dict.h"

namespace vc::models {
namespace {

class ResNetDepth : public ::testing::TestWithParam<int64_t> {};

TEST_P(ResNetDepth, FeatureShapeAndGradients) {
  torch::manual_seed(0);
  const int64_t depth = GetParam();
  ResNet net(ResNetOptions().depth(depth));
  const int64_t feature_dim = depth >= 50 ? 2048 : 512;
  EXPECT_EQ(net->feature_dim(), feature_dim);
  EXPECT_FALSE(net->fc);

  torch::Tensor x = torch::randn({2, 3, 32, 32});
  torch::Tensor f = net->forward(x);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{2, feature_dim}));
  EXPECT_TRUE(torch::isfinite(f).all().item<bool>());
  EXPECT_TRUE(net->forward_features(x).equal(f));

  f.pow(2).mean().backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  EXPECT_GT(net->conv1->weight.grad().abs().sum().item<double>(), 0.0);
}

INSTANTIATE_TEST_SUITE_P(AllDepths, ResNetDepth, ::testing::Values(18, 34, 50, 101, 152),
                         [](const auto& info) { return "depth" + std::to_string(info.param); });

TEST(ResNet, ClassifierHeadAndInputChannels) {
  ResNet net(ResNetOptions().depth(18).in_channels(15).num_classes(7));
  ASSERT_TRUE(net->fc);
  EXPECT_EQ(net->conv1->weight.sizes(), (std::vector<int64_t>{64, 15, 7, 7}));
  torch::Tensor y = net->forward(torch::randn({3, 15, 32, 32}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(net->forward_features(torch::randn({2, 15, 32, 32})).sizes(),
            (std::vector<int64_t>{2, 512}));
}

TEST(ResNet, StageWiseForwardEqualsTheWhole) {
  torch::manual_seed(1);
  for (int64_t depth : {18, 50}) {
    ResNet net(ResNetOptions().depth(depth));
    net->eval();
    torch::NoGradGuard ng;
    const torch::Tensor x = torch::randn({2, 3, 40, 40});
    torch::Tensor y = net->stem(x);  // [2, 64, 10, 10]
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 64, 10, 10}));
    for (int64_t s = 1; s <= 4; ++s) {
      if (s % 2) {  // stages 1 and 3 block by block (where Non-local inserts its blocks)
        for (int64_t b = 0; b < net->num_blocks(s); ++b) y = net->forward_block(s, b, y);
      } else {
        y = net->forward_stage(s, y);
      }
    }
    EXPECT_TRUE(torch::allclose(ResNetImpl::pool(y), net->forward_features(x), 1e-6, 1e-6));
    EXPECT_EQ(net->num_blocks(3), depth == 18 ? 2 : 6);
    EXPECT_THROW(net->forward_block(3, net->num_blocks(3), y), std::out_of_range);
    EXPECT_THROW(net->stage(5), std::out_of_range);
  }
}

TEST(ResNet, ResidualHookActsOnTheBranchOnly) {
  // A hook that zeroes the branch input: the block's branch sees zeros (conv of 0 = 0, then BN
  // in eval with the default running stats = bias = 0), so each hooked block returns
  // relu(shortcut). With no downsample in layer1 block 1, that is relu(x) = x (x >= 0 there).
  torch::manual_seed(2);
  std::vector<std::pair<int64_t, int64_t>> calls;
  ResNet net(ResNetOptions().depth(50).residual_hooks([&](int64_t stage, int64_t block) {
    calls.emplace_back(stage, block);
    if (stage == 1 && block == 1) {
      return ResidualHook([](const torch::Tensor& t) { return torch::zeros_like(t); });
    }
    return ResidualHook();
  }));
  EXPECT_EQ(calls.size(), 16u);  // 3 + 4 + 6 + 3 blocks asked once each
  net->eval();
  torch::NoGradGuard ng;
  const torch::Tensor x = net->forward_block(1, 0, net->stem(torch::randn({1, 3, 32, 32})));
  const torch::Tensor y = net->forward_block(1, 1, x);
  EXPECT_TRUE(torch::allclose(y, x, 1e-6, 1e-6));
  // Without the hook the block changes its input.
  ResNet plain(ResNetOptions().depth(50));
  plain->eval();
  const torch::Tensor x2 = plain->forward_block(1, 0, plain->stem(torch::randn({1, 3, 32, 32})));
  EXPECT_FALSE(torch::allclose(plain->forward_block(1, 1, x2), x2, 1e-6, 1e-6));
}

TEST(ResNet, InvalidDepthListsValidDepths) {
  try {
    ResNet net(ResNetOptions().depth(20));
    FAIL() << "depth 20 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("20"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("18, 34, 50, 101, 152"), std::string::npos) << e.what();
  }
}

TEST(ResNet, WrongInputShapeIsAnError) {
  ResNet net(ResNetOptions().depth(18));
  EXPECT_THROW(net->forward(torch::randn({2, 4, 32, 32})), std::invalid_argument);
  EXPECT_THROW(net->forward(torch::randn({3, 32, 32})), std::invalid_argument);
}

TEST(ResNet, PaddleInit) {
  torch::manual_seed(1);
  ResNet net(ResNetOptions().depth(50).num_classes(100));
  // conv: Normal(0, sqrt(2 / (k*k*C_in))).
  const auto check_conv = [](const torch::nn::Conv2d& conv) {
    const auto& w = conv->weight;
    const double expected = std::sqrt(2.0 / static_cast<double>(w.size(1) * w.size(2) * w.size(3)));
    EXPECT_NEAR(w.std().item<double>() / expected, 1.0, 0.05) << w.sizes();
    EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.1 * expected);
  };
  check_conv(net->conv1);
  auto block = net->layer3->ptr<BottleneckImpl>(0);
  check_conv(block->conv2);
  check_conv(block->conv3);
  EXPECT_TRUE(net->bn1->weight.eq(1).all().item<bool>());
  EXPECT_TRUE(net->bn1->bias.eq(0).all().item<bool>());
  EXPECT_DOUBLE_EQ(net->bn1->options.eps(), 1e-5);
  EXPECT_DOUBLE_EQ(net->bn1->options.momentum().value(), 0.1);
  // fc: Uniform(+-1/sqrt(2048)), bias 0.
  const double bound = 1.0 / std::sqrt(2048.0);
  EXPECT_LE(net->fc->weight.abs().max().item<double>(), bound);
  EXPECT_GT(net->fc->weight.abs().max().item<double>(), 0.9 * bound);
  EXPECT_TRUE(net->fc->bias.eq(0).all().item<bool>());
}

TEST(ResNet, EvalModeUsesRunningStatistics) {
  // In eval mode a sample's output does not depend on the rest of the batch.
  torch::manual_seed(2);
  ResNet net(ResNetOptions().depth(18));
  net->eval();
  torch::Tensor x = torch::randn({2, 3, 32, 32});
  torch::Tensor a = net->forward(x).narrow(0, 0, 1);
  torch::Tensor b = net->forward(x.narrow(0, 0, 1));
  const double scale = a.abs().max().item<double>();
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5 * scale);
}

// Keys and shapes equal torchvision's state_dict(), in the same order.
class ResNetKeys : public ::testing::TestWithParam<int64_t> {};

TEST_P(ResNetKeys, MatchTorchvision) {
  VC_REQUIRE_TORCHVISION();
  const int64_t depth = GetParam();
  vc::test::TempDir dir("resnet_keys" + std::to_string(depth));
  ASSERT_EQ(vc::test::run_script("dump_resnet_keys.py", dir.str() + " " + std::to_string(depth)),
            0);
  std::ifstream in(dir.file("resnet" + std::to_string(depth) + "_keys.txt"));
  ASSERT_TRUE(in.good());
  std::vector<std::string> expected;
  for (std::string line; std::getline(in, line);) expected.push_back(line);

  ResNet net(ResNetOptions().depth(depth).num_classes(1000));
  std::vector<std::string> got;
  for (const auto& kv : vc::app::module_state_dict(*net)) {
    std::ostringstream line;
    line << kv.first << ' ';
    for (int64_t d = 0; d < kv.second.dim(); ++d) line << (d ? "," : "") << kv.second.size(d);
    got.push_back(line.str());
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "entry " << i;
}

INSTANTIATE_TEST_SUITE_P(Torchvision, ResNetKeys, ::testing::Values(18, 50),
                         [](const auto& info) { return "resnet" + std::to_string(info.param); });

}  // namespace
}  // namespace vc::models
