// TSM: shapes, gradients, the shift inside the trunk, dropout conventions, naming, the full-size
// parameter count worked out from the spec's layer list, and its registry row (keys, defaults,
// parameter groups).
#include "models/tsm/tsm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tools/common/registry.h"

namespace vc::models {
namespace {

struct TsmCase {
  int64_t segments;
  int64_t depth;
  ShiftDirection dir;
  DropoutImpl dropout;
};

void PrintTo(const TsmCase& c, std::ostream* os) {
  *os << "T=" << c.segments << " depth=" << c.depth << " " << shift_direction_name(c.dir) << " "
      << dropout_impl_name(c.dropout);
}

class TsmShapes : public ::testing::TestWithParam<TsmCase> {};

TEST_P(TsmShapes, LogitsShapeAndGradients) {
  torch::manual_seed(0);
  const TsmCase c = GetParam();
  Tsm net(TsmOptions()
              .num_classes(11)
              .seg_num(c.segments)
              .depth(c.depth)
              .shift_direction(c.dir)
              .dropout_impl(c.dropout));
  torch::Tensor clips = torch::randn({2, c.segments, 3, 32, 32});
  torch::Tensor logits = net->forward(clips);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 11}));
  torch::nn::functional::cross_entropy(logits, torch::tensor({1, 4})).backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  EXPECT_GT(net->backbone->conv1->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(net->fc->weight.grad().abs().sum().item<double>(), 0.0);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TsmShapes,
    ::testing::Values(TsmCase{8, 18, ShiftDirection::kPaddle, DropoutImpl::kDowngradeInInfer},
                      TsmCase{3, 18, ShiftDirection::kTorch, DropoutImpl::kUpscaleInTrain},
                      TsmCase{1, 18, ShiftDirection::kPaddle, DropoutImpl::kDowngradeInInfer},
                      TsmCase{4, 50, ShiftDirection::kTorch, DropoutImpl::kDowngradeInInfer}),
    [](const auto& info) {
      return "T" + std::to_string(info.param.segments) + "_depth" +
             std::to_string(info.param.depth) + "_" + shift_direction_name(info.param.dir) + "_" +
             dropout_impl_name(info.param.dropout);
    });

// The shift sits inside the trunk: a frame's features depend on its neighbours (not in TSN),
// but never on another video's frames.
TEST(Tsm, ShiftMixesFramesOfOneClipOnly) {
  torch::manual_seed(1);
  Tsm net(TsmOptions().num_classes(5).seg_num(4).depth(18));
  net->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor frames = torch::randn({8, 3, 32, 32});                 // 2 clips x 4 frames
  const torch::Tensor base = net->backbone->forward_features(frames);  // [8, 512]
  torch::Tensor changed = frames.clone();
  changed[0].add_(torch::randn({3, 32, 32}));  // frame 0 of clip 0
  const torch::Tensor feats = net->backbone->forward_features(changed);
  EXPECT_FALSE(torch::allclose(feats[1], base[1]));  // its neighbour in the clip sees it
  for (int64_t f = 4; f < 8; ++f) EXPECT_TRUE(torch::equal(feats[f], base[f])) << f;
}

TEST(Tsm, ShiftDirectionChangesTheNetwork) {
  torch::manual_seed(2);
  Tsm paddle(TsmOptions().num_classes(5).seg_num(4).depth(18));
  torch::manual_seed(2);
  Tsm torch_dir(
      TsmOptions().num_classes(5).seg_num(4).depth(18).shift_direction(ShiftDirection::kTorch));
  paddle->eval();
  torch_dir->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor clips = torch::randn({2, 4, 3, 32, 32});
  EXPECT_TRUE(torch::equal(paddle->fc->weight, torch_dir->fc->weight));  // same init
  EXPECT_FALSE(torch::allclose(paddle->forward(clips), torch_dir->forward(clips)));
}

// Eval: Fluid dropout scales the per-frame features by (1 - p), so the logits are
// fc(mean * (1 - p)); inverted dropout is the identity.
TEST(Tsm, DropoutConventionsAtInference) {
  const torch::Tensor clips = torch::randn({2, 3, 3, 32, 32});
  auto logits = [&](double p, DropoutImpl impl) {
    torch::manual_seed(3);
    Tsm net(TsmOptions().num_classes(6).seg_num(3).depth(18).dropout(p).dropout_impl(impl));
    net->eval();
    torch::NoGradGuard no_grad;
    return std::make_pair(net->forward(clips), net->fc->bias.clone());
  };
  const auto [none, bias] = logits(0.0, DropoutImpl::kDowngradeInInfer);
  const auto fluid = logits(0.5, DropoutImpl::kDowngradeInInfer).first;
  const auto inverted = logits(0.5, DropoutImpl::kUpscaleInTrain).first;
  EXPECT_TRUE(torch::allclose(inverted, none, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(fluid - bias, 0.5 * (none - bias), 1e-5, 1e-6));
}

TEST(Tsm, DropoutActsPerFrameInTraining) {
  // Training with p close to 1 under Fluid's convention: most per-frame features are zeroed
  // without rescaling, so the logits collapse towards the bias.
  torch::manual_seed(5);
  Tsm net(TsmOptions().num_classes(4).seg_num(2).depth(18).dropout(0.999));
  net->train();
  torch::NoGradGuard no_grad;
  const torch::Tensor out = net->forward(torch::randn({2, 2, 3, 32, 32}));
  EXPECT_LT((out - net->fc->bias).abs().max().item<double>(), 0.05);
}

TEST(Tsm, SubmoduleNamesAndInit) {
  Tsm net(TsmOptions().num_classes(5).seg_num(8).depth(18));
  auto params = net->named_parameters();
  EXPECT_TRUE(params.contains("backbone.conv1.weight"));
  EXPECT_TRUE(params.contains("backbone.layer4.1.conv2.weight"));
  EXPECT_TRUE(params.contains("fc.weight"));
  EXPECT_FALSE(params.contains("backbone.fc.weight"));
  EXPECT_TRUE(net->fc->bias.eq(0).all().item<bool>());
  EXPECT_LE(net->fc->weight.abs().max().item<double>(), 1.0 / std::sqrt(512.0));
  EXPECT_TRUE(net->named_children().contains("dropout"));
  Tsm no_dropout(TsmOptions().num_classes(5).depth(18).dropout(0.0));
  EXPECT_FALSE(no_dropout->named_children().contains("dropout"));
}

TEST(Tsm, MultiViewBatchesAreVideosTimesViews) {
  torch::manual_seed(6);
  Tsm net(TsmOptions().num_classes(3).seg_num(2).depth(18));
  net->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor views = torch::randn({6, 2, 3, 32, 32});  // 2 videos x 3 views
  const torch::Tensor all = net->forward(views);
  ASSERT_EQ(all.sizes(), (std::vector<int64_t>{6, 3}));
  EXPECT_TRUE(torch::allclose(all[4], net->forward(views.narrow(0, 4, 1))[0], 1e-4, 1e-5));
}

TEST(Tsm, WrongInputIsAnError) {
  Tsm net(TsmOptions().num_classes(3).seg_num(8).depth(18));
  try {
    net->forward(torch::randn({1, 4, 3, 32, 32}));
    FAIL() << "T = 4 with seg_num 8 must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("seg_num"), std::string::npos) << e.what();
  }
  EXPECT_THROW(net->forward(torch::randn({1, 8, 6, 32, 32})), std::invalid_argument);
  EXPECT_THROW(Tsm(TsmOptions().seg_num(0)), std::invalid_argument);
  EXPECT_THROW(Tsm(TsmOptions().dropout(1.0)), std::invalid_argument);
  EXPECT_THROW(Tsm(TsmOptions().shift_ratio(0.75)), std::invalid_argument);
  EXPECT_THROW(parse_dropout_impl("inverted"), std::invalid_argument);
}

// Spec §6.4 / §6.6: ResNet-50 (stem conv 7x7 64 + BN; stages of [3, 4, 6, 3] bottlenecks,
// widths C = 64, 128, 256, 512, expansion 4, a 1x1 branch1 + BN in block a of each stage),
// fc 2048 -> 400 with bias. The shift has no parameters; BN has scale + offset (the moving
// statistics are buffers).
TEST(Tsm, FullSizeParameterCount) {
  int64_t expected = 64 * 3 * 7 * 7 + 2 * 64;  // conv1 + bn_conv1
  const int64_t blocks[] = {3, 4, 6, 3};
  int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    const int64_t c = 64 << s;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      expected += c * in + 2 * c;                      // branch2a 1x1 + BN
      expected += c * c * 9 + 2 * c;                   // branch2b 3x3 + BN
      expected += 4 * c * c + 2 * 4 * c;               // branch2c 1x1 + BN
      if (b == 0) expected += 4 * c * in + 2 * 4 * c;  // branch1 1x1 + BN
      in = 4 * c;
    }
  }
  expected += 2048 * 400 + 400;   // fc_0.w_0, fc_0.b_0
  EXPECT_EQ(expected, 24327632);  // = torchvision resnet50 (25557032) - fc 1000 + fc 400

  Tsm net{TsmOptions{}};  // the original's: 400 classes, ResNet-50, seg_num 8
  int64_t count = 0;
  for (const auto& p : net->parameters()) count += p.numel();
  EXPECT_EQ(count, expected);
}

// --- the registry row -----------------------------------------------------------------------

TEST(TsmRow, DefaultsAreTheOriginals) {
  const app::Registry& reg = app::default_registry();
  const app::Config cfg = app::load_config("", {"MODEL.name=TSM"}, {}, reg.schema());
  EXPECT_EQ(cfg.model.i("seg_num"), 8);
  EXPECT_EQ(cfg.section(app::Mode::kTest).i("seg_num"), 8);
  EXPECT_TRUE(cfg.section(app::Mode::kTrain).b("multi_scale_crop"));
  EXPECT_EQ(cfg.section(app::Mode::kTrain).i("batch_size"), 128);
  EXPECT_EQ(cfg.section(app::Mode::kTest).i("batch_size"), 16);
  EXPECT_EQ(cfg.section(app::Mode::kTrain).i("epoch"), 65);
  EXPECT_EQ(cfg.section(app::Mode::kTrain).ints("decay_epochs"), (std::vector<int64_t>{40, 60}));
  EXPECT_EQ(cfg.section(app::Mode::kTrain).i("total_videos"),
            0);  // the list size; tsm.yaml: 239781
  EXPECT_DOUBLE_EQ(cfg.model.f("dropout"), 0.5);
  EXPECT_EQ(cfg.model.s("dropout_impl"), "downgrade_in_infer");
  EXPECT_EQ(cfg.model.s("shift_direction"), "paddle");
}

TEST(TsmRow, ShippedConfigHasTheOriginalValues) {
  const app::Registry& reg = app::default_registry();
  const app::Config cfg =
      app::load_config(std::string(VC_SOURCE_DIR) + "/configs/tsm.yaml", {}, {}, reg.schema());
  const app::SectionConfig& tr = cfg.section(app::Mode::kTrain);
  EXPECT_EQ(tr.i("total_videos"), 239781);
  EXPECT_EQ(tr.i("epoch"), 65);
  EXPECT_EQ(tr.i("batch_size"), 128);
  EXPECT_EQ(tr.ints("decay_epochs"), (std::vector<int64_t>{40, 60}));
  EXPECT_TRUE(tr.b("multi_scale_crop"));
  for (app::Mode m : {app::Mode::kValid, app::Mode::kTest, app::Mode::kInfer}) {
    EXPECT_EQ(cfg.section(m).i("seg_num"), 8);
    EXPECT_EQ(cfg.section(m).i("target_size"), 224);
  }
  EXPECT_EQ(cfg.section(app::Mode::kTest).i("batch_size"), 16);
  EXPECT_EQ(cfg.model.i("num_layers"), 50);
  EXPECT_EQ(cfg.model.i("num_classes"), 400);
}

TEST(TsmRow, FcBiasHasTwiceTheLrAndNoDecay) {
  const app::Registry& reg = app::default_registry();
  const app::ModelEntry& row = reg.find("tsm");
  const app::Config cfg = app::load_config(
      "", {"MODEL.name=TSM", "MODEL.num_layers=18", "MODEL.num_classes=7"}, {}, reg.schema());
  auto model = row.make_model(cfg, app::Mode::kTrain);
  ASSERT_TRUE(row.param_groups);
  const auto groups = row.param_groups(*model, cfg);
  int64_t total = 0, seen = 0;
  total = static_cast<int64_t>(model->parameters().size());
  for (const auto& g : groups) {
    seen += static_cast<int64_t>(g.params.size());
    for (const auto& [name, t] : g.params) {
      if (name == "fc.bias") {
        EXPECT_DOUBLE_EQ(g.lr_mult, 2.0);
        ASSERT_TRUE(g.weight_decay.has_value());
        EXPECT_DOUBLE_EQ(*g.weight_decay, 0.0);
      } else {
        EXPECT_DOUBLE_EQ(g.lr_mult, 1.0) << name;
        EXPECT_FALSE(g.weight_decay.has_value()) << name;  // the global L2
      }
    }
  }
  EXPECT_EQ(seen, total);
  // The example input runs through the row's model.
  model->eval();
  EXPECT_EQ(model->forward(row.example_input(cfg, app::Mode::kTest)).sizes(),
            (std::vector<int64_t>{2, 7}));
}

TEST(TsmRow, OptionsReachTheModel) {
  const app::Registry& reg = app::default_registry();
  const app::Config cfg = app::load_config(
      "",
      {"MODEL.name=TSM", "MODEL.num_layers=18", "MODEL.shift_direction=torch",
       "MODEL.dropout_impl=upscale_in_train", "MODEL.dropout=0.3", "TEST.seg_num=5"},
      {}, reg.schema());
  auto model = reg.find("TSM").make_model(cfg, app::Mode::kTest);
  auto* tsm = dynamic_cast<TsmImpl*>(model.get());
  ASSERT_NE(tsm, nullptr);
  EXPECT_EQ(tsm->options.shift_direction(), ShiftDirection::kTorch);
  EXPECT_EQ(tsm->options.dropout_impl(), DropoutImpl::kUpscaleInTrain);
  EXPECT_DOUBLE_EQ(tsm->options.dropout(), 0.3);
  EXPECT_EQ(tsm->options.seg_num(), 5);
  EXPECT_EQ(tsm->options.depth(), 18);
}

}  // namespace
}  // namespace vc::models
