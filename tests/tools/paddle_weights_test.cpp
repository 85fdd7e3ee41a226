// read_paddle_weights on files written byte for byte per spec §7 by write_paddle_weights.py,
// its errors, and the Paddle ResNet name map against our ResNet / TSN-like module.
#include "tools/common/weights/paddle.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "models/common/resnet.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/paddle_fixtures.h"
#include "tools/common/errors.h"
#include "tools/common/weights/name_map.h"
#include "tools/common/weights/state_dict.h"

namespace vc::app {
namespace {

std::string fixture(const std::string& name) { return vc::testing::paddle_fixtures() + "/" + name; }

using vc::testing::message_of;

std::map<std::string, torch::Tensor> as_map(const StateDict& sd) {
  return std::map<std::string, torch::Tensor>(sd.begin(), sd.end());
}

struct Expected {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  std::string raw;
};

std::vector<Expected> manifest() {
  const std::map<std::string, torch::ScalarType> dtypes = {
      {"bool", torch::kBool},      {"int16", torch::kShort},  {"int32", torch::kInt},
      {"int64", torch::kLong},     {"float16", torch::kHalf}, {"float32", torch::kFloat},
      {"float64", torch::kDouble}, {"uint8", torch::kByte},   {"int8", torch::kChar}};
  std::vector<Expected> out;
  std::ifstream in(fixture("manifest.txt"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name, dtype, dims;
    fields >> name >> dtype >> dims;  // dims is empty for a 0-d array
    Expected e{
        name, dtypes.at(dtype), {}, vc::testing::read_text(fixture("expected/" + name + ".raw"))};
    std::istringstream ds(dims);
    for (std::string d; std::getline(ds, d, ',');) e.shape.push_back(std::stoll(d));
    out.push_back(e);
  }
  return out;
}

// Same names, dtypes, shapes and bytes as the manifest; `in_file_order` also checks the order.
void expect_exact(const StateDict& sd, bool in_file_order) {
  const std::vector<Expected> expected = manifest();
  ASSERT_EQ(expected.size(), 13u);
  ASSERT_EQ(sd.size(), expected.size());
  const auto m = as_map(sd);
  for (size_t i = 0; i < expected.size(); ++i) {
    const Expected& e = expected[i];
    if (in_file_order) {
      EXPECT_EQ(sd[i].first, e.name);
    }
    ASSERT_TRUE(m.count(e.name)) << e.name;
    const torch::Tensor t = m.at(e.name).contiguous();
    EXPECT_EQ(t.scalar_type(), e.dtype) << e.name;
    EXPECT_EQ(t.sizes().vec(), e.shape) << e.name;
    ASSERT_EQ(static_cast<size_t>(t.nbytes()), e.raw.size()) << e.name;
    if (e.raw.empty()) continue;  // an empty tensor has no data pointer to compare
    EXPECT_EQ(std::memcmp(t.data_ptr(), e.raw.data(), e.raw.size()), 0) << e.name;
  }
}

// ---- the per-variable format
TEST(PaddleWeights, DirectoryOfEveryDtypeReadsExactly) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const StateDict sd = read_paddle_weights(fixture("dtypes"));
  expect_exact(sd, /*in_file_order=*/false);
  EXPECT_TRUE(std::is_sorted(sd.begin(), sd.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; }));
  const auto m = as_map(sd);
  EXPECT_EQ(m.at("v.int64")[0].item<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(m.at("v.fp64")[2].item<double>(), 5e-324);
  EXPECT_EQ(m.at("@LR_DECAY_COUNTER@").item<int64_t>(), 42);
  EXPECT_EQ(m.at("scalar_0d").dim(), 0);
  EXPECT_EQ(m.at("scalar_0d").item<float>(), 3.25f);
}

TEST(PaddleWeights, Spec7ExampleBytes) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const std::string bytes = vc::testing::read_text(fixture("example/conv1_weights"));
  const std::string header = std::string("\x00\x00\x00\x00", 4) + std::string(8, '\0') +
                             std::string("\x00\x00\x00\x00", 4) +
                             std::string("\x0a\x00\x00\x00", 4) +
                             "\x08\x05\x10\x40\x10\x03\x10\x07\x10\x07";
  ASSERT_EQ(header.size(), 30u);
  ASSERT_EQ(bytes.size(), 30u + 37632u);
  EXPECT_EQ(bytes.substr(0, 30), header);
  const StateDict sd = read_paddle_weights(fixture("example"));
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].first, "conv1_weights");
  const torch::Tensor t = sd[0].second;
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{64, 3, 7, 7}));
  const float* p = t.data_ptr<float>();
  for (int64_t k = 0; k < t.numel(); ++k) {
    ASSERT_EQ(p[k], static_cast<float>(k) * 0.001f) << k;
  }
  // The same bytes through the public single-tensor parser.
  EXPECT_TRUE(parse_paddle_lod_tensor(bytes, "conv1_weights").equal(t));
}

TEST(PaddleWeights, PackedDimsAndLod) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const StateDict packed = read_paddle_weights(fixture("packed"));
  ASSERT_EQ(packed.size(), 1u);
  EXPECT_TRUE(
      packed[0].second.equal(torch::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).reshape({2, 3})));
  const StateDict lod = read_paddle_weights(fixture("lod"));
  ASSERT_EQ(lod.size(), 1u);
  EXPECT_EQ(lod[0].first, "seq");
  EXPECT_TRUE(lod[0].second.equal(torch::arange(5, torch::kLong).reshape({5, 1})));
}

// ---- .pdparams
TEST(PaddleWeights, PdparamsProtocols2And4And5) {
  VC_REQUIRE_PADDLE_FIXTURES();
  expect_exact(read_paddle_weights(fixture("dtypes.pdparams")), /*in_file_order=*/true);
  // Nested under "state_dict", with Paddle 2's StructuredToParameterName@@ skipped.
  expect_exact(read_paddle_weights(fixture("dtypes_p4.pdparams")), true);
  // A path prefix, as fluid.load takes it.
  expect_exact(read_paddle_weights(fixture("dtypes_p5")), true);
}

// ---- errors name the variable and say what is wrong
TEST(PaddleWeights, BrokenVariablesAreErrorsNamingThem) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated", "truncated file: dims [4, 3] FP32 need 48 bytes of data, the file has 38"},
      {"trailing", "4 trailing bytes after the data"},
      {"negative_dim", "negative dimension in dims [-4, 3]"},
      {"dtype", "unknown or unsupported data type 7"},
      {"version", "unsupported LoDTensor version 1"},
      {"tensor_version", "unsupported tensor version 2"},
      {"desc_size", "absurd TensorDesc size 2147483647"},
      {"huge_dims", "absurd dims [1099511627776, 1099511627776] FP32"},
  };
  for (const auto& c : cases) {
    const std::string dir = fixture("bad_" + c.first);
    const std::string msg = message_of([&] { read_paddle_weights(dir); });
    EXPECT_NE(msg.find("Paddle variable 'broken_weights'"), std::string::npos)
        << c.first << ": " << msg;
    EXPECT_NE(msg.find(dir + "/broken_weights"), std::string::npos) << c.first << ": " << msg;
    EXPECT_NE(msg.find(c.second), std::string::npos) << c.first << ": " << msg;
    EXPECT_THROW(read_paddle_weights(dir), IoError) << c.first;
  }
  const std::string sub = message_of([&] { read_paddle_weights(fixture("bad_subdir")); });
  EXPECT_NE(sub.find("sub-directory 'nested'"), std::string::npos) << sub;
  const std::string none = message_of([&] { read_paddle_weights(fixture("no_such_thing")); });
  EXPECT_NE(none.find("no_such_thing' do not exist"), std::string::npos) << none;
  const std::string file =
      message_of([&] { read_paddle_weights(fixture("example/conv1_weights")); });
  EXPECT_NE(file.find("not a .pdparams pickle"), std::string::npos) << file;
  const std::string empty = message_of([] { parse_paddle_lod_tensor("", "w"); });
  EXPECT_NE(empty.find("Paddle variable 'w': truncated file"), std::string::npos) << empty;
}

TEST(PaddleWeights, EmptyDirectoryAndNonArrayEntriesAreErrors) {
  vc::testing::TempDir dir;
  const std::string msg = message_of([&] { read_paddle_weights(dir.str()); });
  EXPECT_NE(msg.find("holds no variables"), std::string::npos) << msg;
  // {"w": 3} at protocol 2.
  const std::string pdparams = dir / "x.pdparams";
  vc::testing::write_text(pdparams, std::string("\x80\x02}q\x00X\x01\x00\x00\x00wK\x03s.", 15));
  const std::string entry = message_of([&] { read_paddle_weights(pdparams); });
  EXPECT_NE(entry.find("variable 'w' is a int, expected a numpy array"), std::string::npos)
      << entry;
  EXPECT_NE(entry.find(pdparams), std::string::npos) << entry;
}

// ---- name maps
struct TsnLike : torch::nn::Module {
  models::ResNet backbone{nullptr};
  torch::nn::Linear fc{nullptr};
  TsnLike(int64_t depth, int64_t classes) {
    backbone = register_module("backbone", models::ResNet(models::ResNetOptions().depth(depth)));
    fc = register_module("fc", torch::nn::Linear(backbone->feature_dim(), classes));
  }
};

void expect_same_keys_and_shapes(const StateDict& got, const StateDict& want) {
  const auto g = as_map(got), w = as_map(want);
  ASSERT_EQ(got.size(), g.size()) << "duplicate keys";
  std::vector<std::string> missing, extra;
  for (const auto& kv : w) {
    if (!g.count(kv.first)) missing.push_back(kv.first);
  }
  for (const auto& kv : g) {
    if (!w.count(kv.first)) extra.push_back(kv.first);
  }
  EXPECT_TRUE(missing.empty()) << "first missing: " << missing.front();
  EXPECT_TRUE(extra.empty()) << "first extra: " << extra.front();
  for (const auto& kv : w) {
    if (g.count(kv.first)) {
      EXPECT_EQ(g.at(kv.first).sizes(), kv.second.sizes()) << kv.first;
    }
  }
}

TEST(PaddleResnetMap, ResNet50DirectoryMapsOntoTsnExactly) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const std::string dir = fixture("resnet50");
  const StateDict paddle = read_paddle_weights(dir);
  NameMapReport report;
  const StateDict ours = paddle_resnet_map("backbone.", 50).apply(paddle, dir, &report);
  TsnLike net(50, 10);
  expect_same_keys_and_shapes(ours, module_state_dict(net));
  EXPECT_TRUE(report.unmapped.empty()) << report.summary(dir);
  EXPECT_TRUE(report.not_provided.empty()) << report.summary(dir);
  EXPECT_EQ(report.ignored.size(), 4u) << report.summary(dir);
  EXPECT_EQ(report.mapped.size(), paddle.size() - 4);
  EXPECT_EQ(report.defaulted.size(), 53u);  // one num_batches_tracked per BN
  const std::string summary = report.summary(dir);
  EXPECT_NE(summary.find("optimizer/state variables ignored (4)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("@LR_DECAY_COUNTER@ (learning-rate step counter)"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("conv1_weights_velocity_0 (optimizer accumulator)"), std::string::npos)
      << summary;

  load_state_dict(net, ours, LoadOptions{}, dir);  // strict: every key, every shape
  const auto p = as_map(paddle);
  EXPECT_TRUE(net.fc->weight.equal(p.at("fc_0.w_0").t()));
  EXPECT_TRUE(net.fc->bias.equal(p.at("fc_0.b_0")));
  EXPECT_TRUE(net.backbone->conv1->weight.equal(p.at("conv1_weights")));
  EXPECT_TRUE(net.backbone->bn1->running_var.equal(p.at("bn_conv1_variance")));
  const auto block = net.backbone->layer3->ptr<models::BottleneckImpl>(0);
  EXPECT_TRUE(
      block->downsample[0]->as<torch::nn::Conv2d>()->weight.equal(p.at("res4a_branch1_weights")));
  EXPECT_TRUE(
      block->downsample[1]->as<torch::nn::BatchNorm2d>()->bias.equal(p.at("bn4a_branch1_offset")));
  const auto last = net.backbone->layer4->ptr<models::BottleneckImpl>(2);
  EXPECT_TRUE(last->bn3->weight.equal(p.at("bn5c_branch2c_scale")));
}

TEST(PaddleResnetMap, ResNet18PdparamsAndDirectoryLoadIntoResNet) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const NameMap map = paddle_resnet_map("", 18);
  for (const std::string name : {"resnet18", "resnet18.pdparams"}) {
    const std::string path = fixture(name);
    const StateDict paddle = read_paddle_weights(path);
    NameMapReport report;
    const StateDict ours = map.apply(paddle, path, &report);
    models::ResNet net(models::ResNetOptions().depth(18).num_classes(10));
    expect_same_keys_and_shapes(ours, module_state_dict(*net));
    EXPECT_TRUE(report.unmapped.empty()) << report.summary(path);
    EXPECT_TRUE(report.not_provided.empty()) << report.summary(path);
    load_state_dict(*net, ours, LoadOptions{}, path);
    const auto p = as_map(paddle);
    EXPECT_TRUE(net->fc->weight.equal(p.at("fc_0.w_0").t())) << name;
    EXPECT_TRUE(net->layer2->ptr<models::BasicBlockImpl>(1)->conv2->weight.equal(
        p.at("res3b_branch2b_weights")))
        << name;
    EXPECT_FALSE(net->layer1->ptr<models::BasicBlockImpl>(0)->downsample) << name;
  }
}

TEST(PaddleResnetMap, MissingAndExtraVariablesAreReported) {
  VC_REQUIRE_PADDLE_FIXTURES();
  const NameMap map = paddle_resnet_map("backbone.", 50);
  {
    const std::string dir = fixture("resnet50_missing");
    NameMapReport report;
    const StateDict ours = map.apply(read_paddle_weights(dir), dir, &report);
    EXPECT_EQ(report.not_provided, std::vector<std::string>{"backbone.layer2.0.conv1.weight"});
    EXPECT_TRUE(report.unmapped.empty());
    EXPECT_NE(report.summary(dir).find("our names not provided (1):\n    "
                                       "backbone.layer2.0.conv1.weight"),
              std::string::npos)
        << report.summary(dir);
    TsnLike net(50, 10);
    const std::string msg = message_of([&] { load_state_dict(net, ours, LoadOptions{}, dir); });
    EXPECT_NE(msg.find("missing in the file (1):\n    backbone.layer2.0.conv1.weight"),
              std::string::npos)
        << msg;
  }
  {
    const std::string dir = fixture("resnet50_extra");
    NameMapReport report;
    map.apply(read_paddle_weights(dir), dir, &report);
    EXPECT_EQ(report.unmapped, std::vector<std::string>{"extra_var_weights"});
    EXPECT_TRUE(report.not_provided.empty());
    EXPECT_NE(report.summary(dir).find("unmapped foreign variables (1):\n    extra_var_weights"),
              std::string::npos)
        << report.summary(dir);
  }
}

// Without files: the targets the map declares are exactly our module's keys, every depth.
TEST(PaddleResnetMap, DeclaredTargetsEqualModuleKeysForEveryDepth) {
  for (int depth : {18, 34, 50, 101, 152}) {
    NameMapReport report;
    const StateDict defaults = paddle_resnet_map("backbone.", depth).apply({}, "none", &report);
    std::set<std::string> declared(report.not_provided.begin(), report.not_provided.end());
    declared.insert(report.defaulted.begin(), report.defaulted.end());
    EXPECT_EQ(declared.size(), report.not_provided.size() + report.defaulted.size()) << depth;
    TsnLike net(depth, 7);
    std::set<std::string> keys;
    for (const auto& kv : module_state_dict(net)) keys.insert(kv.first);
    EXPECT_EQ(declared, keys) << "depth " << depth;
    EXPECT_EQ(defaults.size(), report.defaulted.size());
  }
}

TEST(PaddleResnetMap, BlockNamesOfDeepResNets) {
  const NameMap r101 = paddle_resnet_map("", 101);
  EXPECT_EQ(r101.target("res4a_branch2a_weights").first, "layer3.0.conv1.weight");
  EXPECT_EQ(r101.target("res4b1_branch2a_weights").first, "layer3.1.conv1.weight");
  EXPECT_EQ(r101.target("bn4b22_branch2c_variance").first, "layer3.22.bn3.running_var");
  EXPECT_EQ(r101.target("res4b23_branch2a_weights").first, "");
  EXPECT_EQ(r101.target("res4b_branch2a_weights").first, "");
  EXPECT_EQ(r101.target("res3d_branch2b_weights").first, "layer2.3.conv2.weight");
  EXPECT_EQ(r101.target("res5c_branch2c_weights").first, "layer4.2.conv3.weight");
  const NameMap r152 = paddle_resnet_map("", 152);
  EXPECT_EQ(r152.target("res3h_branch2a_weights").first, "layer2.7.conv1.weight");
  EXPECT_EQ(r152.target("bn4b35_branch2b_offset").first, "layer3.35.bn2.bias");
  const NameMap r50 = paddle_resnet_map("", 50);
  EXPECT_EQ(r50.target("res4f_branch2a_weights").first, "layer3.5.conv1.weight");
  EXPECT_EQ(r50.target("bn2a_branch1_mean").first, "layer1.0.downsample.1.running_mean");
  EXPECT_EQ(r50.target("fc_0.w_0"), std::make_pair(std::string("fc.weight"), true));
  EXPECT_THROW(paddle_resnet_map("", 42), std::invalid_argument);
}

TEST(NameMap, RegexRulesTransposeAndErrors) {
  NameMap map;
  map.rule({R"(lstm_(\d+)\.w_0)", "lstm$1.weight_hh$$", false})
      .rule({R"(fc_(\d+)\.w_0)", "fc$1.weight", true})
      .rename("x", "y")
      .ignore_paddle_optimizer_state();
  const StateDict in = {{"lstm_2.w_0", torch::ones({2})},
                        {"fc_1.w_0", torch::arange(6, torch::kFloat).reshape({2, 3})},
                        {"learning_rate_0", torch::ones({1})},
                        {"fc_1.w_0_moment1_0", torch::ones({1})},
                        {"other", torch::ones({1})}};
  NameMapReport report;
  const StateDict out = map.apply(in, "src.pdparams", &report);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].first, "lstm2.weight_hh$");
  EXPECT_EQ(out[1].first, "fc1.weight");
  EXPECT_TRUE(out[1].second.equal(torch::arange(6, torch::kFloat).reshape({2, 3}).t()));
  EXPECT_TRUE(out[1].second.is_contiguous());
  EXPECT_EQ(report.unmapped, std::vector<std::string>{"other"});
  EXPECT_EQ(report.not_provided, std::vector<std::string>{"y"});
  EXPECT_EQ(report.ignored.size(), 2u);

  const std::string transpose = message_of([&] {
    map.apply({{"fc_3.w_0", torch::ones({4})}}, "src.pdparams", nullptr);
  });
  EXPECT_NE(transpose.find("weights 'src.pdparams': variable 'fc_3.w_0'"), std::string::npos)
      << transpose;
  EXPECT_NE(transpose.find("got shape [4]"), std::string::npos) << transpose;
  EXPECT_THROW(map.apply({{"fc_3.w_0", torch::ones({4})}}, "s", nullptr), StateDictError);
  NameMap twice;
  twice.rename("a", "t").rule({"b", "t", false});
  const std::string dup = message_of([&] {
    twice.apply({{"a", torch::ones({1})}, {"b", torch::ones({1})}}, "src", nullptr);
  });
  EXPECT_NE(dup.find("variables 'a' and 'b' both map to 't'"), std::string::npos) << dup;
  EXPECT_THROW(NameMap().rule({"(", "x", false}), std::invalid_argument);
  EXPECT_THROW(NameMap().rename("a", "b").rename("a", "c"), std::invalid_argument);
}

}  // namespace
}  // namespace vc::app
