// StNet's foreign weights: the Paddle name map (batch_norm auto names, xception_*, conv3d_*,
// fc_0) against fixture directories written by write_stnet_weights.py, and the ImageNet pretrain
// loaders (StNet's conv1 inflation; TSN/TSM's shared loader) from a Paddle ResNet directory,
// a .pdparams file and a torchvision-named state dict.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "models/common/resnet.h"
#include "models/stnet/stnet.h"
#include "models/tsn/tsn.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/paddle_fixtures.h"
#include "tools/common/errors.h"
#include "tools/common/registry.h"
#include "tools/common/rows/rows.h"
#include "tools/common/runtime.h"
#include "tools/common/weights/paddle.h"

namespace vc::app {
namespace {

using vc::testing::message_of;

// write_stnet_weights.py OUT_DIR, once per build tree and script version.
std::string stnet_fixtures() {
  namespace fs = std::filesystem;
  static const std::string dir = [] {
    const fs::path src = fs::path(VC_SOURCE_DIR) / "tests" / "tools" / "write_stnet_weights.py";
    const auto stamp = fs::last_write_time(src).time_since_epoch().count();
    const fs::path out = fs::path(VC_BINARY_DIR) / "tests" / "tools" /
                         ("write_stnet_weights.py-" + std::to_string(stamp));
    if (fs::exists(out / "ok")) return out.string();
    const fs::path tmp = out.string() + ".tmp" + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    if (std::system(("/usr/bin/python3 " + src.string() + " " + tmp.string()).c_str()) != 0) {
      fs::remove_all(tmp);
      return std::string();
    }
    std::ofstream(tmp / "ok") << "ok\n";
    std::error_code ec;
    fs::rename(tmp, out, ec);
    if (ec) fs::remove_all(tmp);
    return out.string();
  }();
  return dir;
}

#define VC_REQUIRE_STNET_FIXTURES()                                                  \
  do {                                                                               \
    VC_REQUIRE_PADDLE_FIXTURES();                                                    \
    ASSERT_FALSE(stnet_fixtures().empty()) << "write_stnet_weights.py failed (log)"; \
  } while (0)

std::map<std::string, torch::Tensor> as_map(const StateDict& sd) {
  return std::map<std::string, torch::Tensor>(sd.begin(), sd.end());
}

Config stnet_config(int depth, int seglen, int classes) {
  return load_config(
      "",
      {"MODEL.name=STNET", "MODEL.num_layers=" + std::to_string(depth),
       "MODEL.seglen=" + std::to_string(seglen), "MODEL.num_classes=" + std::to_string(classes)},
      {}, default_registry().schema());
}

NameMap row_paddle_map(const Config& cfg) {
  return default_registry().find("STNET").name_maps.at("paddle")(cfg);
}

// The row's defaults are the original's configs/stnet.txt (spec §6.7), per mode; the shipped
// configs/stnet.yaml resolves to the same values.
TEST(StnetRow, DefaultsPerModeAreTheOriginalConfig) {
  const auto check = [](const Config& cfg) {
    EXPECT_EQ(cfg.model.i("seg_num"), 7);
    EXPECT_EQ(cfg.model.i("seglen"), 5);
    EXPECT_EQ(cfg.model.i("num_layers"), 50);
    for (Mode m : {Mode::kTrain, Mode::kValid}) {
      EXPECT_EQ(cfg.section(m).i("seg_num"), 7) << mode_name(m);
      EXPECT_EQ(cfg.section(m).i("target_size"), 224) << mode_name(m);
    }
    for (Mode m : {Mode::kTest, Mode::kInfer}) {
      EXPECT_EQ(cfg.section(m).i("seg_num"), 25) << mode_name(m);
      EXPECT_EQ(cfg.section(m).i("seglen"), 5) << mode_name(m);
      EXPECT_EQ(cfg.section(m).i("target_size"), 256) << mode_name(m);
      EXPECT_EQ(cfg.section(m).i("short_size"), 256) << mode_name(m);
    }
  };
  const Config defaults = load_config("", {"MODEL.name=STNET"}, {}, default_registry().schema());
  check(defaults);
  const Config shipped = load_config(std::string(VC_SOURCE_DIR) + "/configs/stnet.yaml", {}, {},
                                     default_registry().schema());
  check(shipped);
  EXPECT_EQ(shipped.section(Mode::kTrain).i("batch_size"), 128);
  EXPECT_EQ(shipped.section(Mode::kTest).i("batch_size"), 4);
  EXPECT_EQ(shipped.section(Mode::kTrain).i("epoch"), 60);
  EXPECT_EQ(shipped.section(Mode::kTrain).i("total_videos"), 224684);
  const ModelEntry& entry = default_registry().find("stnet");
  EXPECT_EQ(entry.example_input(defaults, Mode::kTest).at("video").sizes(),
            (std::vector<int64_t>{2, 25, 15, 32, 32}));
}

TEST(StnetPaddleMap, BatchNormIdsFollowTheFluidCounter) {
  EXPECT_EQ(stnet_paddle_batch_norm_ids(50), std::make_pair(24, 44));  // spec §6.7
  EXPECT_EQ(stnet_paddle_batch_norm_ids(101), std::make_pair(24, 95));
  EXPECT_EQ(stnet_paddle_batch_norm_ids(152), std::make_pair(1 + 10 + 25, 1 + 10 + 25 + 1 + 109));
  EXPECT_EQ(stnet_paddle_batch_norm_ids(18), std::make_pair(10, 16));
  EXPECT_EQ(stnet_paddle_batch_norm_ids(34), std::make_pair(1 + 6 + 9, 1 + 6 + 9 + 1 + 13));
  EXPECT_THROW(stnet_paddle_batch_norm_ids(42), ConfigError);
  const NameMap map = row_paddle_map(stnet_config(50, 5, 400));
  EXPECT_EQ(map.target("batch_norm_24.w_0").first, "temporal_res3.bn.weight");
  EXPECT_EQ(map.target("batch_norm_24.w_2").first, "temporal_res3.bn.running_var");
  EXPECT_EQ(map.target("batch_norm_44.b_0").first, "temporal_res4.bn.bias");
  EXPECT_EQ(map.target("batch_norm_44.w_1").first, "temporal_res4.bn.running_mean");
  EXPECT_EQ(map.target("conv3d_1.w_0").first, "temporal_res4.conv.weight");
  EXPECT_EQ(map.target("xception_bn2.w_2").first, "xception.bn2.running_var");
  EXPECT_EQ(map.target("fc_0.w_0"), std::make_pair(std::string("fc.weight"), true));
  EXPECT_EQ(map.target("res4f_branch2c_weights").first, "backbone.layer3.5.conv3.weight");
  EXPECT_EQ(map.target("batch_norm_25.w_0").first, "");  // not an StNet variable
}

// Every key of the module is declared by the map (renamed or defaulted), and nothing else, for
// each depth: a full-size ResNet-50 StNet directory would load every tensor.
TEST(StnetPaddleMap, DeclaredTargetsEqualModuleKeysForEveryDepth) {
  for (int depth : {18, 34, 50, 101}) {
    NameMapReport report;
    const StateDict defaults = stnet_paddle_map(depth).apply({}, "none", &report);
    std::set<std::string> declared(report.not_provided.begin(), report.not_provided.end());
    for (const auto& kv : defaults) declared.insert(kv.first);
    models::Stnet net(models::StnetOptions().depth(depth).num_classes(7).seglen(1));
    std::set<std::string> keys;
    for (const auto& kv : module_state_dict(*net)) keys.insert(kv.first);
    EXPECT_EQ(declared, keys) << "depth " << depth;
  }
}

// The StNet-specific Paddle names and where they must land (spec §6.7), for the fixture's
// ResNet-18 trunk (temporal BNs batch_norm_<a> / batch_norm_<b>).
std::map<std::string, std::string> stnet_specific(int bn_a, int bn_b) {
  std::map<std::string, std::string> m;
  const std::string bn_vars[][2] = {
      {"w_0", "weight"}, {"b_0", "bias"}, {"w_1", "running_mean"}, {"w_2", "running_var"}};
  for (const auto& v : bn_vars) {
    m["batch_norm_" + std::to_string(bn_a) + "." + v[0]] = "temporal_res3.bn." + v[1];
    m["batch_norm_" + std::to_string(bn_b) + "." + v[0]] = "temporal_res4.bn." + v[1];
    for (const std::string bn : {"bn", "bndw", "bn2"}) {
      m["xception_" + bn + "." + v[0]] = "xception." + bn + "." + v[1];
    }
  }
  m["conv3d_0.w_0"] = "temporal_res3.conv.weight";
  m["conv3d_0.b_0"] = "temporal_res3.conv.bias";
  m["conv3d_1.w_0"] = "temporal_res4.conv.weight";
  m["conv3d_1.b_0"] = "temporal_res4.conv.bias";
  for (const std::string c : {"att_conv", "att_2", "att1", "att1_2", "dw"}) {
    m["xception_" + c + ".w_0"] = "xception." + c + ".weight";
    m["xception_" + c + ".b_0"] = "xception." + c + ".bias";
  }
  m["fc_0.b_0"] = "fc.bias";
  m["conv1_weights"] = "backbone.conv1.weight";
  m["bn_conv1_variance"] = "backbone.bn1.running_var";
  m["res3a_branch1_weights"] = "backbone.layer2.0.downsample.0.weight";
  m["bn5b_branch2b_scale"] = "backbone.layer4.1.bn2.weight";
  return m;
}

void expect_loaded_exactly(const models::Stnet& net, const StateDict& paddle, int bn_a, int bn_b) {
  const auto p = as_map(paddle);
  auto ours = as_map(module_state_dict(*net));
  for (const auto& [foreign, mine] : stnet_specific(bn_a, bn_b)) {
    ASSERT_TRUE(p.count(foreign)) << foreign;
    ASSERT_TRUE(ours.count(mine)) << mine;
    EXPECT_TRUE(ours.at(mine).equal(p.at(foreign))) << foreign << " -> " << mine;
  }
  EXPECT_TRUE(net->fc->weight.equal(p.at("fc_0.w_0").t()));  // [in, out] -> [out, in]
  EXPECT_EQ(net->fc->weight.sizes(), (std::vector<int64_t>{5, 256}));
}

TEST(StnetPaddleMap, FixtureDirectoryLoadsEveryTensorToItsPlace) {
  VC_REQUIRE_STNET_FIXTURES();
  const std::string dir = stnet_fixtures() + "/stnet18";
  const StateDict paddle = read_paddle_weights(dir);
  NameMapReport report;
  const StateDict ours = row_paddle_map(stnet_config(18, 2, 5)).apply(paddle, dir, &report);
  EXPECT_TRUE(report.unmapped.empty()) << report.summary(dir);
  EXPECT_TRUE(report.not_provided.empty()) << report.summary(dir);
  EXPECT_EQ(report.ignored.size(), 3u) << report.summary(dir);  // velocity, lr, counter
  EXPECT_EQ(report.mapped.size(), paddle.size() - 3);
  models::Stnet net(models::StnetOptions().depth(18).seglen(2).num_classes(5));
  load_state_dict(*net, ours, LoadOptions{}, dir);  // strict: every key, every shape
  expect_loaded_exactly(net, paddle, 10, 16);
}

// The run-time path (test / infer / run_model --weights DIR), with the spec §10 alternative
// names batch_norm_0 / batch_norm_1 for the temporal BNs.
TEST(StnetPaddleMap, WeightsFlagLoadsTheAlternativeBatchNormNames) {
  VC_REQUIRE_STNET_FIXTURES();
  const std::string dir = stnet_fixtures() + "/stnet18_bn01";
  const Config cfg = stnet_config(18, 2, 5);
  const ModelEntry& entry = default_registry().find("STNET");
  auto model = entry.make_model(cfg, Mode::kTest);
  load_weights(*model, entry, cfg, dir);
  auto* net = dynamic_cast<models::StnetImpl*>(model.get());
  ASSERT_NE(net, nullptr);
  expect_loaded_exactly(models::Stnet(std::shared_ptr<models::StnetImpl>(model, net)),
                        read_paddle_weights(dir), 0, 1);
  // A depth that does not match the directory is an error naming the variables.
  const Config wrong = stnet_config(34, 2, 5);
  auto model34 = entry.make_model(wrong, Mode::kTest);
  const std::string msg = message_of([&] { load_weights(*model34, entry, wrong, dir); });
  EXPECT_NE(msg.find("backbone.layer1.2.conv1.weight"), std::string::npos) << msg;
}

// ---- pretrain -------------------------------------------------------------------------------

void expect_trunk_from_paddle_resnet18(models::ResNet trunk, const StateDict& paddle) {
  const auto p = as_map(paddle);
  EXPECT_TRUE(trunk->bn1->running_var.equal(p.at("bn_conv1_variance")));
  EXPECT_TRUE(trunk->layer1->ptr<models::BasicBlockImpl>(0)->conv1->weight.equal(
      p.at("res2a_branch2a_weights")));
  EXPECT_TRUE(trunk->layer3->ptr<models::BasicBlockImpl>(0)
                  ->downsample[1]
                  ->as<torch::nn::BatchNorm2d>()
                  ->running_mean.equal(p.at("bn4a_branch1_mean")));
  EXPECT_TRUE(
      trunk->layer4->ptr<models::BasicBlockImpl>(1)->bn2->bias.equal(p.at("bn5b_branch2b_offset")));
}

TEST(StnetPretrain, PaddleResNetDirectoryWithConv1Inflated) {
  VC_REQUIRE_PADDLE_FIXTURES();
  // Paddle ResNet-18 with fc_0 [512, 10] and optimizer state (write_paddle_weights.py).
  for (const std::string name : {"resnet18", "resnet18.pdparams"}) {
    const std::string path = vc::testing::paddle_fixtures() + "/" + name;
    torch::manual_seed(1);
    models::Stnet net(models::StnetOptions().depth(18).seglen(2).num_classes(5));
    const auto before = as_map(module_state_dict(*net));
    std::map<std::string, torch::Tensor> kept;
    for (const auto& [k, v] : before) kept[k] = v.clone();
    default_registry().find("STNET").load_pretrain(*net, path);

    const StateDict paddle = read_paddle_weights(path);
    const torch::Tensor w = as_map(paddle).at("conv1_weights");  // [64, 3, 7, 7]
    // The original: mean over the input channels / seglen, repeated 3*seglen times.
    const torch::Tensor per_channel = w.sum(1) / 3.0 / 2.0;  // [64, 7, 7]
    ASSERT_EQ(net->backbone->conv1->weight.sizes(), (std::vector<int64_t>{64, 6, 7, 7}));
    for (int64_t c = 0; c < 6; ++c) {
      EXPECT_TRUE(
          torch::allclose(net->backbone->conv1->weight.select(1, c), per_channel, 1e-6, 1e-7))
          << name << " channel " << c;
    }
    expect_trunk_from_paddle_resnet18(net->backbone, paddle);
    // fc, temporal and Xception parts keep their initialisation.
    for (const auto& [k, v] : module_state_dict(*net)) {
      if (k.rfind("backbone.", 0) == 0) continue;
      EXPECT_TRUE(v.equal(kept.at(k))) << name << ": " << k << " changed";
    }
  }
}

TEST(StnetPretrain, TorchvisionStateDictWithConv1Inflated) {
  vc::testing::TempDir dir("stnet_pretrain");
  torch::manual_seed(2);
  models::ResNet imagenet(models::ResNetOptions().depth(18).num_classes(1000));
  const std::string path = dir.file("resnet18.pt");
  save_state_dict(path, module_state_dict(*imagenet));
  models::Stnet net(models::StnetOptions().depth(18).seglen(3).num_classes(5));
  const torch::Tensor fc_before = net->fc->weight.clone();
  default_registry().find("STNET").load_pretrain(*net, path);
  const torch::Tensor expected =
      (imagenet->conv1->weight.mean(1, true) / 3.0).repeat({1, 9, 1, 1});  // [64, 9, 7, 7]
  EXPECT_TRUE(torch::allclose(net->backbone->conv1->weight, expected, 1e-6, 1e-7));
  EXPECT_TRUE(net->backbone->layer2->ptr<models::BasicBlockImpl>(1)->conv2->weight.equal(
      imagenet->layer2->ptr<models::BasicBlockImpl>(1)->conv2->weight));
  EXPECT_TRUE(net->backbone->bn1->running_mean.equal(imagenet->bn1->running_mean));
  EXPECT_TRUE(net->fc->weight.equal(fc_before));  // the 1000-class ImageNet fc is skipped

  // A conv1 that is neither 3 nor 3*seglen channels is an error naming both.
  models::ResNet odd(models::ResNetOptions().depth(18).in_channels(4));
  save_state_dict(dir.file("odd.pt"), module_state_dict(*odd));
  const std::string msg =
      message_of([&] { default_registry().find("STNET").load_pretrain(*net, dir.file("odd.pt")); });
  EXPECT_NE(msg.find("4 input channels"), std::string::npos) << msg;
}

TEST(ResnetPretrain, TsnAcceptsPaddleResNetAndSkipsFc0) {
  VC_REQUIRE_PADDLE_FIXTURES();
  for (const std::string name : {"resnet18", "resnet18.pdparams"}) {
    const std::string path = vc::testing::paddle_fixtures() + "/" + name;
    models::Tsn net(models::TsnOptions().depth(18).num_classes(5));
    const torch::Tensor fc_before = net->fc->weight.clone();
    load_resnet_pretrain(*net, path);
    const StateDict paddle = read_paddle_weights(path);
    EXPECT_TRUE(net->backbone->conv1->weight.equal(as_map(paddle).at("conv1_weights")));
    expect_trunk_from_paddle_resnet18(net->backbone, paddle);
    EXPECT_TRUE(net->fc->weight.equal(fc_before)) << name;
  }
  // The wrong depth: the directory's extra variables are named.
  models::Tsn r18(models::TsnOptions().depth(18).num_classes(5));
  const std::string msg =
      message_of([&] { load_resnet_pretrain(*r18, vc::testing::paddle_fixtures() + "/resnet50"); });
  EXPECT_NE(msg.find("res2a_branch2c_weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ResNet-18"), std::string::npos) << msg;
}

TEST(ResnetPretrain, TsnKeepsTheTorchvisionPath) {
  vc::testing::TempDir dir("tsn_pretrain");
  torch::manual_seed(3);
  models::ResNet imagenet(models::ResNetOptions().depth(18).num_classes(1000));
  save_state_dict(dir.file("r18.pt"), module_state_dict(*imagenet));
  models::Tsn net(models::TsnOptions().depth(18).num_classes(5));
  load_resnet_pretrain(*net, dir.file("r18.pt"));
  EXPECT_TRUE(net->backbone->conv1->weight.equal(imagenet->conv1->weight));
  EXPECT_TRUE(net->backbone->layer4->ptr<models::BasicBlockImpl>(1)->bn2->running_var.equal(
      imagenet->layer4->ptr<models::BasicBlockImpl>(1)->bn2->running_var));
  EXPECT_NE(
      message_of([&] { load_resnet_pretrain(*net, dir.file("missing.pt")); }).find("missing.pt"),
      std::string::npos);
}

}  // namespace
}  // namespace vc::app
