// The AttentionLSTM registry row: the original's defaults (spec §6.2) from
// configs/attention_lstm.yaml and from the key table alone, the LR boundary 24410, the parameter
// groups (no L2 on fc biases), the summed loss, the Paddle name map at full size (every spec name
// and shape lands on a parameter) and, through build/bin/run_model, the reference's Paddle
// directory giving the reference's logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

#include "tests/models/run_model_reference.h"
#include "tests/models/test_util.h"
#include "tools/common/optim_config.h"
#include "tools/common/registry.h"
#include "tools/common/rows/rows.h"
#include "tools/common/state_dict.h"
#include "tools/common/weights/paddle.h"

namespace vc::models {
namespace {

using app::Mode;

app::Config load(const std::string& yaml_path, const std::vector<std::string>& sets = {}) {
  return app::load_config(yaml_path, sets, {}, app::default_registry().schema());
}

std::string write_yaml(const vc::test::TempDir& dir, const std::string& text) {
  std::ofstream(dir.file("cfg.yaml")) << text;
  return dir.file("cfg.yaml");
}

TEST(AttentionLstmRow, DefaultsAreTheOriginals) {
  vc::test::TempDir dir("attention_lstm_row");
  // The key table alone (no values in the YAML) and the shipped config agree.
  for (const std::string& path : {write_yaml(dir, "MODEL:\n  name: AttentionLSTM\n"),
                                  std::string(VC_SOURCE_DIR) + "/configs/attention_lstm.yaml"}) {
    SCOPED_TRACE(path);
    const app::Config cfg = load(path);
    EXPECT_EQ(cfg.model.i("num_classes"), 3862);
    EXPECT_EQ(cfg.model.i("embedding_size"), 512);
    EXPECT_EQ(cfg.model.i("lstm_size"), 1024);
    EXPECT_EQ(cfg.model.i("fc1_size"), 8192);
    EXPECT_EQ(cfg.model.i("fc2_size"), 4096);
    EXPECT_DOUBLE_EQ(cfg.model.f("drop_rate"), 0.5);
    EXPECT_EQ(cfg.model.s("dropout_impl"), "downgrade_in_infer");
    EXPECT_EQ(cfg.model.i("seg_num"), 0);
    EXPECT_TRUE(cfg.model.b("dequantize"));
    const app::SectionConfig& t = cfg.section(Mode::kTrain);
    EXPECT_EQ(t.i("epoch"), 10);
    EXPECT_EQ(t.i("batch_size"), 1024);
    EXPECT_EQ(cfg.section(Mode::kValid).i("batch_size"), 1024);
    EXPECT_EQ(cfg.section(Mode::kTest).i("batch_size"), 128);
    EXPECT_EQ(cfg.section(Mode::kInfer).i("batch_size"), 1);
    const app::OptimizerOptions o = app::optimizer_options(t);
    EXPECT_EQ(o.type, "rmsprop");
    EXPECT_TRUE(o.centered);
    EXPECT_DOUBLE_EQ(o.rho, 0.95);
    EXPECT_DOUBLE_EQ(o.rms_epsilon, 1e-6);
    EXPECT_DOUBLE_EQ(o.rms_momentum, 0.0);
    EXPECT_DOUBLE_EQ(o.l2_weight_decay, 8e-4);
    // decay_epochs [5] x (num_samples 5000000 // batch 1024) with Python 2 division.
    const app::LrScheduleOptions lr = app::lr_schedule_options(t, /*train_list_size=*/123);
    EXPECT_EQ(lr.policy, "piecewise");
    EXPECT_EQ(lr.boundaries, (std::vector<int64_t>{5 * (5000000 / 1024)}));
    EXPECT_EQ(lr.boundaries, (std::vector<int64_t>{24410}));
    EXPECT_DOUBLE_EQ(lr.base_lr, 1e-3);
    EXPECT_DOUBLE_EQ(lr.decay, 0.1);
    // The boundary follows the batch (the original's rule, not a number fixed for 1024), and
    // the list's size does not enter it.
    const app::Config b128 = load(path, {"TRAIN.batch_size=128"});
    EXPECT_EQ(app::lr_schedule_options(b128.section(Mode::kTrain), 7).boundaries,
              (std::vector<int64_t>{5 * (5000000 / 128)}));
    EXPECT_EQ(app::lr_schedule_options(b128.section(Mode::kTrain), 999999).boundaries,
              (std::vector<int64_t>{195310}));
  }
}

TEST(AttentionLstmRow, ParamGroupsAndSummedLoss) {
  vc::test::TempDir dir("attention_lstm_row");
  const app::Config cfg =
      load(write_yaml(dir,
                      "MODEL:\n  name: AttentionLSTM\n  num_classes: 5\n  embedding_size: 4\n"
                      "  lstm_size: 3\n  fc1_size: 6\n  fc2_size: 5\n"));
  const app::ModelEntry& row = app::default_registry().find("attentionlstm");
  EXPECT_EQ(row.id, "AttentionLSTM");
  auto net = row.make_model(cfg, Mode::kTrain);
  const auto groups = row.param_groups(*net, cfg);
  ASSERT_EQ(groups.size(), 2u);
  std::map<std::string, std::optional<double>> decay;
  for (const auto& g : groups)
    for (const auto& [name, p] : g.params) decay[name] = g.weight_decay;
  EXPECT_EQ(decay.size(), net->parameters().size());
  int fc_biases = 0;
  for (const auto& [name, d] : decay) {
    const bool lstm = name.find("lstm_forward.") != std::string::npos ||
                      name.find("lstm_backward.") != std::string::npos;
    const bool bias = name.size() > 5 && name.substr(name.size() - 5) == ".bias";
    if (bias && !lstm) {
      ++fc_biases;
      EXPECT_TRUE(d.has_value() && *d == 0.0) << name;  // L2Decay(0)
    } else {
      EXPECT_FALSE(d.has_value()) << name;  // the global 8e-4
    }
  }
  EXPECT_EQ(fc_biases, 11);  // 4 per modality + 3 in the head
  // Loss: the sum over the batch of the class-summed sigmoid CE.
  const torch::Tensor logits = torch::tensor({{2.0f, -1.0f}, {0.5f, 3.0f}, {-4.0f, 0.0f}});
  const torch::Tensor target = torch::tensor({{1.0f, 0.0f}, {0.0f, 0.0f}, {1.0f, 1.0f}});
  double want = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j) {
      const double x = logits[i][j].item<double>(), z = target[i][j].item<double>();
      want += std::max(x, 0.0) - x * z + std::log1p(std::exp(-std::abs(x)));
    }
  EXPECT_NEAR(row.task.loss(logits, target).item<double>(), want, 1e-5);
}

TEST(AttentionLstmRow, PaddleMapCoversEveryVariableOfTheFullSizeNetwork) {
  vc::test::TempDir dir("attention_lstm_row");
  const app::Config cfg = load(write_yaml(dir, "MODEL:\n  name: AttentionLSTM\n"));
  // The released checkpoint's variables with the spec's shapes (§6.2), plus optimizer state.
  app::StateDict paddle;
  auto fc = [&](int k, int64_t in, int64_t out) {
    paddle.emplace_back("fc_" + std::to_string(k) + ".w_0", torch::randn({in, out}));
    paddle.emplace_back("fc_" + std::to_string(k) + ".b_0", torch::randn({out}));
  };
  auto lstm = [&](int k) {
    paddle.emplace_back("lstm_" + std::to_string(k) + ".w_0", torch::randn({1024, 4096}));
    paddle.emplace_back("lstm_" + std::to_string(k) + ".b_0", torch::randn({1, 7168}));
  };
  const int64_t dims[2] = {1024, 128};
  for (int m = 0; m < 2; ++m) {
    fc(4 * m, dims[m], 512);
    fc(4 * m + 1, 512, 4096);
    lstm(2 * m);
    fc(4 * m + 2, 512, 4096);
    lstm(2 * m + 1);
    fc(4 * m + 3, 2048, 1);
  }
  fc(8, 4096, 8192);
  fc(9, 8192, 4096);
  fc(10, 4096, 3862);
  paddle.emplace_back("lstm_3.w_0_mean_square_0", torch::zeros({1024, 4096}));
  paddle.emplace_back("@LR_DECAY_COUNTER@", torch::zeros({1}, torch::kLong));
  app::NameMapReport report;
  const app::StateDict ours = app::attention_lstm_paddle_map(cfg).apply(paddle, "paddle", &report);
  EXPECT_TRUE(report.unmapped.empty()) << report.summary("paddle");
  EXPECT_EQ(report.ignored.size(), 2u) << report.summary("paddle");
  auto net = app::default_registry().find("AttentionLSTM").make_model(cfg, Mode::kTest);
  app::load_state_dict(*net, ours, app::LoadOptions{}, "paddle");  // strict: all, same shapes
  const auto params = net->named_parameters();
  auto foreign = [&](const std::string& name) {
    for (const auto& [k, v] : paddle)
      if (k == name) return v;
    ADD_FAILURE() << "no " << name;
    return torch::Tensor();
  };
  EXPECT_TRUE(torch::equal(params["rgb.input_fc.weight"], foreign("fc_0.w_0").t()));
  EXPECT_TRUE(torch::equal(params["audio.lstm_backward.bias"], foreign("lstm_3.b_0")));
  EXPECT_TRUE(torch::equal(params["audio.attention_fc.weight"], foreign("fc_7.w_0").t()));
  EXPECT_TRUE(torch::equal(params["logit.bias"], foreign("fc_10.b_0")));
}

// build/bin/run_model on the reference's Paddle directory (the whole --weights path).
TEST(AttentionLstmRow, ReferencePaddleWeightsThroughRunModel) {
  VC_REQUIRE_TORCHVISION();
  const std::string ref = vc::test::cached_script_output("attention_lstm_reference.py");
  ASSERT_FALSE(ref.empty()) << "tests/models/attention_lstm_reference.py failed";
  const double d = vc::test::run_model_max_diff("AttentionLSTM", ref, "padded");
  std::cout << "AttentionLSTM through run_model from the Paddle directory: max |dlogit| = " << d
            << "\n";
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1e-4);
}

}  // namespace
}  // namespace vc::models
