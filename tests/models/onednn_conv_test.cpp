// videocls's own oneDNN convolutions in the fast inference path (models/common/onednn_conv.h):
// every 2-D convolution of a ResNet replaced, its ReLU and residual add fused, Winograd for the
// 3x3 stride-1 ones where the CPU has it, and the same logits as eager within 1e-3.
#include "models/common/onednn_conv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "models/common/inference.h"
#include "models/tsn/tsn.h"
#include "tests/models/fast_path_util.h"

namespace vc::models {
namespace {

std::vector<std::string> log_lines;
void collect(const std::string& s) { log_lines.push_back(s); }

// max |a - b| within 1e-3, relative beyond |logit| 1 (the fast path's own acceptance rule).
void expect_close(const torch::Tensor& a, const torch::Tensor& ref) {
  const double diff = (a - ref).abs().max().item<double>();
  EXPECT_LE(diff, 1e-3 * std::max(1.0, ref.abs().max().item<double>()))
      << "max |fast - eager| " << diff;
}

torch::Tensor eager_of(VideoModelImpl& net, const ModelInput& in) {
  torch::NoGradGuard ng;
  net.eval();
  return net.forward(in);
}

// Runs `net` through a new fast path twice on `in` (traced once, the second call from the cache:
// e.g. an in-place sum must not have changed a buffer the graph reads again), checks both against
// eager, and returns the optimised graph's text.
std::string fast_graph(const std::shared_ptr<VideoModelImpl>& net, const ModelInput& in) {
  const torch::Tensor eager = eager_of(*net, in);
  log_lines.clear();
  auto fast = make_fast_inference(net, {}, collect);
  fast->eval();
  const torch::Tensor out = fast->forward(in);
  EXPECT_EQ(fast->stats().traced, 1) << (log_lines.empty() ? "" : log_lines.back());
  expect_close(out, eager);
  expect_close(fast->forward(in), eager);
  return fast->graph_text(in);
}

// TSN-ResNet-50: all 53 convolutions on the op, the 16 residual adds and all 49 ReLUs fused (one
// ReLU per conv except the three 1x1 expansions... i.e. every ReLU of the network), and no
// LibTorch convolution, ReLU or add left; same logits as eager, with and without Winograd.
TEST(OneDnnConv, TsnConvolutionsFused) {
  if (!onednn_conv_available()) GTEST_SKIP() << "built without the oneDNN convolutions";
  torch::manual_seed(0);
  Tsn net(TsnOptions().num_classes(7).depth(50));
  randomise_bn(*net);
  ModelInput in;
  in.set("video", torch::randn({2, 3, 3, 64, 64}));
  const torch::Tensor eager = eager_of(*net, in);
  log_lines.clear();
  auto fast = make_fast_inference(net.ptr(), {}, collect);
  fast->eval();
  const torch::Tensor a = fast->forward(in);
  const torch::Tensor b = fast->forward(in);
  EXPECT_EQ(fast->stats().traced, 1);
  expect_close(a, eager);
  EXPECT_TRUE(torch::equal(a, b));
  const std::string g = fast->graph_text(in);
  EXPECT_EQ(count(g, "prim::mkldnn_convolution("), 0) << g;
  EXPECT_EQ(count(g, "aten::relu_("), 0) << g;
  EXPECT_EQ(count(g, "aten::add_("), 0) << g;
  EXPECT_EQ(count(g, "videocls::onednn_conv("), 53 - 16) << g;
  // Every shortcut is dead after its add, so each sum goes into the shortcut's own buffer.
  EXPECT_EQ(count(g, "videocls::onednn_conv_add_("), 16) << g;
  ASSERT_FALSE(log_lines.empty());
  EXPECT_NE(log_lines.back().find("53 convolutions on videocls's oneDNN primitives"),
            std::string::npos)
      << log_lines.back();
  EXPECT_NE(log_lines.back().find("49 ReLUs and 16 residual adds fused"), std::string::npos)
      << log_lines.back();
  std::cout << log_lines.back() << "\n";

  // Direct convolutions only, and LibTorch's convolutions: the same logits.
  auto direct = make_fast_inference(net.ptr(), FastInferenceOptions().winograd(false), collect);
  direct->eval();
  expect_close(direct->forward(in), eager);
  EXPECT_NE(log_lines.back().find("(0 Winograd"), std::string::npos) << log_lines.back();
  auto plain =
      make_fast_inference(net.ptr(), FastInferenceOptions().onednn_convolutions(false), collect);
  plain->eval();
  expect_close(plain->forward(in), eager);
  EXPECT_EQ(count(plain->graph_text(in), "videocls::onednn_conv"), 0);
  EXPECT_EQ(count(plain->graph_text(in), "prim::mkldnn_convolution("), 53);
}

// Convolutions of every kind the op takes (bias, stride, asymmetric kernels, dilation, channel
// counts off oneDNN's blocks, odd sizes) and one it leaves to LibTorch (grouped), with a ReLU
// after each and a residual add whose shortcut is read again after the add: the sum must then
// not overwrite the shortcut. Batch 1 first: ATen's dilated convolution then reads tensor values
// inside the op (fill_ -> item), which must not make the trace look value-dependent.
class MixedConvsImpl : public VideoModelImpl {
 public:
  MixedConvsImpl() {
    namespace nn = torch::nn;
    a = register_module("a", nn::Conv2d(nn::Conv2dOptions(3, 5, 3).padding(1)));  // bias
    b = register_module("b", nn::Conv2d(nn::Conv2dOptions(5, 12, {1, 3}).padding({0, 1})));
    c = register_module("c", nn::Conv2d(nn::Conv2dOptions(12, 12, 3).padding(2).dilation(2)));
    d = register_module("d", nn::Conv2d(nn::Conv2dOptions(12, 12, 3).stride(2).padding(1)));
    e = register_module("e", nn::Conv2d(nn::Conv2dOptions(12, 12, 3).padding(1).bias(false)));
    g = register_module("g", nn::Conv2d(nn::Conv2dOptions(12, 12, 3).padding(1).groups(3)));
    bn = register_module("bn", nn::BatchNorm2d(12));
  }
  torch::Tensor forward(const ModelInput& input) override {
    torch::Tensor x = input.at("video");  // [N, 3, H, W]
    x = torch::relu(a(x));                // 3x3 + bias: Winograd where available
    x = torch::relu(b(x));                // 1x3
    const torch::Tensor s = d(c(x));      // dilated, then strided: the shortcut
    torch::Tensor y = bn(e(s));           // BN folded into e
    y = torch::relu(y + s);               // e + shortcut + ReLU: fused
    y = y * 0.5 + s;                      // the shortcut read again after the add
    y = torch::relu(g(y));                // grouped: LibTorch's
    return y.mean({2, 3});
  }
  torch::nn::Conv2d a{nullptr}, b{nullptr}, c{nullptr}, d{nullptr}, e{nullptr}, g{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};

TEST(OneDnnConv, MixedConvolutionsAndALiveShortcut) {
  if (!onednn_conv_available()) GTEST_SKIP() << "built without the oneDNN convolutions";
  torch::manual_seed(3);
  auto net = std::make_shared<MixedConvsImpl>();
  randomise_bn(*net);
  for (const auto& shape : {std::vector<int64_t>{1, 3, 17, 23}, std::vector<int64_t>{2, 3, 17, 23},
                            std::vector<int64_t>{2, 3, 8, 8}}) {
    ModelInput in;
    in.set("video", torch::randn(shape));
    const std::string graph = fast_graph(net, in);  // the shortcut's buffer was not overwritten
    EXPECT_EQ(count(graph, "videocls::onednn_conv("), 4) << graph;      // a, b, c, d
    EXPECT_EQ(count(graph, "videocls::onednn_conv_add("), 1) << graph;  // e + s, s kept
    EXPECT_EQ(count(graph, "videocls::onednn_conv_add_("), 0) << graph;
    EXPECT_EQ(count(graph, "prim::mkldnn_convolution("), 1) << graph;  // g (grouped)
  }
}

// The same network without the later read of the shortcut: then the sum goes in place.
class DeadShortcutImpl : public MixedConvsImpl {
 public:
  torch::Tensor forward(const ModelInput& input) override {
    torch::Tensor x = torch::relu(b(torch::relu(a(input.at("video")))));
    const torch::Tensor s = d(c(x));
    return torch::relu(bn(e(s)) + s).mean({2, 3});
  }
};

TEST(OneDnnConv, DeadShortcutIsSummedInPlace) {
  if (!onednn_conv_available()) GTEST_SKIP() << "built without the oneDNN convolutions";
  torch::manual_seed(5);
  auto net = std::make_shared<DeadShortcutImpl>();
  randomise_bn(*net);
  ModelInput in;
  in.set("video", torch::randn({2, 3, 19, 16}));
  const std::string graph = fast_graph(net, in);
  EXPECT_EQ(count(graph, "videocls::onednn_conv_add_("), 1) << graph;
  EXPECT_EQ(count(graph, "aten::relu"), 0) << graph;
}

// 3-D convolutions: kt x 1 x 1 ones (StNet's temporal blocks) run as 2-D kt x 1 ones over
// [N, C, T, H*W] with their ReLU fused, from a plain input (8 channels) and from a blocked one
// (16); a 1 x 3 x 3 one stays LibTorch's.
class TemporalConvsImpl : public VideoModelImpl {
 public:
  TemporalConvsImpl() {
    namespace nn = torch::nn;
    a = register_module("a", nn::Conv3d(nn::Conv3dOptions(8, 16, {3, 1, 1}).padding({1, 0, 0})));
    b = register_module(
        "b", nn::Conv3d(nn::Conv3dOptions(16, 16, {3, 1, 1}).padding({1, 0, 0}).bias(false)));
    c = register_module("c", nn::Conv3d(nn::Conv3dOptions(16, 16, {1, 3, 3}).padding({0, 1, 1})));
    bn = register_module("bn", nn::BatchNorm3d(16));
  }
  torch::Tensor forward(const ModelInput& input) override {
    torch::Tensor x = input.at("video");  // [N, 8, T, H, W]
    x = bn(torch::relu(a(x)));            // ReLU fused; BN after it stays
    x = torch::relu(b(x)) + x;            // residual add stays LibTorch's
    x = torch::relu(c(x));
    return x.mean({2, 3, 4});
  }
  torch::nn::Conv3d a{nullptr}, b{nullptr}, c{nullptr};
  torch::nn::BatchNorm3d bn{nullptr};
};

TEST(OneDnnConv, TemporalConvolutionsRunAs2d) {
  if (!onednn_conv_available()) GTEST_SKIP() << "built without the oneDNN convolutions";
  torch::manual_seed(9);
  auto net = std::make_shared<TemporalConvsImpl>();
  {
    torch::NoGradGuard ng;
    net->bn->running_mean.normal_(0, 0.2);
    net->bn->running_var.uniform_(0.5, 2);
  }
  for (const auto& shape :
       {std::vector<int64_t>{2, 8, 5, 6, 7}, std::vector<int64_t>{1, 8, 7, 16, 16}}) {
    ModelInput in;
    in.set("video", torch::randn(shape));
    const std::string graph = fast_graph(net, in);
    ASSERT_FALSE(log_lines.empty());
    EXPECT_EQ(count(graph, "videocls::onednn_conv("), 2) << graph;
    EXPECT_EQ(count(graph, "prim::mkldnn_convolution("), 1) << graph;
    EXPECT_NE(log_lines.back().find("2 temporal 3-D as 2-D"), std::string::npos)
        << log_lines.back();
  }
}

// The pass leaves a graph without LibTorch oneDNN convolutions alone.
TEST(OneDnnConv, GraphWithoutConvolutionsUnchanged) {
  auto g = std::make_shared<torch::jit::Graph>();
  torch::jit::Value* x = g->addInput("x");
  torch::jit::Node* r = g->create(c10::Symbol::fromQualString("aten::relu"), {x}, 1);
  g->insertNode(r);
  g->registerOutput(r->output());
  const std::string before = g->toString();
  const OneDnnConvCounts c = fuse_onednn_convolutions(g);
  EXPECT_EQ(c.convs, 0);
  EXPECT_EQ(g->toString(), before);
}

}  // namespace
}  // namespace vc::models
