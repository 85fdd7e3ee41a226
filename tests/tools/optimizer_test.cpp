#include "tools/common/optimizer.h"

#include <gtest/gtest.h>

namespace {

using vc::app::make_lr_schedule;
using vc::app::MomentumSgd;
using vc::app::SectionConfig;

TEST(LrSchedule, TsnRuleFromTheOriginalConfig) {
  SectionConfig tr;
  tr.epoch = 45;
  tr.batch_size = 256;
  tr.total_videos = 224684;
  tr.learning_rate = 0.01;
  tr.learning_rate_decay = 0.1;
  auto s = make_lr_schedule(tr, 0);
  // step = int(224684 / 256 + 1) = 878; boundaries [15*878, 30*878] (spec §6.5).
  EXPECT_EQ(s.boundaries, (std::vector<int64_t>{13170, 26340}));
  ASSERT_EQ(s.values.size(), 3u);
  EXPECT_DOUBLE_EQ(s.values[0], 0.01);
  EXPECT_NEAR(s.values[1], 0.001, 1e-15);
  EXPECT_NEAR(s.values[2], 0.0001, 1e-15);
  EXPECT_DOUBLE_EQ(s.at(0), 0.01);
  EXPECT_DOUBLE_EQ(s.at(13169), 0.01);
  EXPECT_NEAR(s.at(13170), 0.001, 1e-15);
  EXPECT_NEAR(s.at(26340), 0.0001, 1e-15);
}

TEST(LrSchedule, DecayEpochsAndListSizeFallback) {
  SectionConfig tr;
  tr.batch_size = 128;
  tr.total_videos = 239781;  // TSM: step = int(239781/128 + 1) = 1874
  tr.decay_epochs = {40, 60};
  auto s = make_lr_schedule(tr, 0);
  EXPECT_EQ(s.boundaries, (std::vector<int64_t>{74960, 112440}));
  tr.total_videos = 0;  // use the list size: 100 videos / 10 = 10, +1 -> 11 iterations
  tr.batch_size = 10;
  s = make_lr_schedule(tr, 100);
  EXPECT_EQ(s.boundaries, (std::vector<int64_t>{440, 660}));
}

TEST(LrSchedule, LinearWarmup) {
  SectionConfig tr;
  tr.batch_size = 10;
  tr.total_videos = 90;  // 10 iterations per epoch
  tr.decay_epochs = {5};
  tr.learning_rate = 1.0;
  tr.warmup_epochs = 1.0;
  tr.warmup_start_factor = 0.1;
  auto s = make_lr_schedule(tr, 0);
  EXPECT_EQ(s.warmup_steps, 10);
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(5), 0.55);
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);
}

TEST(MomentumSgd, MatchesTheFluidUpdateByHand) {
  auto p = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_(true);
  MomentumSgd opt({{"w", p}}, /*momentum=*/0.9, /*weight_decay=*/0.1);
  // step 1: g = [0.5, 0.5] + 0.1 * [1, -2] = [0.6, 0.3]; v = g; p -= 0.1 * v.
  p.mutable_grad() = torch::tensor({0.5, 0.5}, torch::kDouble);
  opt.step(0.1);
  EXPECT_NEAR(p[0].item<double>(), 1.0 - 0.06, 1e-12);
  EXPECT_NEAR(p[1].item<double>(), -2.0 - 0.03, 1e-12);
  // step 2: g = [0.5,0.5] + 0.1 * p; v = 0.9 v + g.
  const double p0 = 0.94, p1 = -2.03;
  const double v0 = 0.9 * 0.6 + 0.5 + 0.1 * p0, v1 = 0.9 * 0.3 + 0.5 + 0.1 * p1;
  opt.step(0.01);
  EXPECT_NEAR(p[0].item<double>(), p0 - 0.01 * v0, 1e-12);
  EXPECT_NEAR(p[1].item<double>(), p1 - 0.01 * v1, 1e-12);
  auto st = opt.state();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].first, "w");
  EXPECT_NEAR(st[0].second[0].item<double>(), v0, 1e-12);
}

TEST(MomentumSgd, EqualsTorchSgdWithoutDampening) {
  torch::manual_seed(0);
  auto a = torch::randn({5, 3}).requires_grad_(true);
  auto b = a.detach().clone().requires_grad_(true);
  MomentumSgd ours({{"a", a}}, 0.9, 1e-4);
  torch::optim::SGD ref({b}, torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4));
  for (int i = 0; i < 5; ++i) {
    auto x = torch::randn({3});
    ours.zero_grad();
    ref.zero_grad();
    (a.matmul(x)).pow(2).sum().backward();
    (b.matmul(x)).pow(2).sum().backward();
    ours.step(0.05);
    ref.step();
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-7));
}

TEST(MomentumSgd, LoadStateChecksNamesAndShapes) {
  auto p = torch::zeros({2}).requires_grad_(true);
  MomentumSgd opt({{"w", p}}, 0.9, 0.0);
  EXPECT_THROW(opt.load_state({{"nope", torch::zeros({2})}}, "ck.pt"), std::exception);
  EXPECT_THROW(opt.load_state({{"w", torch::zeros({3})}}, "ck.pt"), std::exception);
  opt.load_state({{"w", torch::ones({2})}}, "ck.pt");
  p.mutable_grad() = torch::zeros({2});
  opt.step(1.0);  // v = 0.9 * 1 + 0 -> p = -0.9
  EXPECT_NEAR(p[0].item<float>(), -0.9f, 1e-6);
}

}  // namespace
