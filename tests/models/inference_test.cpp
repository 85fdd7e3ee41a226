// The fast inference path (models/common/inference.h): same logits as eager within 1e-3 with BN
// folded into the convs, per-shape traces, fallbacks to eager for networks a trace would get
// wrong, and the FLOP count against known figures.
#include "models/common/inference.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <string>
#include <vector>

#include "models/common/onednn_shift.h"
#include "models/tsm/tsm.h"
#include "models/tsn/tsn.h"
#include "tests/models/fast_path_util.h"

namespace vc::models {
namespace {

std::vector<std::string> log_lines;
void collect(const std::string& s) { log_lines.push_back(s); }

TEST(FastInference, TsnMatchesEagerWithBnFolded) {
  torch::manual_seed(0);
  Tsn net(TsnOptions().num_classes(7).depth(50));
  randomise_bn(*net);
  net->eval();
  const torch::Tensor clips = torch::randn({2, 3, 3, 64, 64});
  torch::Tensor eager;
  {
    torch::NoGradGuard ng;
    eager = net->forward(clips);
  }
  auto fast = make_fast_inference(net.ptr(), {}, collect);
  fast->eval();
  const torch::Tensor a = fast->forward(clips);
  const torch::Tensor b = fast->forward(clips);  // from the cache, not verified again
  EXPECT_LT((a - eager).abs().max().item<double>(), 1e-3);
  EXPECT_LT((b - eager).abs().max().item<double>(), 1e-3);
  EXPECT_GT(eager.abs().max().item<double>(), 1e-2);  // not a trivially zero output
  EXPECT_EQ(fast->stats().traced, 1);
  EXPECT_EQ(fast->stats().fast_calls, 2);
  EXPECT_EQ(fast->stats().eager_calls, 0);
  // Every BN is folded into its conv: none left in the optimised graph.
  const std::string g = fast->graph_text(clips);
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(g.find("batch_norm"), std::string::npos) << g;
  // A new shape (another batch size, another segment count) is a new trace, still equal.
  const torch::Tensor other = torch::randn({1, 7, 3, 64, 64});
  torch::Tensor eager_other;
  {
    torch::NoGradGuard ng;
    eager_other = net->forward(other);
  }
  EXPECT_LT((fast->forward(other) - eager_other).abs().max().item<double>(), 1e-3);
  EXPECT_EQ(fast->stats().traced, 2);
}

// TSM: each temporal shift is one videocls::temporal_shift node fed the oneDNN tensor itself,
// and the shortcut around it stays in oneDNN's layout, so the whole trunk runs without layout
// conversions (one to_dense remains, before the pooling). Both shift directions, same logits as
// eager.
TEST(FastInference, TsmShiftsStayInOneDnnLayout) {
  for (const auto dir : {ShiftDirection::kPaddle, ShiftDirection::kTorch}) {
    torch::manual_seed(2);
    Tsm net(TsmOptions().num_classes(5).depth(50).seg_num(4).shift_direction(dir));
    randomise_bn(*net);
    net->eval();
    ModelInput in;
    in.set("video", torch::randn({2, 4, 3, 64, 64}));
    torch::Tensor eager;
    {
      torch::NoGradGuard ng;
      eager = net->forward(in);
    }
    log_lines.clear();
    auto fast = make_fast_inference(net.ptr(), {}, collect);
    fast->eval();
    const torch::Tensor a = fast->forward(in);
    const int64_t slow_before = onednn_shift_elementwise_copies();
    const torch::Tensor b = fast->forward(in);
    // The convolutions hand the shift channel-blocked tensors: one memcpy per frame and range,
    // never the element-by-element copy.
    EXPECT_EQ(onednn_shift_elementwise_copies(), slow_before);
    EXPECT_EQ(fast->stats().traced, 1);
    EXPECT_LT((a - eager).abs().max().item<double>(),
              1e-3 * std::max(1.0, eager.abs().max().item<double>()));
    EXPECT_TRUE(torch::equal(a, b));
    const std::string g = fast->graph_text(in);
    EXPECT_EQ(count(g, "videocls::temporal_shift("), 16) << g;
    if (onednn_shift_available()) {
      EXPECT_EQ(count(g, "aten::to_dense("), 1) << g;
      EXPECT_EQ(count(g, "aten::to_mkldnn("), 1) << g;  // the input
      ASSERT_FALSE(log_lines.empty());
      EXPECT_NE(log_lines.back().find("16 temporal shifts on oneDNN tensors;"), std::string::npos)
          << log_lines.back();
    }
    // Without the pass (LibTorch's passes only) every block converts layouts around its shift.
    auto plain = make_fast_inference(net.ptr(), FastInferenceOptions().keep_onednn_layouts(false));
    plain->eval();
    EXPECT_TRUE(torch::allclose(plain->forward(in), a, 1e-4, 1e-4));
    const std::string pg = plain->graph_text(in);
    std::cout << "TSM graph, " << shift_direction_name(dir) << ": to_dense / to_mkldnn "
              << count(g, "aten::to_dense(") << " / " << count(g, "aten::to_mkldnn(")
              << " with keep_onednn_layouts, " << count(pg, "aten::to_dense(") << " / "
              << count(pg, "aten::to_mkldnn(") << " without\n";
    EXPECT_GE(count(pg, "aten::to_dense("), 16);
  }
}

TEST(FastInference, TrainingModeRunsEagerWithGradients) {
  torch::manual_seed(1);
  Tsn net(TsnOptions().num_classes(3).depth(18));
  auto fast = make_fast_inference(net.ptr());
  fast->train();
  torch::Tensor out = fast->forward(torch::randn({2, 2, 3, 32, 32}));
  out.sum().backward();
  EXPECT_TRUE(net->fc->weight.grad().defined());
  EXPECT_EQ(fast->stats().traced, 0);
}

// forward reads a tensor value in C++ and branches on it: a trace would freeze the branch.
class ValueBranchImpl : public VideoModelImpl {
 public:
  ValueBranchImpl() { lin = register_module("lin", torch::nn::Linear(4, 3)); }
  torch::Tensor forward(const ModelInput& input) override {
    const torch::Tensor& x = input.at("video");  // [N, 4]
    if (x.sum().item<double>() > 0) return lin(x);
    return lin(-x) * 2;
  }
  torch::nn::Linear lin{nullptr};
};

TEST(FastInference, ValueDependentForwardFallsBackToEager) {
  torch::manual_seed(2);
  auto net = std::make_shared<ValueBranchImpl>();
  log_lines.clear();
  auto fast = make_fast_inference(net, {}, collect);
  fast->eval();
  const torch::Tensor pos = torch::ones({2, 4});
  const torch::Tensor neg = -torch::ones({2, 4});
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::allclose(fast->forward(pos), net->forward(pos)));
  EXPECT_TRUE(torch::allclose(fast->forward(neg), net->forward(neg)));
  EXPECT_EQ(fast->stats().rejected, 1);
  EXPECT_EQ(fast->stats().fast_calls, 0);
  ASSERT_FALSE(log_lines.empty());
  EXPECT_NE(log_lines.back().find("aten::"), std::string::npos) << log_lines.back();
}

// A network that declares it cannot be traced runs eager, with one log line.
class OptOutImpl : public ValueBranchImpl {
 public:
  bool supports_traced_inference() const override { return false; }
};

TEST(FastInference, OptOutRunsEager) {
  auto net = std::make_shared<OptOutImpl>();
  log_lines.clear();
  auto fast = make_fast_inference(net, {}, collect);
  fast->eval();
  torch::NoGradGuard ng;
  const torch::Tensor x = torch::randn({3, 4});
  EXPECT_TRUE(torch::equal(fast->forward(x), net->forward(x)));
  fast->forward(torch::randn({5, 4}));
  EXPECT_EQ(fast->stats().eager_calls, 2);
  EXPECT_EQ(fast->stats().traced, 0);
  EXPECT_EQ(log_lines.size(), 1u);
}

// Two named inputs, a 3-D conv, a matmul: traced with its arguments in name order.
class TwoInputsImpl : public VideoModelImpl {
 public:
  TwoInputsImpl() {
    conv = register_module("conv",
                           torch::nn::Conv3d(torch::nn::Conv3dOptions(3, 4, {3, 3, 3}).padding(1)));
    bn = register_module("bn", torch::nn::BatchNorm3d(4));
    fc = register_module("fc", torch::nn::Linear(4, 5));
  }
  torch::Tensor forward(const ModelInput& input) override {
    torch::Tensor x = torch::relu(bn(conv(input.at("video"))));  // [N, 4, T, H, W]
    x = x.mean({2, 3, 4});                                       // [N, 4]
    const torch::Tensor w = input.at("weights");                 // [N, 4, 4]
    x = torch::bmm(w, x.unsqueeze(2)).squeeze(2);                // [N, 4]
    return fc(x);                                                // [N, 5]
  }
  torch::nn::Conv3d conv{nullptr};
  torch::nn::BatchNorm3d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

TEST(FastInference, NamedInputsAnd3dConvs) {
  torch::manual_seed(4);
  auto net = std::make_shared<TwoInputsImpl>();
  {
    torch::NoGradGuard ng;
    net->bn->running_mean.normal_(0, 0.2);
    net->bn->running_var.uniform_(0.5, 2);
  }
  net->eval();
  auto fast = make_fast_inference(net);
  fast->eval();
  const ModelInput in(std::map<std::string, torch::Tensor>{{"video", torch::randn({2, 3, 4, 8, 8})},
                                                           {"weights", torch::randn({2, 4, 4})}});
  torch::NoGradGuard ng;
  const torch::Tensor eager = net->forward(in);
  EXPECT_LT((fast->forward(in) - eager).abs().max().item<double>(), 1e-4);
  // The weights input is a real argument, not a constant of the trace.
  const ModelInput in2(std::map<std::string, torch::Tensor>{{"video", in.at("video")},
                                                            {"weights", torch::randn({2, 4, 4})}});
  EXPECT_LT((fast->forward(in2) - net->forward(in2)).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(fast->stats().traced, 1);
  EXPECT_EQ(fast->stats().fast_calls, 2);

  const FlopCount f = count_inference_flops(*net, in);
  EXPECT_DOUBLE_EQ(f.conv, 2.0 * (2 * 4 * 4 * 8 * 8) * (3 * 27));
  EXPECT_DOUBLE_EQ(f.matmul, 2.0 * (2 * 4) * 4);
  EXPECT_DOUBLE_EQ(f.linear, 2.0 * 2 * 4 * 5);
  EXPECT_EQ(f.uncounted, 0);
}

TEST(FlopCount, ResNet50TsnMatchesThePublishedFigure) {
  // The convolutions of torchvision's ResNet-50 on one 224x224 image are 4,087,136,256
  // multiply-adds (summed by forward hooks over its Conv2d modules: output numel x weight[0]
  // numel); TSN's trunk is the same per segment, its fc is 2048 x num_classes.
  Tsn net(TsnOptions().num_classes(400).depth(50));
  const FlopCount f = count_inference_flops(*net, torch::randn({1, 3, 3, 224, 224}));
  EXPECT_DOUBLE_EQ(f.conv, 3 * 2.0 * 4087136256.0);
  EXPECT_DOUBLE_EQ(f.linear, 2.0 * 2048 * 400);
  EXPECT_EQ(f.uncounted, 0);
  EXPECT_TRUE(net->is_training());  // the mode is restored
}

}  // namespace
}  // namespace vc::models
