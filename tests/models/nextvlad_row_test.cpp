// The NEXTVLAD registry row: config defaults of the original (spec §6.3), the eigenvalue file
// (real file, `none`, missing, malformed), the LR schedule (55 decays of x0.8 every
// lr_boundary_examples // batch_size iterations), the parameter groups (L2 on the classifier
// only), and the Paddle name map over every variable of the released nextvlad_youtube8m (names
// and shapes of spec §6.3 / §7, batch_norm_0..5) from a Fluid per-variable directory; through
// build/bin/run_model, the independent reference's weights written as such a directory
// (nextvlad_reference.py) give the reference's logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "models/nextvlad/nextvlad.h"
#include "tests/models/run_model_reference.h"
#include "tests/models/test_util.h"
#include "tests/models/yt8m_paddle_dir.h"
#include "tools/common/errors.h"
#include "tools/common/optim_config.h"
#include "tools/common/registry.h"
#include "tools/common/rows/rows.h"
#include "tools/common/weights/paddle.h"

namespace vc::app {
namespace {

const std::string kEigen = std::string(VC_SOURCE_DIR) + "/../shared/data/yt8m/pca_eigenvals.npy";

Config config(std::vector<std::string> sets = {}) {
  sets.insert(sets.begin(), "MODEL.name=NEXTVLAD");
  return load_config("", sets, {}, default_registry().schema());
}

TEST(NextvladRow, DefaultsAreTheOriginals) {
  const Config c = config({"MODEL.eigen_file=none"});
  EXPECT_EQ(c.model.i("num_classes"), 3862);
  EXPECT_EQ(c.model.i("seg_num"), 0);
  EXPECT_FALSE(c.model.b("dequantize"));
  EXPECT_EQ(c.model.i("cluster_size"), 128);
  EXPECT_EQ(c.model.i("hidden_size"), 2048);
  EXPECT_EQ(c.model.i("groups"), 8);
  EXPECT_EQ(c.model.i("expansion"), 2);
  EXPECT_EQ(c.model.i("gating_reduction"), 8);
  const SectionConfig& t = c.section(Mode::kTrain);
  EXPECT_EQ(t.i("epoch"), 6);
  EXPECT_EQ(t.s("optimizer"), "adam");
  EXPECT_DOUBLE_EQ(t.f("learning_rate"), 2e-4);
  EXPECT_DOUBLE_EQ(t.f("l2_penalty"), 1e-5);
  EXPECT_EQ(t.i("batch_size"), 160);
  EXPECT_EQ(c.section(Mode::kTest).i("batch_size"), 40);
  EXPECT_EQ(c.section(Mode::kInfer).i("batch_size"), 1);
  // The original's spellings of the schedule keys are accepted.
  const Config orig =
      config({"MODEL.eigen_file=none", "TRAIN.lr_boundary_examples=1000", "TRAIN.max_iter=50"});
  EXPECT_EQ(orig.section(Mode::kTrain).i("decay_examples"), 1000);
  EXPECT_EQ(orig.section(Mode::kTrain).i("decay_max_iterations"), 50);
}

TEST(NextvladRow, LrScheduleIsTheOriginalsPiecewiseDecay) {
  const Config c = config({"MODEL.eigen_file=none"});
  const LrScheduleOptions o = lr_schedule_options(c.section(Mode::kTrain), 1000);
  ASSERT_EQ(o.policy, "piecewise");
  ASSERT_EQ(o.boundaries.size(), 55u);  // 12500 * i < 700000
  EXPECT_EQ(o.boundaries.front(), 12500);
  EXPECT_EQ(o.boundaries.back(), 687500);
  const LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.at(0), 2e-4);
  EXPECT_DOUBLE_EQ(s.at(12499), 2e-4);
  EXPECT_NEAR(s.at(12500), 2e-4 * 0.8, 1e-15);
  EXPECT_NEAR(s.at(700000), 2e-4 * std::pow(0.8, 55), 1e-18);
  EXPECT_NEAR(s.at(5000000), 2e-4 * std::pow(0.8, 55), 1e-18);
  // decay_step = lr_boundary_examples // batch_size of the configured (global) batch.
  const Config big = config({"MODEL.eigen_file=none", "TRAIN.batch_size=320"});
  const LrScheduleOptions ob = lr_schedule_options(big.section(Mode::kTrain), 1000);
  EXPECT_EQ(ob.boundaries.front(), 6250);
  EXPECT_EQ(ob.boundaries.size(), 111u);  // 6250 * i < 700000
  // Without a cap it is a plain staircase decay.
  const Config open = config({"MODEL.eigen_file=none", "TRAIN.decay_max_iterations=0"});
  const LrScheduleOptions oo = lr_schedule_options(open.section(Mode::kTrain), 1000);
  EXPECT_EQ(oo.policy, "exponential");
  EXPECT_EQ(oo.decay_steps, 12500);
}

TEST(NextvladRow, EigenFile) {
  const ModelEntry& row = default_registry().find("nextvlad");
  // `none`: multiplier 1.
  const Config none =
      config({"MODEL.eigen_file=none", "MODEL.cluster_size=4", "MODEL.hidden_size=16"});
  auto m = row.make_model(none, Mode::kTest);
  EXPECT_TRUE(
      torch::equal(dynamic_cast<models::NextVladImpl&>(*m).eigen_param, torch::ones({1024})));
  // Missing: an error naming the key and the path (the original fails in np.load too).
  const Config missing = config(
      {"MODEL.eigen_file=no/such/eigenvals.npy", "MODEL.cluster_size=4", "MODEL.hidden_size=16"});
  try {
    row.make_model(missing, Mode::kTrain);
    FAIL() << "no error for a missing eigen_file";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("MODEL.eigen_file 'no/such/eigenvals.npy'"),
              std::string::npos)
        << e.what();
  }
  // Not an .npy of >= 1024 floats: an error naming the file.
  vc::test::TempDir dir;
  const std::string bad = dir / "eig.npy";
  std::ofstream(bad, std::ios::binary) << "not numpy";
  EXPECT_THROW(row.make_model(config({"MODEL.eigen_file=" + bad, "MODEL.cluster_size=4",
                                      "MODEL.hidden_size=16"}),
                              Mode::kTrain),
               IoError);
  if (!std::filesystem::exists(kEigen))
    GTEST_SKIP() << "skipped the real file: " << kEigen << " absent";
  const Config real =
      config({"MODEL.eigen_file=" + kEigen, "MODEL.cluster_size=4", "MODEL.hidden_size=16"});
  auto r = row.make_model(real, Mode::kTest);
  const torch::Tensor e = dynamic_cast<models::NextVladImpl&>(*r).eigen_param;
  EXPECT_NEAR(e[0].item<float>(), std::sqrt(14.738506f) + 1e-4f, 1e-5);
  EXPECT_NEAR(e[2].item<float>(), std::sqrt(7.0331655f) + 1e-4f, 1e-5);
}

TEST(NextvladRow, DequantizingReaderIsAnError) {
  EXPECT_THROW(config({"MODEL.eigen_file=none", "MODEL.dequantize=true"}), ConfigError);
}

TEST(NextvladRow, L2OnTheClassifierOnly) {
  const Config c =
      config({"MODEL.eigen_file=none", "MODEL.cluster_size=4", "MODEL.hidden_size=16"});
  const ModelEntry& row = default_registry().find("NEXTVLAD");
  auto m = row.make_model(c, Mode::kTrain);
  const auto groups = row.param_groups(*m, c);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_FALSE(groups[0].weight_decay.has_value());  // TRAIN.l2_weight_decay: 0
  ASSERT_EQ(groups[1].params.size(), 2u);
  EXPECT_EQ(groups[1].params[0].first, "logits_clf.weight");
  EXPECT_EQ(groups[1].params[1].first, "logits_clf.bias");
  EXPECT_DOUBLE_EQ(groups[1].weight_decay.value(), 1e-5);
  EXPECT_EQ(groups[0].params.size() + 2, m->parameters().size());
}

TEST(NextvladRow, PaddleDirectoryLoadsThroughTheNameMap) {
  const Config c = config({"MODEL.eigen_file=none"});
  const ModelEntry& row = default_registry().find("NEXTVLAD");
  auto model = row.make_model(c, Mode::kTest);
  std::vector<std::pair<std::string, std::vector<int64_t>>> vars{{"eigen_param", {1024}}};
  for (const auto& [p, f] :
       std::vector<std::pair<std::string, int64_t>>{{"video_", 1024}, {"audio_", 128}}) {
    vars.push_back({p + "fc_expansion_w", {f, 2 * f}});
    vars.push_back({p + "fc_expansion_b", {2 * f}});
    vars.push_back({p + "fc_group_attention_w", {2 * f, 8}});
    vars.push_back({p + "fc_group_attention_b", {8}});
    vars.push_back({p + "cluster_weights", {2 * f, 8 * 128}});
    vars.push_back({p + "cluster_weights2", {128, 2 * f / 8}});
  }
  const int64_t bn_sizes[6] = {1024, 32768, 1024, 4096, 2048, 256};
  for (int i = 0; i < 6; ++i) {
    for (const char* s : {".w_0", ".b_0", ".w_1", ".w_2"}) {
      vars.push_back({"batch_norm_" + std::to_string(i) + s, {bn_sizes[i]}});
    }
  }
  vars.push_back({"hidden1_fc_weights", {36864, 2048}});
  vars.push_back({"gating_fc1_weights", {2048, 256}});
  vars.push_back({"gating_fc2_weights", {256, 2048}});
  vars.push_back({"logits_clf_weights", {2048, 3862}});
  vars.push_back({"logits_clf_bias", {3862}});
  vars.push_back({"@LR_DECAY_COUNTER@", {1}});
  vars.push_back({"logits_clf_weights_moment2_0", {2048, 3862}});
  vc::test::TempDir dir;
  torch::manual_seed(2);
  std::map<std::string, torch::Tensor> written;
  for (const auto& [name, shape] : vars) {
    written[name] = torch::rand(shape) + 0.5;
    vc::test::write_paddle_var(dir.str(), name, written[name]);
  }
  NameMapReport report;
  const NameMap map = row.name_maps.at("paddle")(c);
  const StateDict sd = map.apply(read_paddle_weights(dir.str()), dir.str(), &report);
  EXPECT_TRUE(report.unmapped.empty()) << report.summary(dir.str());
  EXPECT_TRUE(report.not_provided.empty()) << report.summary(dir.str());
  EXPECT_EQ(report.ignored.size(), 2u);
  load_state_dict(*model, sd, LoadOptions{}, dir.str());  // strict
  auto& net = dynamic_cast<models::NextVladImpl&>(*model);
  EXPECT_TRUE(torch::equal(net.eigen_param, written["eigen_param"]));
  EXPECT_TRUE(torch::equal(net.video->fc_expansion->weight, written["video_fc_expansion_w"].t()));
  EXPECT_TRUE(torch::equal(net.audio->cluster_weights, written["audio_cluster_weights"]));
  EXPECT_TRUE(torch::equal(net.video->vlad_bn->running_var, written["batch_norm_1.w_2"]));
  EXPECT_TRUE(torch::equal(net.audio->cluster_bn->running_mean, written["batch_norm_2.w_1"]));
  EXPECT_TRUE(torch::equal(net.gating_bn->weight, written["batch_norm_5.w_0"]));
  EXPECT_TRUE(torch::equal(net.logits_clf->weight, written["logits_clf_weights"].t()));
  // Weights without eigen_param (spec §10: unknown whether the tarball has it): the config's.
  std::filesystem::remove(dir / "eigen_param");
  NameMapReport r2;
  const StateDict sd2 = map.apply(read_paddle_weights(dir.str()), dir.str(), &r2);
  EXPECT_EQ(r2.defaulted.size(), 7u);  // eigen_param + 6 num_batches_tracked
  load_state_dict(*model, sd2, LoadOptions{}, dir.str());
  EXPECT_TRUE(torch::equal(net.eigen_param, torch::ones({1024})));
}

// build/bin/run_model on the reference's weights written as the original's Fluid directory
// (names and layouts from the spec, plus optimizer state): the whole --weights path.
TEST(NextvladRow, ReferencePaddleWeightsThroughRunModel) {
  VC_REQUIRE_TORCHVISION();
  const std::string ref = vc::test::cached_script_output("nextvlad_reference.py");
  ASSERT_FALSE(ref.empty()) << "tests/models/nextvlad_reference.py failed";
  const double d = vc::test::run_model_max_diff("NEXTVLAD", ref, "logits");
  std::cout << "NeXtVLAD, Paddle directory through run_model (padded batch, eval): "
            << "max |dlogit| = " << d << "\n";
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1e-4);
}

}  // namespace
}  // namespace vc::app
