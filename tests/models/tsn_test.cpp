// TSN: shapes, gradients, consensus, naming, dropout, errors.
#include "models/tsn/tsn.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/common/dropout.h"

namespace vc::models {
namespace {

struct TsnCase {
  int64_t segments;
  int64_t seglen;
  int64_t depth;
};

void PrintTo(const TsnCase& c, std::ostream* os) {
  *os << "T=" << c.segments << " seglen=" << c.seglen << " depth=" << c.depth;
}

class TsnShapes : public ::testing::TestWithParam<TsnCase> {};

TEST_P(TsnShapes, LogitsShapeAndGradients) {
  torch::manual_seed(0);
  const TsnCase c = GetParam();
  Tsn net(TsnOptions().num_classes(11).seglen(c.seglen).depth(c.depth));
  torch::Tensor clips = torch::randn({2, c.segments, 3 * c.seglen, 32, 32});
  torch::Tensor logits = net->forward(clips);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 11}));
  torch::nn::functional::cross_entropy(logits, torch::tensor({1, 4})).backward();
  EXPECT_GT(net->backbone->conv1->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(net->fc->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(net->backbone->conv1->weight.size(1), 3 * c.seglen);
}

INSTANTIATE_TEST_SUITE_P(Cases, TsnShapes,
                         ::testing::Values(TsnCase{3, 5, 18}, TsnCase{7, 5, 18}, TsnCase{3, 1, 50},
                                           TsnCase{7, 1, 50}),
                         [](const auto& info) {
                           return "T" + std::to_string(info.param.segments) + "_seglen" +
                                  std::to_string(info.param.seglen) + "_depth" +
                                  std::to_string(info.param.depth);
                         });

TEST(Tsn, AverageConsensusOverSegments) {
  torch::manual_seed(3);
  Tsn net(TsnOptions().num_classes(5).depth(18));
  net->eval();
  torch::Tensor clips = torch::randn({2, 4, 3, 32, 32});
  torch::Tensor expected;
  {
    torch::Tensor feats = net->backbone->forward_features(clips.reshape({8, 3, 32, 32}));
    expected = net->fc(feats.reshape({2, 4, 512}).mean(1));
  }
  EXPECT_TRUE(torch::allclose(net->forward(clips), expected, 1e-5, 1e-5));
  // Segment order does not matter for average consensus.
  torch::Tensor flipped = clips.flip({1});
  EXPECT_TRUE(torch::allclose(net->forward(flipped), expected, 1e-4, 1e-5));
}

TEST(Tsn, SubmoduleNames) {
  Tsn net(TsnOptions().num_classes(5).depth(18));
  auto params = net->named_parameters();
  EXPECT_TRUE(params.contains("backbone.conv1.weight"));
  EXPECT_TRUE(params.contains("backbone.layer4.1.bn2.bias"));
  EXPECT_TRUE(params.contains("fc.weight"));
  EXPECT_FALSE(params.contains("backbone.fc.weight"));
  EXPECT_TRUE(net->named_buffers().contains("backbone.bn1.running_mean"));
  EXPECT_EQ(net->fc->weight.sizes(), (std::vector<int64_t>{5, 512}));
  EXPECT_TRUE(net->fc->bias.eq(0).all().item<bool>());
  EXPECT_LE(net->fc->weight.abs().max().item<double>(), 1.0 / std::sqrt(512.0));
}

TEST(Tsn, UsableThroughVideoModelInterface) {
  VideoModelPtr model = Tsn(TsnOptions().num_classes(3).depth(18)).ptr();
  EXPECT_EQ(model->forward(torch::randn({1, 2, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 3}));
}

TEST(Tsn, WrongInputIsAnError) {
  Tsn net(TsnOptions().num_classes(3).seglen(2).depth(18));
  EXPECT_THROW(net->forward(torch::randn({1, 2, 3, 32, 32})), std::invalid_argument);
  EXPECT_THROW(net->forward(torch::randn({2, 6, 32, 32})), std::invalid_argument);
  EXPECT_THROW(Tsn(TsnOptions().depth(42)), std::invalid_argument);
  EXPECT_THROW(Tsn(TsnOptions().num_classes(0)), std::invalid_argument);
}

TEST(Tsn, DropoutFollowsFluidSemantics) {
  torch::manual_seed(5);
  Tsn with(TsnOptions().num_classes(4).depth(18).dropout(0.5));
  ASSERT_TRUE(with->dropout);
  Tsn without(TsnOptions().num_classes(4).depth(18));
  EXPECT_FALSE(without->dropout);
  torch::Tensor clips = torch::randn({2, 3, 3, 32, 32});
  with->eval();
  torch::Tensor feats =
      with->backbone->forward_features(clips.reshape({6, 3, 32, 32})).reshape({2, 3, 512}).mean(1);
  EXPECT_TRUE(torch::allclose(with->forward(clips), with->fc(feats * 0.5), 1e-5, 1e-5));
}

TEST(FluidDropout, TrainMasksWithoutRescalingEvalScales) {
  torch::manual_seed(7);
  FluidDropout drop(FluidDropoutOptions().p(0.25));
  torch::Tensor x = torch::rand({10000}) + 1.0;
  torch::Tensor y = drop(x);
  torch::Tensor kept = y.ne(0);
  EXPECT_TRUE(y.masked_select(kept).equal(x.masked_select(kept)));  // no 1/(1-p) rescaling
  EXPECT_NEAR(kept.to(torch::kDouble).mean().item<double>(), 0.75, 0.02);
  drop->eval();
  EXPECT_TRUE(torch::allclose(drop(x), x * 0.75));
  EXPECT_THROW(FluidDropout(FluidDropoutOptions().p(1.0)), std::invalid_argument);
}

}  // namespace
}  // namespace vc::models
