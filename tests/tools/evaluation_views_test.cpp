// Multi-view evaluation (docs/core.md "Multi-view evaluation"): per-sample scores are the mean
// (or sum) of the views' task scores, the loss and the meter read the logits of the mean, the
// views are forwarded in chunks of at most max_rows rows, and one-view batches are unchanged.
// A tiny dataset of feature views and a linear model stand in for a network.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>

#include "datareader/dataset.h"
#include "datareader/loader.h"
#include "metrics/classification.h"
#include "models/video_model.h"
#include "tools/common/evaluation.h"
#include "tools/common/task.h"

namespace {

using vc::app::aggregate_views;
using vc::app::EvalRow;
using vc::app::evaluate;
using vc::app::ViewOptions;

constexpr int64_t kFeat = 4, kClasses = 5;

// `n` samples of `views` views each: {"x": [V, kFeat]} (no view dim when V = 1), class i % 5.
class ViewDataset : public vc::data::Dataset {
 public:
  ViewDataset(int64_t n, int64_t views) : views_(views) {
    torch::manual_seed(11);
    data_ = torch::randn({n, views, kFeat});  // [n, V, F]
  }
  std::size_t size() const override { return static_cast<std::size_t>(data_.size(0)); }
  vc::data::Sample get(std::size_t i, uint64_t) const override {
    vc::data::Sample s;
    const torch::Tensor x = data_[static_cast<int64_t>(i)].clone();  // [V, F]
    s.inputs["x"] = views_ == 1 ? x[0] : x;
    s.views = views_;
    s.target = vc::data::Target::single(static_cast<int64_t>(i) % kClasses);
    s.id = "video" + std::to_string(i);
    s.source = "views.list";
    s.line_no = i + 1;
    s.index = i;
    return s;
  }
  vc::data::SampleRef ref(std::size_t i) const override {
    return {"video" + std::to_string(i), "views.list", i + 1};
  }
  const std::vector<std::string>& skipped_lines() const override { return skipped_; }
  vc::data::ViewInfo view_info() const override { return {views_, "test layout"}; }
  std::string describe() const override { return "views"; }
  // View v of sample i as a batch of one: {"x": [1, F]}.
  vc::models::ModelInput view(int64_t i, int64_t v) const {
    return vc::models::ModelInput(
        std::map<std::string, torch::Tensor>{{"x", data_[i][v].unsqueeze(0)}});
  }

 private:
  int64_t views_;
  torch::Tensor data_;
  std::vector<std::string> skipped_;
};

// logits = x W^T + b; records the largest batch it was given.
struct TinyImpl : vc::models::VideoModelImpl {
  TinyImpl() {
    torch::manual_seed(5);
    fc = register_module("fc", torch::nn::Linear(kFeat, kClasses));
  }
  torch::Tensor forward(const vc::models::ModelInput& in) override {
    const torch::Tensor& x = in.at("x");  // [R, F]
    max_rows = std::max(max_rows, x.size(0));
    ++calls;
    return fc(x) * 3.0;  // [R, C]
  }
  torch::nn::Linear fc{nullptr};
  int64_t max_rows = 0;
  int calls = 0;
};

struct EvalRun {
  std::vector<EvalRow> rows;
  std::unique_ptr<vc::metrics::ClassificationMeter> meter;
  int64_t max_rows = 0;
};

EvalRun run(const std::shared_ptr<ViewDataset>& ds, int64_t batch, const ViewOptions& vo) {
  vc::data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.num_threads = 0;
  vc::data::Loader loader(ds, lo);
  TinyImpl model;
  EvalRun r;
  r.meter = std::make_unique<vc::metrics::ClassificationMeter>(kClasses);
  evaluate(model, loader, torch::kCPU, vc::app::single_label_task(), r.meter.get(), &r.rows,
           kClasses, 1000, "T", vo);
  r.max_rows = model.max_rows;
  return r;
}

TEST(ViewAggregation, MeanOfSoftmaxAndItsLogits) {
  torch::manual_seed(3);
  const auto task = vc::app::single_label_task();
  const torch::Tensor logits = torch::randn({6, kClasses}) * 4;  // N = 2, V = 3
  const auto agg = aggregate_views(task, logits, 3, false);
  const torch::Tensor p = torch::softmax(logits, 1).view({2, 3, kClasses});
  EXPECT_TRUE(torch::allclose(agg.scores, p.mean(1), 0, 1e-7));
  // The meter and the loss see logits whose softmax is the averaged probability.
  EXPECT_TRUE(torch::allclose(torch::softmax(agg.logits, 1), p.mean(1), 1e-5, 1e-7));
  const auto sum = aggregate_views(task, logits, 3, true);
  EXPECT_TRUE(torch::allclose(sum.scores, p.sum(1), 0, 1e-6));
  EXPECT_TRUE(torch::equal(sum.logits, agg.logits));  // the loss reads the mean either way
  // One view: the task's scores of the logits, the logits themselves.
  const auto one = aggregate_views(task, logits, 1, false);
  EXPECT_TRUE(torch::equal(one.logits, logits));
  EXPECT_TRUE(torch::equal(one.scores, torch::softmax(logits, 1)));
  // Multi-label: mean of sigmoids, logits whose sigmoid is that mean.
  const auto ml = vc::app::multi_label_task(nullptr);
  const auto m = aggregate_views(ml, logits, 2, false);
  const torch::Tensor s = torch::sigmoid(logits).view({3, 2, kClasses}).mean(1);
  EXPECT_TRUE(torch::allclose(m.scores, s, 0, 1e-7));
  EXPECT_TRUE(torch::allclose(torch::sigmoid(m.logits), s, 1e-5, 1e-7));
  // Saturated probabilities stay finite.
  const auto sat = aggregate_views(task, torch::tensor({{1e4f, -1e4f}, {1e4f, -1e4f}}), 2, false);
  EXPECT_TRUE(torch::isfinite(sat.logits).all().item<bool>());
  EXPECT_THROW(aggregate_views(task, logits, 4, false), std::invalid_argument);
  vc::app::Task bare = task;
  bare.logits_of_scores = nullptr;
  EXPECT_THROW(aggregate_views(bare, logits, 3, false), std::invalid_argument);
  EXPECT_NO_THROW(aggregate_views(bare, logits, 1, false));
}

TEST(ViewAggregation, EvaluateAveragesTheViewsOfEachSample) {
  constexpr int64_t n = 7, V = 6;
  auto ds = std::make_shared<ViewDataset>(n, V);
  TinyImpl reference;  // the same weights (same seed)
  torch::NoGradGuard no_grad;
  for (const bool sum : {false, true}) {
    const EvalRun r = run(ds, 3, ViewOptions{3, sum});
    EXPECT_LE(r.max_rows, 3);  // chunks of at most max_rows views
    ASSERT_EQ(r.rows.size(), static_cast<std::size_t>(n));
    double nll = 0;
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
      // Each view run alone through the model.
      torch::Tensor acc = torch::zeros({kClasses});
      for (int64_t v = 0; v < V; ++v)
        acc += torch::softmax(reference.forward(ds->view(i, v)), 1)[0];
      const torch::Tensor mean = acc / static_cast<double>(V);
      const torch::Tensor expect = sum ? acc : mean;
      const EvalRow& row = r.rows[static_cast<std::size_t>(i)];
      EXPECT_EQ(row.views, V);
      ASSERT_EQ(row.classes.size(), static_cast<std::size_t>(kClasses));
      EXPECT_EQ(row.classes[0], expect.argmax().item<int64_t>());
      for (std::size_t k = 0; k < row.classes.size(); ++k) {
        EXPECT_NEAR(row.scores[k], expect[row.classes[k]].item<float>(), 1e-6) << i << " " << k;
      }
      nll -= std::log(mean[i % kClasses].item<double>());
      correct += mean.argmax().item<int64_t>() == i % kClasses;
    }
    // The loss is the cross-entropy of the averaged probabilities; top-1 ranks them.
    EXPECT_NEAR(r.meter->loss(), nll / n, 1e-5);
    EXPECT_NEAR(r.meter->top1(), 100.0 * static_cast<double>(correct) / n, 1e-9);
    EXPECT_EQ(r.meter->count(), n);
  }
  // The chunk size changes nothing but the forward passes.
  const EvalRun whole = run(ds, 3, ViewOptions{0, false});
  EXPECT_EQ(whole.max_rows, 3 * V);
  const EvalRun single = run(ds, 3, ViewOptions{1, false});
  EXPECT_EQ(single.max_rows, 1);
  for (std::size_t i = 0; i < whole.rows.size(); ++i) {
    EXPECT_EQ(whole.rows[i].classes, single.rows[i].classes);
    for (std::size_t k = 0; k < whole.rows[i].scores.size(); ++k)
      EXPECT_NEAR(whole.rows[i].scores[k], single.rows[i].scores[k], 1e-6);
  }
}

TEST(ViewAggregation, OneViewBatchesAreForwardedWhole) {
  auto ds = std::make_shared<ViewDataset>(5, 1);
  const EvalRun r = run(ds, 5, ViewOptions{2, false});  // max_rows applies to multi-view only
  EXPECT_EQ(r.max_rows, 5);
  TinyImpl reference;
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < 5; ++i) {
    const torch::Tensor logits = reference.forward(ds->view(i, 0));  // [1, C]
    const torch::Tensor p = torch::softmax(logits, 1)[0];
    const EvalRow& row = r.rows[static_cast<std::size_t>(i)];
    EXPECT_EQ(row.views, 1);
    for (std::size_t k = 0; k < row.classes.size(); ++k)
      EXPECT_EQ(row.scores[k], p[row.classes[k]].item<float>());  // bit for bit
  }
}

TEST(ViewAggregation, SummaryNamesTheViews) {
  const auto task = vc::app::single_label_task();
  EXPECT_EQ(vc::app::views_summary({1, ""}, task, {}), "1 view per sample");
  EXPECT_EQ(vc::app::views_summary({30, "10x3 (clips x crops)"}, task, {0, false}),
            "views 10x3 (clips x crops), scores mean of softmax");
  EXPECT_EQ(vc::app::views_summary({6, ""}, task, {0, true}), "views 6, scores sum of softmax");
  // After the pass: a dataset whose view_info() does not describe its views is reported by the
  // views its samples carried.
  std::vector<EvalRow> rows(2);
  rows[0].views = rows[1].views = 6;
  EXPECT_EQ(vc::app::views_done("1 view per sample", {1, ""}, rows, task, {}, "T"),
            "views 6, scores mean of softmax");
  const std::string s6 = vc::app::views_summary({6, "2x3 (clips x crops)"}, task, {});
  EXPECT_EQ(vc::app::views_done(s6, {6, "2x3 (clips x crops)"}, rows, task, {}, "T"), s6);
  EXPECT_EQ(vc::app::views_done("1 view per sample", {1, ""}, {}, task, {}, "T"),
            "1 view per sample");
}

}  // namespace
