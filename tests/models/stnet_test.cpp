// StNet: shapes, gradients, T=1, the temporal block against an explicit per-tap computation,
// the Xception block's structure, Fluid inits (fc bound quirk, MSRA uniform), the full-size
// parameter count from the spec's layer list, batching of multi-view inputs, errors.
#include "models/stnet/stnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace vc::models {
namespace {

struct StnetCase {
  int64_t segments;
  int64_t seglen;
  int64_t depth;
};

void PrintTo(const StnetCase& c, std::ostream* os) {
  *os << "T=" << c.segments << " seglen=" << c.seglen << " depth=" << c.depth;
}

class StnetShapes : public ::testing::TestWithParam<StnetCase> {};

TEST_P(StnetShapes, LogitsShapeAndGradients) {
  torch::manual_seed(0);
  const StnetCase c = GetParam();
  Stnet net(StnetOptions().num_classes(11).seglen(c.seglen).depth(c.depth));
  torch::Tensor clips = torch::randn({2, c.segments, 3 * c.seglen, 32, 32});
  torch::Tensor logits = net->forward(clips);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 11}));
  torch::nn::functional::cross_entropy(logits, torch::tensor({1, 4})).backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
  EXPECT_GT(net->backbone->conv1->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(net->temporal_res3->conv->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(net->temporal_res4->bn->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(net->xception->att_conv->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(net->xception->dw->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(net->fc->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(net->backbone->conv1->weight.size(1), 3 * c.seglen);
}

INSTANTIATE_TEST_SUITE_P(Cases, StnetShapes,
                         ::testing::Values(StnetCase{3, 2, 18}, StnetCase{1, 1, 18},
                                           StnetCase{4, 3, 34}, StnetCase{7, 5, 50}),
                         [](const auto& info) {
                           return "T" + std::to_string(info.param.segments) + "_seglen" +
                                  std::to_string(info.param.seglen) + "_depth" +
                                  std::to_string(info.param.depth);
                         });

// Randomises BN affine parameters and running statistics so eval-mode BN is not the identity.
void randomise_bn(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& kv : m.named_parameters()) {
    if (kv.key().find("bn") != std::string::npos) kv.value().uniform_(0.5, 1.5);
  }
  for (auto& kv : m.named_buffers()) {
    if (kv.key().find("running_mean") != std::string::npos) kv.value().normal_(0.0, 0.2);
    if (kv.key().find("running_var") != std::string::npos) kv.value().uniform_(0.5, 2.0);
  }
}

torch::Tensor eval_bn(const torch::nn::BatchNorm3d& bn, const torch::Tensor& x) {
  // x [N, C, T, H, W]; running statistics (eval mode), eps 1e-5.
  const auto v = [](const torch::Tensor& t) { return t.view({1, -1, 1, 1, 1}); };
  return (x - v(bn->running_mean)) / torch::sqrt(v(bn->running_var) + 1e-5) * v(bn->weight) +
         v(bn->bias);
}

// The temporal block against a per-tap computation: out[t] = BN(ReLU(b + sum_k W_k x[t+k-1]))
// + x[t], zero outside [0, T).
TEST(StnetTemporalBlock, MatchesPerTapComputation) {
  torch::manual_seed(1);
  const int64_t n = 2, t = 4, c = 6, h = 3, w = 5;
  TemporalConvBn block(c);
  randomise_bn(*block);
  {
    torch::NoGradGuard no_grad;
    block->conv->bias.normal_(0.0, 0.1);
  }
  block->eval();
  torch::Tensor x = torch::randn({n * t, c, h, w});
  torch::Tensor out = block->forward(x, t);
  ASSERT_EQ(out.sizes(), x.sizes());
  const torch::Tensor wt = block->conv->weight;  // [C, C, 3, 1, 1]
  torch::Tensor frames = x.view({n, t, c, h, w});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t s = 0; s < t; ++s) {
      torch::Tensor acc = block->conv->bias.view({c, 1, 1}).expand({c, h, w}).clone();
      for (int64_t k = 0; k < 3; ++k) {
        const int64_t src = s + k - 1;
        if (src < 0 || src >= t) continue;
        const torch::Tensor wk = wt.select(2, k).squeeze(-1).squeeze(-1);  // [C, C]
        acc = acc + torch::einsum("oc,chw->ohw", {wk, frames[i][src]});
      }
      torch::Tensor y = eval_bn(block->bn, torch::relu(acc).view({1, c, 1, h, w})).view({c, h, w});
      y = y + frames[i][s];
      EXPECT_TRUE(torch::allclose(out.view({n, t, c, h, w})[i][s], y, 1e-4, 1e-5))
          << "video " << i << " segment " << s;
    }
  }
}

TEST(StnetTemporalBlock, SingleSegmentUsesTheCentreTapOnly) {
  torch::manual_seed(2);
  TemporalConvBn block(4);
  randomise_bn(*block);
  block->eval();
  torch::Tensor x = torch::randn({3, 4, 2, 2});                      // N=3 videos of T=1
  const torch::Tensor centre = block->conv->weight.select(2, 1);     // [C, C, 1, 1]
  torch::Tensor conv = torch::conv2d(x, centre, block->conv->bias);  // [3, C, 2, 2]
  torch::Tensor expected =
      eval_bn(block->bn, torch::relu(conv).unsqueeze(2)).squeeze(2) + x;  // [3, C, 2, 2]
  EXPECT_TRUE(torch::allclose(block->forward(x, 1), expected, 1e-4, 1e-5));
  EXPECT_THROW(block->forward(x, 2), std::invalid_argument);  // 3 frames are not N*2
  EXPECT_THROW(block->forward(torch::randn({2, 5, 2, 2}), 1), std::invalid_argument);
}

TEST(StnetXception, StructureShapesAndPaths) {
  torch::manual_seed(3);
  TemporalXception x(16);
  EXPECT_EQ(x->att_conv->weight.sizes(), (std::vector<int64_t>{16, 1, 3, 1}));
  EXPECT_EQ(x->att_conv->options.groups(), 16);
  EXPECT_EQ(x->att_2->weight.sizes(), (std::vector<int64_t>{8, 16, 1, 1}));
  EXPECT_EQ(x->att1->weight.sizes(), (std::vector<int64_t>{8, 1, 3, 1}));
  EXPECT_EQ(x->att1->options.groups(), 8);
  EXPECT_EQ(x->att1_2->weight.sizes(), (std::vector<int64_t>{8, 8, 1, 1}));
  EXPECT_EQ(x->dw->weight.sizes(), (std::vector<int64_t>{8, 16, 1, 1}));
  EXPECT_EQ(x->bn->weight.size(0), 16);
  EXPECT_EQ(x->bndw->weight.size(0), 8);
  EXPECT_EQ(x->bn2->weight.size(0), 8);
  randomise_bn(*x);
  x->eval();
  torch::Tensor in = torch::randn({2, 16, 5, 1});
  torch::Tensor out = x->forward(in);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 8, 5, 1}));
  EXPECT_GE(out.min().item<double>(), 0.0);  // ends with ReLU
  // Zeroing the main path's last conv leaves ReLU(bn2(dw(bn(x)))) (the shortcut).
  {
    torch::NoGradGuard no_grad;
    x->att1_2->weight.zero_();
    x->att1_2->bias.zero_();
  }
  torch::Tensor shortcut_only = torch::relu(x->bn2(x->dw(x->bn(in))));
  EXPECT_TRUE(torch::allclose(x->forward(in), shortcut_only, 1e-5, 1e-6));
  EXPECT_THROW(x->forward(torch::randn({2, 16, 5, 2})), std::invalid_argument);
  EXPECT_THROW(TemporalXception(7), std::invalid_argument);
}

TEST(Stnet, SubmoduleNamesAndFullSizeShapes) {
  Stnet net;  // the original: ResNet-50, seglen 5, 400 classes
  const auto params = net->named_parameters();
  const auto shape = [&](const std::string& k) { return params[k].sizes().vec(); };
  using V = std::vector<int64_t>;
  EXPECT_EQ(shape("backbone.conv1.weight"), (V{64, 15, 7, 7}));
  EXPECT_EQ(shape("temporal_res3.conv.weight"), (V{512, 512, 3, 1, 1}));
  EXPECT_EQ(shape("temporal_res3.conv.bias"), (V{512}));
  EXPECT_EQ(shape("temporal_res4.conv.weight"), (V{1024, 1024, 3, 1, 1}));
  EXPECT_EQ(shape("temporal_res4.bn.weight"), (V{1024}));
  EXPECT_EQ(shape("xception.bn.weight"), (V{2048}));
  EXPECT_EQ(shape("xception.att_conv.weight"), (V{2048, 1, 3, 1}));
  EXPECT_EQ(shape("xception.att_2.weight"), (V{1024, 2048, 1, 1}));
  EXPECT_EQ(shape("xception.att1.weight"), (V{1024, 1, 3, 1}));
  EXPECT_EQ(shape("xception.att1_2.weight"), (V{1024, 1024, 1, 1}));
  EXPECT_EQ(shape("xception.dw.weight"), (V{1024, 2048, 1, 1}));
  EXPECT_EQ(shape("xception.bn2.bias"), (V{1024}));
  EXPECT_EQ(shape("fc.weight"), (V{400, 1024}));
  EXPECT_FALSE(params.contains("backbone.fc.weight"));
  EXPECT_TRUE(net->named_buffers().contains("temporal_res3.bn.running_var"));
  EXPECT_TRUE(net->named_buffers().contains("xception.bndw.running_mean"));
}

// Full-size parameter count, worked out from the spec's layer list (§6.4 trunk, §6.7 extras).
TEST(Stnet, FullSizeParameterCountMatchesTheSpec) {
  Stnet net;
  int64_t ours = 0;
  for (const auto& p : net->parameters()) ours += p.numel();

  const int64_t seglen = 5, classes = 400;
  // conv1 [64, 15, 7, 7] + bn_conv1 (scale, offset).
  int64_t spec = 64 * 3 * seglen * 7 * 7 + 2 * 64;
  // Bottleneck stages res2..res5: C in {64,128,256,512}, blocks {3,4,6,3}; per block
  // branch2a [C, Cin, 1, 1], branch2b [C, C, 3, 3], branch2c [4C, C, 1, 1], a BN (2 vectors)
  // after each; block a adds branch1 [4C, Cin_a, 1, 1] + BN. Cin_a = 64, 256, 512, 1024.
  const int64_t widths[] = {64, 128, 256, 512};
  const int64_t blocks[] = {3, 4, 6, 3};
  int64_t cin = 64;
  for (int s = 0; s < 4; ++s) {
    const int64_t c = widths[s];
    for (int64_t b = 0; b < blocks[s]; ++b) {
      spec += c * cin + 2 * c;                      // branch2a + BN
      spec += c * c * 9 + 2 * c;                    // branch2b + BN
      spec += 4 * c * c + 2 * 4 * c;                // branch2c + BN
      if (b == 0) spec += 4 * c * cin + 2 * 4 * c;  // branch1 + BN
      cin = 4 * c;
    }
  }
  // Temporal blocks: conv3d [C, C, 3, 1, 1] + bias [C] + BN (2 vectors), C = 512, 1024.
  for (int64_t c : {512, 1024}) spec += c * c * 3 + c + 2 * c;
  // Xception: xception_bn (2*2048); att_conv [2048, 1, 3, 1] + b; att_2 [1024, 2048, 1, 1] + b;
  // bndw (2*1024); att1 [1024, 1, 3, 1] + b; att1_2 [1024, 1024, 1, 1] + b;
  // dw [1024, 2048, 1, 1] + b; bn2 (2*1024).
  spec += 2 * 2048 + (2048 * 3 + 2048) + (1024 * 2048 + 1024) + 2 * 1024 + (1024 * 3 + 1024) +
          (1024 * 1024 + 1024) + (1024 * 2048 + 1024) + 2 * 1024;
  // fc_0 [1024, 400] + [400].
  spec += 1024 * classes + classes;

  EXPECT_EQ(ours, spec);
  EXPECT_EQ(spec, 33158864);  // the figure docs/models/stnet.md quotes
}

TEST(Stnet, FluidInitialisersAndTheFcBoundQuirk) {
  torch::manual_seed(4);
  Stnet net;  // ResNet-50: fc 1024 -> 400
  // spec §9.3.7: Uniform(+-1/sqrt(2048)) although the fan-in is 1024.
  const double bound = 1.0 / std::sqrt(2048.0);
  const double fc_max = net->fc->weight.abs().max().item<double>();
  EXPECT_LE(fc_max, bound);
  EXPECT_GT(fc_max, 0.99 * bound);  // 409600 draws reach the bound; 1/sqrt(1024) would exceed it
  EXPECT_TRUE(net->fc->bias.eq(0).all().item<bool>());
  // conv3d: MSRA uniform, limit sqrt(6 / (3C)); bias 0.
  for (auto* block : {&net->temporal_res3, &net->temporal_res4}) {
    const double limit = std::sqrt(6.0 / (3.0 * static_cast<double>((*block)->channels)));
    const double m = (*block)->conv->weight.abs().max().item<double>();
    EXPECT_LE(m, limit);
    EXPECT_GT(m, 0.99 * limit);
    EXPECT_TRUE((*block)->conv->bias.eq(0).all().item<bool>());
    EXPECT_TRUE((*block)->bn->weight.eq(1).all().item<bool>());
    EXPECT_TRUE((*block)->bn->bias.eq(0).all().item<bool>());
    EXPECT_DOUBLE_EQ((*block)->bn->options.momentum().value(), 0.1);  // Fluid's 0.9
    EXPECT_DOUBLE_EQ((*block)->bn->options.eps(), 1e-5);
  }
  // Xception convs: MSRA uniform with Fluid's fan-in (per-group input channels * kernel).
  const auto& x = net->xception;
  const std::pair<const torch::nn::Conv2d*, double> convs[] = {{&x->att_conv, 3.0},
                                                               {&x->att_2, 2048.0},
                                                               {&x->att1, 3.0},
                                                               {&x->att1_2, 1024.0},
                                                               {&x->dw, 2048.0}};
  for (const auto& [conv, fan_in] : convs) {
    const double limit = std::sqrt(6.0 / fan_in);
    const double m = (*conv)->weight.abs().max().item<double>();
    EXPECT_LE(m, limit);
    EXPECT_GT(m, 0.9 * limit);
    EXPECT_TRUE((*conv)->bias.eq(0).all().item<bool>());
  }
  for (const auto* bn : {&x->bn, &x->bndw, &x->bn2}) {
    EXPECT_TRUE((*bn)->weight.eq(1).all().item<bool>());
    EXPECT_TRUE((*bn)->bias.eq(0).all().item<bool>());
  }
  // Small trunks: fc bound follows the pooled width (512), fc is 256 wide.
  Stnet small(StnetOptions().num_classes(300).depth(18).seglen(1));
  EXPECT_EQ(small->fc->weight.sizes(), (std::vector<int64_t>{300, 256}));
  EXPECT_LE(small->fc->weight.abs().max().item<double>(), 1.0 / std::sqrt(512.0));
  EXPECT_EQ(small->temporal_res3->channels, 128);
  EXPECT_EQ(small->temporal_res4->channels, 256);
}

// The max over time: the logits are fc(max_t xception(...)), checked from the parts.
TEST(Stnet, ForwardComposesTheParts) {
  torch::manual_seed(5);
  Stnet net(StnetOptions().num_classes(5).depth(18).seglen(2));
  randomise_bn(*net);
  net->eval();
  torch::NoGradGuard no_grad;
  const int64_t n = 2, t = 3;
  torch::Tensor clips = torch::randn({n, t, 6, 32, 32});
  torch::Tensor x = clips.reshape({n * t, 6, 32, 32});
  x = net->backbone->stem(x);
  x = net->backbone->forward_stage(1, x);
  x = net->temporal_res3->forward(net->backbone->forward_stage(2, x), t);
  x = net->temporal_res4->forward(net->backbone->forward_stage(3, x), t);
  x = ResNetImpl::pool(net->backbone->forward_stage(4, x));  // [N*T, 512]
  x = x.view({n, t, 512}).transpose(1, 2).unsqueeze(-1);     // [N, 512, T, 1]
  x = net->xception->forward(x).squeeze(-1).amax(2);         // [N, 256]
  EXPECT_TRUE(torch::allclose(net->forward(clips), net->fc(x), 1e-5, 1e-6));
}

// Multi-view batches [N*V, T, ...] are N*V independent videos (eval mode).
TEST(Stnet, ViewsAreIndependentVideos) {
  torch::manual_seed(6);
  Stnet net(StnetOptions().num_classes(4).depth(18).seglen(1));
  randomise_bn(*net);
  net->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor views = torch::randn({6, 2, 3, 32, 32});  // 2 videos x 3 views
  torch::Tensor all = net->forward(views);
  ASSERT_EQ(all.sizes(), (std::vector<int64_t>{6, 4}));
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(torch::allclose(all[i], net->forward(views.slice(0, i, i + 1))[0], 1e-4, 1e-5))
        << "view " << i;
  }
}

TEST(Stnet, UsableThroughVideoModelInterface) {
  VideoModelPtr model = Stnet(StnetOptions().num_classes(3).depth(18).seglen(1)).ptr();
  EXPECT_EQ(model->forward(torch::randn({1, 2, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 3}));
}

TEST(Stnet, WrongInputIsAnError) {
  Stnet net(StnetOptions().num_classes(3).seglen(2).depth(18));
  EXPECT_THROW(net->forward(torch::randn({1, 2, 3, 32, 32})), std::invalid_argument);
  EXPECT_THROW(net->forward(torch::randn({2, 6, 32, 32})), std::invalid_argument);
  EXPECT_THROW(Stnet(StnetOptions().depth(42)), std::invalid_argument);
  EXPECT_THROW(Stnet(StnetOptions().num_classes(0)), std::invalid_argument);
  EXPECT_THROW(Stnet(StnetOptions().seglen(0)), std::invalid_argument);
}

}  // namespace
}  // namespace vc::models
