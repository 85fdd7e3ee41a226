// Unit tests of the Non-local network (models/nonlocal), its 3-D ResNet trunk
// (models/common/resnet3d) and the non-local block (models/common/nonlocal_block): shapes,
// names, the init rules of spec §6.8, the block positions, the heads, dropout semantics and the
// full-size parameter count against the count worked out from the spec's layer list.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <set>

#include "models/nonlocal/nonlocal.h"

namespace vc::models {
namespace {

NonlocalOptions tiny() {
  // width 4: stages 16 / 32 / 64 / 128 channels; 64 px crops -> a 2x2 trunk output.
  return NonlocalOptions().num_classes(5).width(4).pool_kernel({4, 2, 2});
}

int64_t count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(Nonlocal, ParameterCountOfTheFullNetworkMatchesTheSpec) {
  Nonlocal net(NonlocalOptions().num_classes(400));
  // Spec §6.8, depth 50 C2D: conv1 [64,3,1,7,7] + bn_conv1; bottleneck (in, p): branch2a in*p,
  // branch2b p*p*1*3*3, branch2c p*4p, BN scale+offset 2*(p + p + 4p); shortcut in*4p + 2*4p on
  // the first block of each stage; non-local (C, C' = C/2): theta/phi/g C*C' + C', out C'*C + C,
  // BN 2C; after res3 blocks 1, 3 (C 512) and res4 blocks 1, 3, 5 (C 1024); pred 2048*400 + 400.
  int64_t expected = 64 * 3 * 1 * 7 * 7 + 2 * 64;
  const int64_t blocks[4] = {3, 4, 6, 3};
  int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    const int64_t p = 64 << s;
    for (int b = 0; b < blocks[s]; ++b) {
      expected += in * p + p * p * 9 + p * 4 * p + 2 * (p + p + 4 * p);
      if (b == 0) expected += in * 4 * p + 2 * 4 * p;
      in = 4 * p;
    }
  }
  const auto nl = [](int64_t c) { return 3 * (c * (c / 2) + c / 2) + (c / 2) * c + c + 2 * c; };
  expected += 2 * nl(512) + 3 * nl(1024);
  expected += 2048 * 400 + 400;
  EXPECT_EQ(expected, 31686096);  // = torchvision resnet50 without fc (23508032) + NL + pred
  EXPECT_EQ(count(*net), expected);
  EXPECT_EQ(net->nonlocal->size(), 5u);
}

TEST(Nonlocal, NamesAreTorchvisionsPlusNonlocalAndPred) {
  Nonlocal net(tiny());
  std::set<std::string> names;
  for (const auto& p : net->named_parameters()) names.insert(p.key());
  for (const char* n :
       {"backbone.conv1.weight", "backbone.bn1.weight", "backbone.layer1.0.conv1.weight",
        "backbone.layer1.0.downsample.0.weight", "backbone.layer2.0.downsample.1.bias",
        "backbone.layer4.2.bn3.weight", "nonlocal.layer2_1.theta.weight",
        "nonlocal.layer2_3.g.bias", "nonlocal.layer3_5.out.weight", "nonlocal.layer3_1.bn.weight",
        "pred.weight", "pred.bias"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_FALSE(names.count("backbone.layer1.1.downsample.0.weight"));
  EXPECT_FALSE(names.count("backbone.conv1.bias"));
  EXPECT_EQ(net->backbone->conv1->weight.sizes(), (std::vector<int64_t>{4, 3, 1, 7, 7}));
  EXPECT_EQ(net->backbone->layer2[0]->as<Bottleneck3dImpl>()->conv2->weight.sizes(),
            (std::vector<int64_t>{8, 8, 1, 3, 3}));
}

TEST(Nonlocal, BlockPositionsFollowLayerMod) {
  using P = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(nonlocal_positions(NonlocalOptions()), (P{{2, 1}, {2, 3}, {3, 1}, {3, 3}, {3, 5}}));
  EXPECT_EQ(nonlocal_positions(NonlocalOptions().depth(101)),
            (P{{2, 1}, {2, 3}, {3, 6}, {3, 13}, {3, 20}}));
  EXPECT_EQ(nonlocal_positions(NonlocalOptions().layer_mod(3).conv3_nonlocal(false)),
            (P{{3, 2}, {3, 5}}));
  EXPECT_THROW(nonlocal_positions(NonlocalOptions().layer_mod(0)), std::invalid_argument);
}

TEST(Nonlocal, InitRules) {
  torch::manual_seed(3);
  Nonlocal net(NonlocalOptions().num_classes(400));
  // Every conv of the trunk MSRA-uniform: |w| <= sqrt(6 / fan_in), std ~ bound / sqrt(3).
  for (const auto& p : net->backbone->named_parameters()) {
    const auto& w = p.value();
    if (w.dim() != 5) continue;
    const double fan_in = static_cast<double>(w[0].numel());
    const double bound = std::sqrt(6.0 / fan_in);
    EXPECT_LE(w.abs().max().item<double>(), bound) << p.key();
    if (w.numel() > 10000) {
      EXPECT_NEAR(w.std().item<double>(), bound / std::sqrt(3.0), 0.05 * bound) << p.key();
    }
  }
  // The last BN of every block starts at gamma 0, the others at 1; BN momentum as Fluid's 0.9.
  for (int64_t s = 1; s <= 4; ++s) {
    for (int64_t b = 0; b < net->backbone->num_blocks(s); ++b) {
      auto* blk = net->backbone->stage(s)[b]->as<Bottleneck3dImpl>();
      EXPECT_EQ(blk->bn3->weight.abs().max().item<float>(), 0.0f);
      EXPECT_EQ(blk->bn1->weight.min().item<float>(), 1.0f);
      EXPECT_DOUBLE_EQ(blk->bn1->options.momentum().value(), 0.1);
      EXPECT_DOUBLE_EQ(blk->bn1->options.eps(), 1e-5);
    }
  }
  // Non-local convs Normal(0, 0.01), biases 0, BN gamma 0; pred Normal(0, 0.01), bias 0.
  auto* nl = net->nonlocal["layer3_3"]->as<NonLocalBlockImpl>();
  EXPECT_NEAR(nl->theta->weight.std().item<double>(), 0.01, 0.0005);
  EXPECT_NEAR(nl->out->weight.std().item<double>(), 0.01, 0.0005);
  EXPECT_EQ(nl->g->bias.abs().max().item<float>(), 0.0f);
  EXPECT_EQ(nl->bn->weight.abs().max().item<float>(), 0.0f);
  EXPECT_NEAR(net->pred->weight.std().item<double>(), 0.01, 0.0005);
  EXPECT_EQ(net->pred->bias.abs().max().item<float>(), 0.0f);
}

TEST(NonLocalBlock, ZeroGammaIsTheIdentityAndShapesHold) {
  NonLocalBlock blk(NonLocalBlockOptions(16, 8));
  blk->eval();
  const torch::Tensor x = torch::randn({2, 16, 4, 6, 6});
  EXPECT_TRUE(torch::allclose(blk->forward(x), x));
  {
    torch::NoGradGuard g;
    blk->bn->weight.fill_(1.0);
  }
  const torch::Tensor y = blk->forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_GT((y - x).abs().max().item<float>(), 1e-4f);
  // Odd sizes: the max-pool floors (5 -> 2 keys per axis).
  EXPECT_EQ(blk->forward(torch::randn({1, 16, 2, 5, 5})).sizes(),
            (std::vector<int64_t>{1, 16, 2, 5, 5}));
  EXPECT_THROW(blk->forward(torch::randn({1, 8, 2, 4, 4})), std::invalid_argument);
}

TEST(Nonlocal, FcHeadShapesAndGradients) {
  Nonlocal net(tiny());
  net->train();
  const torch::Tensor x = torch::randn({2, 3, 8, 64, 64});
  torch::Tensor out = net->forward(x);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 5}));
  out.sum().backward();
  for (const auto& p : net->named_parameters()) {
    EXPECT_TRUE(p.value().grad().defined()) << p.key();
  }
  // A bigger clip leaves more than one pooled position: the fc head refuses it.
  net->eval();
  EXPECT_THROW(net->forward(torch::randn({1, 3, 8, 96, 96})), std::invalid_argument);
  EXPECT_THROW(net->forward(torch::randn({1, 8, 3, 64, 64})), std::invalid_argument);
  // Smaller clips than the kernel: the short axes are pooled whole (trunk 1x1 at 32 px).
  torch::NoGradGuard g;
  EXPECT_EQ(net->forward(torch::randn({2, 3, 8, 32, 32})).sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(net->forward_features(torch::randn({1, 3, 4, 32, 32})).sizes(),
            (std::vector<int64_t>{1, 128, 1, 1, 1}));
}

TEST(Nonlocal, FullyConvHeadReturnsLogOfMeanSoftmax) {
  torch::manual_seed(5);
  Nonlocal net(tiny().fully_conv_head(true));
  net->eval();
  {
    torch::NoGradGuard g;
    net->pred->weight.normal_(0.0, 1.0);
  }
  const torch::Tensor x = torch::randn({2, 3, 8, 96, 96});  // trunk 3x3 -> pool5 2x2 positions
  torch::NoGradGuard g;
  const torch::Tensor feats = net->forward_features(x);
  ASSERT_EQ(feats.sizes(), (std::vector<int64_t>{2, 128, 1, 2, 2}));
  const torch::Tensor per_pos =
      torch::softmax(net->pred(feats.flatten(2).transpose(1, 2)), -1);  // [2, 4, 5]
  const torch::Tensor want = per_pos.mean(1);
  const torch::Tensor out = net->forward(x);
  EXPECT_TRUE(torch::allclose(torch::softmax(out, -1), want, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.exp(), want, 1e-5, 1e-6));
}

TEST(Nonlocal, DropoutOnlyInTrainingUnlessDropoutAtEval) {
  torch::manual_seed(1);
  Nonlocal a(tiny().dropout(0.5));
  Nonlocal b(tiny().dropout(0.5).dropout_at_eval(true));
  {
    torch::NoGradGuard g;
    auto pa = a->named_parameters(), pb = b->named_parameters();
    for (const auto& p : pa) pb[p.key()].copy_(p.value());
    auto ba = a->named_buffers(), bb = b->named_buffers();
    for (const auto& p : ba) bb[p.key()].copy_(p.value());
  }
  a->eval();
  b->eval();
  torch::NoGradGuard g;
  const torch::Tensor x = torch::randn({2, 3, 8, 64, 64});
  const torch::Tensor f = a->forward_features(x).flatten(1);                  // [2, 128]
  EXPECT_TRUE(torch::allclose(a->forward(x), a->pred(f), 1e-5, 1e-6));        // snapshot
  EXPECT_TRUE(torch::allclose(b->forward(x), b->pred(f * 0.5), 1e-5, 1e-6));  // July fix
  // Training (batch statistics): the mask changes the logits against a dropout-free twin.
  Nonlocal c(tiny().dropout(0.0));
  {
    auto pc = c->named_parameters();
    for (const auto& p : a->named_parameters()) pc[p.key()].copy_(p.value());
  }
  a->train();
  c->train();
  EXPECT_FALSE(torch::allclose(a->forward(x), c->forward(x), 1e-4, 1e-5));
}

// The training-mode pooling: max_pool_frames equals max_pool3d with a [1, kh, kw] kernel in
// values and gradients, for the stem's (3x3, stride 2, no padding) and the non-local blocks'
// (2x2, stride 2) pools, odd sizes and padding included; and a network in training and in eval
// mode (max_pool3d) computes the same.
TEST(ResNet3d, MaxPoolFramesIsMaxPool3d) {
  struct Case {
    int64_t kh, kw, sh, sw, ph, pw;
  };
  for (const Case c : {Case{3, 3, 2, 2, 0, 0}, Case{2, 2, 2, 2, 0, 0}, Case{3, 3, 2, 2, 1, 1},
                       Case{3, 2, 1, 2, 1, 0}}) {
    const torch::Tensor x0 = torch::randn({2, 3, 4, 9, 11}, torch::kDouble);
    const torch::Tensor a = x0.clone().requires_grad_(true);
    const torch::Tensor b = x0.clone().requires_grad_(true);
    const torch::Tensor ya =
        torch::max_pool3d(a, {1, c.kh, c.kw}, {1, c.sh, c.sw}, {0, c.ph, c.pw});
    const torch::Tensor yb = max_pool_frames(b, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw);
    ASSERT_EQ(ya.sizes(), yb.sizes());
    EXPECT_TRUE(torch::equal(ya, yb));
    const torch::Tensor g = torch::randn_like(ya);
    (ya * g).sum().backward();
    (yb * g).sum().backward();
    EXPECT_TRUE(torch::equal(a.grad(), b.grad()));
  }
  EXPECT_THROW(max_pool_frames(torch::randn({2, 3, 4, 4}), 2, 2, 2, 2), std::invalid_argument);

  torch::manual_seed(0);
  Nonlocal net(tiny().dropout(0));
  const torch::Tensor clips = torch::randn({2, 3, 4, 64, 64}, torch::kDouble);
  net->to(torch::kDouble);
  // BN in eval mode in both, so that only the pooling differs between the two forwards.
  net->train();
  for (const auto& m : net->modules(false)) {
    if (m->as<torch::nn::BatchNorm3d>()) m->eval();
  }
  torch::NoGradGuard ng;
  const torch::Tensor training = net->forward(clips);
  net->eval();
  EXPECT_TRUE(torch::allclose(training, net->forward(clips), 1e-12, 1e-12));
}

// The frame-wise layout (resnet3d.h): each helper on a ChannelsLast3d input computes what the
// plain 3-D module computes on an NCDHW one, values and gradients (float64), and returns the
// frame-wise layout; layers that are not frame-wise, and inputs in other layouts, take the 3-D
// module.
torch::Tensor frames(const torch::Tensor& x) {
  return x.detach().contiguous(torch::MemoryFormat::ChannelsLast3d).requires_grad_(true);
}
torch::Tensor plain(const torch::Tensor& x) { return x.detach().clone().requires_grad_(true); }

TEST(ResNet3d, FrameWiseConvolutionsAreConv3d) {
  struct Case {
    std::vector<int64_t> k, s, p;
    bool bias;
  };
  for (const Case& c :
       {Case{{1, 3, 3}, {1, 2, 2}, {0, 1, 1}, false}, Case{{1, 1, 1}, {1, 1, 1}, {0, 0, 0}, true},
        Case{{1, 7, 7}, {1, 2, 2}, {0, 3, 3}, false},
        Case{{3, 1, 1}, {1, 1, 1}, {1, 0, 0}, false}}) {  // not frame-wise
    torch::manual_seed(0);
    torch::nn::Conv3d a(torch::nn::Conv3dOptions(5, 6, c.k).stride(c.s).padding(c.p).bias(c.bias));
    torch::nn::Conv3d b(torch::nn::Conv3dOptions(5, 6, c.k).stride(c.s).padding(c.p).bias(c.bias));
    a->to(torch::kDouble);
    b->to(torch::kDouble);
    {
      torch::NoGradGuard ng;
      b->weight.copy_(a->weight);
      if (c.bias) b->bias.copy_(a->bias);
      if (c.k[0] == 1)
        b->weight.set_data(b->weight.contiguous(torch::MemoryFormat::ChannelsLast3d));
    }
    const torch::Tensor x0 = torch::randn({2, 5, 3, 9, 11}, torch::kDouble);
    const torch::Tensor xa = plain(x0), xb = frames(x0);
    const torch::Tensor ya = a->forward(xa);
    const torch::Tensor yb = conv3d_frames(*b, xb);
    ASSERT_EQ(ya.sizes(), yb.sizes());
    EXPECT_EQ(is_frames_layout(yb), c.k[0] == 1) << c.k[0] << c.k[1];
    EXPECT_TRUE(torch::allclose(ya, yb, 1e-12, 1e-12)) << c.k[0] << c.k[1];
    const torch::Tensor g = torch::randn_like(ya);
    (ya * g).sum().backward();
    (yb * g).sum().backward();
    EXPECT_TRUE(torch::allclose(xa.grad(), xb.grad(), 1e-12, 1e-12)) << c.k[0] << c.k[1];
    EXPECT_TRUE(torch::allclose(a->weight.grad(), b->weight.grad(), 1e-12, 1e-12))
        << c.k[0] << c.k[1];
    if (c.bias) {
      EXPECT_TRUE(torch::allclose(a->bias.grad(), b->bias.grad(), 1e-12, 1e-12));
    }
    // An NCDHW input takes conv3d as it is.
    torch::NoGradGuard ng;
    EXPECT_TRUE(torch::allclose(conv3d_frames(*b, x0), a->forward(x0), 1e-12, 1e-12));
  }
  EXPECT_FALSE(is_frames_layout(torch::randn({2, 5, 3, 9, 11})));
  EXPECT_TRUE(is_frames_layout(frames(torch::randn({2, 5, 3, 9, 11}))));
  EXPECT_FALSE(
      is_frames_layout(torch::randn({2, 5, 9, 11}).contiguous(torch::MemoryFormat::ChannelsLast)));
  EXPECT_TRUE(is_frames_weight(
      torch::randn({6, 5, 1, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast3d)));
  EXPECT_FALSE(is_frames_weight(torch::randn({6, 5, 1, 3, 3})));
  EXPECT_FALSE(is_frames_weight(
      torch::randn({6, 5, 3, 1, 1}).contiguous(torch::MemoryFormat::ChannelsLast3d)));
}

TEST(ResNet3d, FrameWiseBatchNormIsBatchNorm3d) {
  torch::nn::BatchNorm3d a(torch::nn::BatchNormOptions(5).momentum(0.1));
  torch::nn::BatchNorm3d b(torch::nn::BatchNormOptions(5).momentum(0.1));
  torch::nn::BatchNorm3d c(torch::nn::BatchNormOptions(5).momentum(c10::nullopt));  // cumulative
  torch::nn::BatchNorm3d d(torch::nn::BatchNormOptions(5).momentum(c10::nullopt));
  for (auto* m : {&a, &b, &c, &d}) {
    (*m)->to(torch::kDouble);
    torch::NoGradGuard ng;
    (*m)->weight.copy_(torch::linspace(0.5, 1.5, 5));
    (*m)->bias.copy_(torch::linspace(-1, 1, 5));
  }
  for (int step = 0; step < 3; ++step) {
    const bool train = step < 2;
    for (auto* m : {&a, &b, &c, &d}) (*m)->train(train);
    const torch::Tensor x0 = torch::randn({2, 5, 3, 4, 6}, torch::kDouble) * 3 + 1;
    for (auto pair : {std::pair{a, b}, std::pair{c, d}}) {
      torch::nn::BatchNorm3d p = pair.first, f = pair.second;
      const torch::Tensor xa = plain(x0), xb = frames(x0);
      const torch::Tensor ya = p->forward(xa);
      const torch::Tensor yb = batch_norm_frames(*f, xb);
      EXPECT_TRUE(is_frames_layout(yb));
      EXPECT_TRUE(torch::allclose(ya, yb, 1e-12, 1e-12)) << "step " << step;
      const torch::Tensor g = torch::randn_like(ya);
      (ya * g).sum().backward();
      (yb * g).sum().backward();
      EXPECT_TRUE(torch::allclose(xa.grad(), xb.grad(), 1e-12, 1e-12));
      EXPECT_TRUE(torch::allclose(p->running_mean, f->running_mean, 1e-12, 1e-12));
      EXPECT_TRUE(torch::allclose(p->running_var, f->running_var, 1e-12, 1e-12));
      EXPECT_EQ(p->num_batches_tracked.item<int64_t>(), f->num_batches_tracked.item<int64_t>());
    }
  }
  EXPECT_EQ(b->num_batches_tracked.item<int64_t>(), 2);
  EXPECT_TRUE(torch::allclose(a->weight.grad(), b->weight.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(a->bias.grad(), b->bias.grad(), 1e-12, 1e-12));
}

// pool_3d on an NCDHW copy of x0 and pool_frames on a frame-wise one: the same values and
// gradients, and a frame-wise result.
void expect_same_pooling(const torch::Tensor& x0,
                         const std::function<torch::Tensor(const torch::Tensor&)>& pool_3d,
                         const std::function<torch::Tensor(const torch::Tensor&)>& pool_frames) {
  const torch::Tensor xa = plain(x0), xb = frames(x0);
  const torch::Tensor ya = pool_3d(xa);
  const torch::Tensor yb = pool_frames(xb);
  ASSERT_EQ(ya.sizes(), yb.sizes());
  EXPECT_TRUE(is_frames_layout(yb));
  EXPECT_TRUE(torch::equal(ya, yb));
  const torch::Tensor g = torch::randn_like(ya);
  (ya * g).sum().backward();
  (yb * g).sum().backward();
  EXPECT_TRUE(torch::equal(xa.grad(), xb.grad()));
}

TEST(ResNet3d, FrameWisePoolingIsMaxPool3d) {
  for (int64_t t : {4, 5}) {  // 5: max_pool3d drops the last frame
    SCOPED_TRACE(t);
    const torch::Tensor x0 = torch::randn({2, 3, t, 9, 11}, torch::kDouble);
    const auto pool2 = [](const torch::Tensor& x) {
      return torch::max_pool3d(x, {2, 1, 1}, {2, 1, 1});
    };
    expect_same_pooling(x0, pool2, [](const torch::Tensor& x) { return max_pool_time(x, 2); });
    EXPECT_TRUE(torch::equal(max_pool_time(x0, 2), pool2(x0)));  // other layouts: max_pool3d
    expect_same_pooling(
        x0,
        [](const torch::Tensor& x) {
          return torch::max_pool3d(x, {1, 3, 3}, {1, 2, 2}, {0, 1, 1});
        },
        [](const torch::Tensor& x) { return max_pool_frames(x, 3, 3, 2, 2, 1, 1); });
  }
  EXPECT_THROW(max_pool_time(frames(torch::randn({1, 3, 1, 4, 4})), 2), c10::Error);
}

TEST(ResNet3d, FramesGradientRelaysTheGradientOnly) {
  const torch::Tensor x = frames(torch::randn({2, 3, 4, 5, 6}));
  const torch::Tensor y = frames_gradient(x);
  EXPECT_TRUE(torch::equal(x, y));
  // avg_pool3d's backward returns NCDHW; re-laid on the way back.
  torch::avg_pool3d(y, {4, 5, 6}, {1, 1, 1}).sum().backward();
  EXPECT_TRUE(is_frames_layout(x.grad()));
  EXPECT_TRUE(torch::allclose(x.grad(), torch::full_like(x, 1.0 / 120), 1e-7, 0));
  torch::NoGradGuard ng;
  EXPECT_TRUE(frames_gradient(x).is_same(x));  // nothing recorded without autograd
}

TEST(NonLocalBlock, FrameWiseIsThe3dBlock) {
  for (bool maxpool : {true, false}) {
    torch::manual_seed(0);
    NonLocalBlock a(
        NonLocalBlockOptions(8, 4).bn_init_gamma(0.7).conv_init_std(0.3).use_maxpool(maxpool));
    torch::manual_seed(0);
    NonLocalBlock b(
        NonLocalBlockOptions(8, 4).bn_init_gamma(0.7).conv_init_std(0.3).use_maxpool(maxpool));
    a->to(torch::kDouble);
    b->to(torch::kDouble);
    {
      torch::NoGradGuard ng;
      for (auto& p : b->parameters()) {
        if (p.dim() == 5) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast3d));
      }
    }
    a->train();
    b->train();
    const torch::Tensor x0 = torch::randn({2, 8, 3, 6, 6}, torch::kDouble);
    const torch::Tensor xa = plain(x0), xb = frames(x0);
    const torch::Tensor ya = a->forward(xa);
    const torch::Tensor yb = b->forward(xb);
    EXPECT_TRUE(is_frames_layout(yb));
    EXPECT_TRUE(torch::allclose(ya, yb, 1e-10, 1e-12)) << maxpool;
    const torch::Tensor g = torch::randn_like(ya);
    (ya * g).sum().backward();
    (yb * g).sum().backward();
    EXPECT_TRUE(torch::allclose(xa.grad(), xb.grad(), 1e-10, 1e-12)) << maxpool;
    // phi's gradient arrives transposed from bmm and is re-laid: the input's stays frame-wise.
    EXPECT_TRUE(is_frames_layout(xb.grad()));
    for (const auto& item : a->named_parameters()) {
      const torch::Tensor& gb = b->named_parameters()[item.key()].grad();
      EXPECT_TRUE(torch::allclose(item.value().grad(), gb, 1e-10, 1e-12)) << item.key();
    }
    EXPECT_TRUE(torch::allclose(a->bn->running_var, b->bn->running_var, 1e-12, 1e-12));
  }
}

TEST(ResNet3d, I3dKernelsAndShapes) {
  ResNet3d net(ResNet3dOptions().i3d(true).width(4));
  EXPECT_EQ(net->conv1->weight.sizes(), (std::vector<int64_t>{4, 3, 5, 7, 7}));
  auto kt = [&](int64_t s, int64_t b) {
    return net->stage(s)[b]->as<Bottleneck3dImpl>()->conv1->weight.size(2);
  };
  EXPECT_EQ(kt(1, 2), 3);
  EXPECT_EQ(kt(2, 0), 3);
  EXPECT_EQ(kt(2, 1), 1);
  EXPECT_EQ(kt(3, 4), 3);
  EXPECT_EQ(kt(4, 0), 1);
  EXPECT_EQ(kt(4, 1), 3);
  torch::NoGradGuard g;
  net->eval();
  // 224: conv1 112, pool1 (no padding) 55, 28, 14, 7; time 8 -> 4 after pool2.
  const torch::Tensor y = net->forward_features(torch::randn({1, 3, 8, 224, 224}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 128, 4, 7, 7}));
  EXPECT_EQ(net->stem(torch::randn({1, 3, 2, 224, 224})).sizes(),
            (std::vector<int64_t>{1, 4, 2, 55, 55}));
  EXPECT_THROW(ResNet3d(ResNet3dOptions().depth(34)), std::invalid_argument);
}

TEST(ResNet3d, InsertHookSeesEveryBlock) {
  ResNet3d net(ResNet3dOptions().width(2));
  net->eval();
  std::vector<std::pair<int64_t, int64_t>> seen;
  torch::NoGradGuard g;
  net->forward_features(torch::randn({1, 3, 2, 64, 64}),
                        [&](int64_t s, int64_t b, const torch::Tensor& x) {
                          seen.emplace_back(s, b);
                          EXPECT_EQ(x.size(1), net->stage_channels(s));
                          return x;
                        });
  EXPECT_EQ(seen.size(), 16u);
  EXPECT_EQ(seen[4], (std::pair<int64_t, int64_t>{2, 1}));
}

}  // namespace
}  // namespace vc::models
