// The AttentionCluster registry row: its config defaults are the original's (spec §6.1), its
// Paddle name map takes every variable of the released attention_cluster_youtube8m (names and
// [in, out] fc shapes from spec §6.1 / §7) from a Fluid per-variable directory into the network,
// bad configs are errors, and, through build/bin/run_model, the independent reference's weights
// written as such a directory (attention_cluster_reference.py) give the reference's logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "models/attention_cluster/attention_cluster.h"
#include "tests/models/run_model_reference.h"
#include "tests/models/test_util.h"
#include "tests/models/yt8m_paddle_dir.h"
#include "tools/common/errors.h"
#include "tools/common/registry.h"
#include "tools/common/rows/rows.h"
#include "tools/common/weights/paddle.h"

namespace vc::app {
namespace {

Config config(std::vector<std::string> sets = {}) {
  sets.insert(sets.begin(), "MODEL.name=AttentionCluster");
  return load_config("", sets, {}, default_registry().schema());
}

TEST(AttentionClusterRow, DefaultsAreTheOriginals) {
  const Config c = config();
  EXPECT_EQ(default_registry().find("attentioncluster").id, "AttentionCluster");
  EXPECT_EQ(c.model.i("num_classes"), 3862);
  EXPECT_EQ(c.model.i("seg_num"), 100);
  EXPECT_TRUE(c.model.b("dequantize"));
  EXPECT_EQ(c.model.ints("cluster_nums"), (std::vector<int64_t>{32, 32}));
  EXPECT_DOUBLE_EQ(c.model.f("drop_rate"), 0.5);
  const SectionConfig& t = c.section(Mode::kTrain);
  EXPECT_EQ(t.i("epoch"), 5);
  EXPECT_EQ(t.s("optimizer"), "adam");
  EXPECT_DOUBLE_EQ(t.f("learning_rate"), 0.001);
  EXPECT_EQ(t.s("lr_policy"), "constant");
  EXPECT_DOUBLE_EQ(t.f("l2_weight_decay"), 0.0);
  EXPECT_EQ(t.i("batch_size"), 2048);
  EXPECT_EQ(c.section(Mode::kValid).i("batch_size"), 2048);
  EXPECT_EQ(c.section(Mode::kTest).i("batch_size"), 256);
  EXPECT_EQ(c.section(Mode::kInfer).i("batch_size"), 1);
  // The shipped YAML says the same.
  const Config shipped = load_config(std::string(VC_SOURCE_DIR) + "/configs/attention_cluster.yaml",
                                     {}, {}, default_registry().schema());
  EXPECT_EQ(shipped.model.ints("cluster_nums"), c.model.ints("cluster_nums"));
  EXPECT_EQ(shipped.section(Mode::kTest).i("batch_size"), 256);
}

TEST(AttentionClusterRow, BadConfigsAreErrors) {
  EXPECT_THROW(config({"MODEL.cluster_nums=[32, 32, 32]"}), ConfigError);
  EXPECT_THROW(config({"MODEL.seg_num=0"}), ConfigError);
  EXPECT_THROW(config({"MODEL.drop_rate=1.5"}), ConfigError);
}

TEST(AttentionClusterRow, PaddleDirectoryLoadsThroughTheNameMap) {
  const Config c = config();
  const ModelEntry& row = default_registry().find("AttentionCluster");
  auto model = row.make_model(c, Mode::kTest);
  // The released variables (spec §6.1, §7), Paddle layout, plus optimizer state to ignore.
  std::vector<std::pair<std::string, std::vector<int64_t>>> vars{
      {"satt0.conv.weight", {32, 1024, 1, 1}},
      {"satt0.conv.bias", {32}},
      {"satt0.shift_w", {32}},
      {"satt0.shift_b", {32}},
      {"satt1.conv.weight", {32, 128, 1, 1}},
      {"satt1.conv.bias", {32}},
      {"satt1.shift_w", {32}},
      {"satt1.shift_b", {32}},
      {"fc1.weights", {36864, 1024}},
      {"fc1.bias", {1024}},
      {"fc2.weights", {1024, 4096}},
      {"fc2.bias", {4096}},
      {"logistic.weights", {4096, 3862}},
      {"logistic.bias", {3862}},
      {"fc1.weights_moment1_0", {36864, 1024}},
      {"learning_rate_0", {1}}};
  vc::test::TempDir dir;
  torch::manual_seed(1);
  std::map<std::string, torch::Tensor> written;
  for (const auto& [name, shape] : vars) {
    written[name] = torch::randn(shape);
    vc::test::write_paddle_var(dir.str(), name, written[name]);
  }
  NameMapReport report;
  const StateDict sd =
      row.name_maps.at("paddle")(c).apply(read_paddle_weights(dir.str()), dir.str(), &report);
  EXPECT_TRUE(report.unmapped.empty()) << report.summary(dir.str());
  EXPECT_TRUE(report.not_provided.empty()) << report.summary(dir.str());
  EXPECT_EQ(report.ignored.size(), 2u);
  load_state_dict(*model, sd, LoadOptions{}, dir.str());  // strict: every tensor, every shape
  auto& net = dynamic_cast<models::AttentionClusterImpl&>(*model);
  EXPECT_TRUE(torch::equal(net.fc1->weight, written["fc1.weights"].t()));
  EXPECT_TRUE(torch::equal(net.satt1->shift_b, written["satt1.shift_b"]));
  EXPECT_TRUE(torch::equal(net.logistic->bias, written["logistic.bias"]));
}

// build/bin/run_model on the reference's weights written as the original's Fluid directory
// (names and layouts from the spec, plus optimizer state): the whole --weights path.
TEST(AttentionClusterRow, ReferencePaddleWeightsThroughRunModel) {
  VC_REQUIRE_TORCHVISION();
  const std::string ref = vc::test::cached_script_output("attention_cluster_reference.py");
  ASSERT_FALSE(ref.empty()) << "tests/models/attention_cluster_reference.py failed";
  const double d = vc::test::run_model_max_diff("AttentionCluster", ref, "logits");
  std::cout << "Attention Cluster, Paddle directory through run_model (masked batch): "
            << "max |dlogit| = " << d << "\n";
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1e-4);
}

}  // namespace
}  // namespace vc::app
