// Multi-view testing end to end: build/bin/test and build/bin/infer with TEST.num_clips = 2,
// TEST.num_crops = 3 on the generated demo data write per-video scores equal to the mean (or,
// with view_scores = sum, the sum) of the per-view softmaxes of the same model run on each view
// alone; the single-view results are the model's softmax of the single centre view.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "datareader/dataset.h"
#include "tests/support/temp_dir.h"
#include "tools/common/cli.h"
#include "tools/common/registry.h"
#include "tools/common/runtime.h"
#include "tools/common/state_dict.h"

namespace {

namespace fs = std::filesystem;
using vc::testing::read_text;
using vc::testing::run_command;
using vc::testing::write_text;

const std::string kBin = std::string(VC_BINARY_DIR) + "/bin/";

class Views : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vc::testing::TempDir();
    auto r = run_command(kBin + "make_demo_data --out " + data() +
                         " --clips-per-class 3 --frames 16 --width 64 --height 48 --seed 2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // 64x48 -> short side 40: 53x40 frames, 32 px crops at x = 0, 11, 21 (left/centre/right).
    write_text(config(),
               "MODEL:\n  name: TSN\n  num_classes: 6\n  num_layers: 18\n  seg_num: 3\n"
               "  short_size: 40\n  target_size: 32\n  scale_mode: short_side\n"
               "  num_reader_threads: 2\n"
               "TEST:\n  batch_size: 4\n  filelist: " +
                   data() + "/test.list\nINFER:\n  batch_size: 2\n  filelist: " + data() +
                   "/infer.list\n");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string data() { return *dir_ / "demo"; }
  static std::string config() { return *dir_ / "views.yaml"; }
  static std::string path(const std::string& name) { return *dir_ / name; }
  static vc::testing::TempDir* dir_;
};
vc::testing::TempDir* Views::dir_ = nullptr;

vc::app::Config config_with(const std::string& yaml, vc::app::Tool tool,
                            std::vector<std::string> sets) {
  vc::app::CliOptions o;
  o.tool = tool;
  o.model_name = "TSN";
  o.config = yaml;
  o.sets = std::move(sets);
  return vc::app::resolve_config(o);
}

std::vector<nlohmann::json> json_lines(const std::string& file) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(file);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) rows.push_back(nlohmann::json::parse(l));
  return rows;
}

// For every sample of the mode's dataset (with `sets`), the softmax of `model` on each of its
// views run alone (a batch of one), stacked [V, C].
std::vector<torch::Tensor> per_view_softmax(vc::models::VideoModelImpl& model,
                                            const vc::app::Config& cfg, vc::app::Mode mode,
                                            std::vector<std::string>* ids) {
  const auto& entry = vc::app::default_registry().find("TSN");
  auto ds = vc::app::build_dataset(entry, cfg, mode);
  std::vector<torch::Tensor> out;
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < ds->size(); ++i) {
    const vc::data::Sample s = ds->get(i, 0);
    const torch::Tensor video = s.inputs.at("video");
    std::vector<torch::Tensor> views;
    if (s.views == 1) {
      views.push_back(torch::softmax(model.forward(video.unsqueeze(0)), 1)[0]);
    } else {
      for (int64_t v = 0; v < s.views; ++v)  // [1, T, 3, H, W] each
        views.push_back(torch::softmax(model.forward(video[v].unsqueeze(0)), 1)[0]);
    }
    out.push_back(torch::stack(views));  // [V, C]
    ids->push_back(s.id);
  }
  return out;
}

// Each row's top-k scores against `expect` [C] of the same video.
void expect_rows(const std::vector<nlohmann::json>& rows, const std::vector<std::string>& ids,
                 const std::vector<torch::Tensor>& expect, int64_t views, double tol) {
  ASSERT_EQ(rows.size(), ids.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    EXPECT_EQ(row.at("id").get<std::string>(), ids[i]);
    if (views > 1) {
      EXPECT_EQ(row.at("views").get<int64_t>(), views) << row.dump();
    } else {
      EXPECT_FALSE(row.contains("views")) << row.dump();  // single-view rows as before
    }
    const auto& top = row.at("topk");
    ASSERT_FALSE(top.empty());
    EXPECT_EQ(top[0].at("class").get<int64_t>(), expect[i].argmax().item<int64_t>()) << row.dump();
    for (const auto& c : top) {
      const double want = expect[i][c.at("class").get<int64_t>()].item<double>();
      EXPECT_NEAR(c.at("score").get<double>(), want, tol * std::max(1.0, want)) << row.dump();
    }
  }
}

TEST_F(Views, TestAndInferCombineTheViewsOfEachVideo) {
  // A random ResNet-18 TSN, saved as the weights test and infer evaluate.
  const auto cfg1 = config_with(config(), vc::app::Tool::kTest, {});
  const auto& entry = vc::app::default_registry().find("TSN");
  torch::manual_seed(4);
  auto model = entry.make_model(cfg1, vc::app::Mode::kTest);
  model->eval();
  const std::string weights = path("tsn_random.pt");
  vc::app::save_state_dict(weights, vc::app::module_state_dict(*model));

  const std::vector<std::string> sets{"TEST.num_clips=2", "TEST.num_crops=3"};
  const auto cfg6 = config_with(config(), vc::app::Tool::kTest, sets);
  std::vector<std::string> ids6, ids1;
  const auto views6 = per_view_softmax(*model, cfg6, vc::app::Mode::kTest, &ids6);  // [6, C]
  const auto views1 = per_view_softmax(*model, cfg1, vc::app::Mode::kTest, &ids1);  // [1, C]
  ASSERT_EQ(views6.size(), 6u);
  ASSERT_EQ(views6[0].size(0), 6);
  ASSERT_EQ(views1[0].size(0), 1);
  std::vector<torch::Tensor> mean6, sum6, single;
  for (const auto& v : views6) {
    mean6.push_back(v.mean(0));
    sum6.push_back(v.sum(0));
    EXPECT_FALSE(torch::allclose(v[0], v[2]));  // left and right crops see different pixels
  }
  for (const auto& v : views1) single.push_back(v[0]);

  const std::string cmd = kBin + "test --model-name=TSN --config=" + config() +
                          " --weights=" + weights + " --threads=1 --save-dir=";
  // mean (the default)
  auto r = run_command(cmd + path("mean") + " --set TEST.num_clips=2 --set TEST.num_crops=3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("6 samples, views 2x3 (clips x crops), scores mean of softmax"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("6 of 6 samples evaluated, views 2x3 (clips x crops), scores mean"),
            std::string::npos)
      << r.output;
  expect_rows(json_lines(path("mean/test_results.jsonl")), ids6, mean6, 6, 2e-5);
  const auto metrics = nlohmann::json::parse(read_text(path("mean/test_metrics.json")));
  EXPECT_EQ(metrics.at("views").get<std::string>(),
            "views 2x3 (clips x crops), scores mean of softmax");
  EXPECT_EQ(metrics.at("samples").get<int64_t>(), 6);
  // The reported loss is the cross-entropy of the averaged probabilities.
  double nll = 0;
  const auto rows = json_lines(path("mean/test_results.jsonl"));
  for (std::size_t i = 0; i < rows.size(); ++i)
    nll -= std::log(mean6[i][rows[i].at("label").get<int64_t>()].item<double>());
  EXPECT_NEAR(metrics.at("loss").get<double>(), nll / 6, 1e-4);

  // sum: the original Non-local's combination, V times the mean.
  r = run_command(cmd + path("sum") +
                  " --set TEST.num_clips=2 --set TEST.num_crops=3 --set TEST.view_scores=sum");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("views 2x3 (clips x crops), scores sum of softmax"), std::string::npos)
      << r.output;
  expect_rows(json_lines(path("sum/test_results.jsonl")), ids6, sum6, 6, 2e-5);

  // One view: the softmax of the single centre view, rows without "views".
  r = run_command(cmd + path("one"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("6 samples, 1 view per sample"), std::string::npos) << r.output;
  expect_rows(json_lines(path("one/test_results.jsonl")), ids1, single, 1, 2e-5);

  // infer takes its own views (INFER section), same per-video scores.
  r = run_command(kBin + "infer --model-name=TSN --config=" + config() + " --weights=" + weights +
                  " --threads=1 --infer-topk=6 --save-dir=" + path("infer") +
                  " --set INFER.num_clips=2 --set INFER.num_crops=3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("predicted (views 2x3 (clips x crops), scores mean of softmax)"),
            std::string::npos)
      << r.output;
  const auto cfg_infer =
      config_with(config(), vc::app::Tool::kInfer, {"INFER.num_clips=2", "INFER.num_crops=3"});
  std::vector<std::string> ids_infer;
  const auto views_infer = per_view_softmax(*model, cfg_infer, vc::app::Mode::kInfer, &ids_infer);
  std::vector<torch::Tensor> mean_infer;
  for (const auto& v : views_infer) mean_infer.push_back(v.mean(0));
  expect_rows(json_lines(path("infer/TSN_infer.jsonl")), ids_infer, mean_infer, 6, 2e-5);
}

TEST_F(Views, BadViewKeysAreConfigErrors) {
  auto r = run_command(kBin + "test --model-name=TSN --config=" + config() +
                       " --weights=none.pt --save-dir=" + path("bad") + " --set TEST.num_crops=2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("num_crops"), std::string::npos) << r.output;
  r = run_command(kBin + "test --model-name=TSN --config=" + config() +
                  " --weights=none.pt --save-dir=" + path("bad") + " --set TEST.view_scores=max");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("view_scores"), std::string::npos) << r.output;
}

}  // namespace
