#include "tools/common/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>

#include "metrics/classification.h"
#include "tools/common/logging.h"

namespace vc::app {

ViewOptions view_options(const SectionConfig& s) {
  ViewOptions o;
  o.max_rows = s.i("batch_size");
  o.sum = s.s("view_scores") == "sum";
  return o;
}

std::string views_summary(const data::ViewInfo& info, const Task& task, const ViewOptions& opts) {
  if (info.views == 1) return "1 view per sample";
  return fmt::format("views {}, scores {} of {}",
                     info.layout.empty() ? std::to_string(info.views) : info.layout,
                     opts.sum ? "sum" : "mean", task.score_name);
}

std::string views_done(const std::string& summary, const data::ViewInfo& info,
                       const std::vector<EvalRow>& rows, const Task& task,
                       const ViewOptions& view_opts, const std::string& tag) {
  if (rows.empty() || rows.front().views == info.views) return summary;
  log_warn(
      fmt::format("[{}] the dataset's view_info() says {} view(s) per sample, its samples "
                  "carried {}",
                  tag, info.views, rows.front().views));
  return views_summary(data::ViewInfo{rows.front().views, ""}, task, view_opts);
}

ViewScores aggregate_views(const Task& task, const torch::Tensor& logits, int64_t views, bool sum) {
  if (views < 1 || logits.dim() != 2 || logits.size(0) % views != 0) {
    throw std::invalid_argument("aggregate_views: logits " + c10::str(logits.sizes()) +
                                " are not [N*V, C] for V = " + std::to_string(views));
  }
  if (views == 1) return ViewScores{task.scores(logits), logits};
  if (!task.logits_of_scores) {
    throw std::invalid_argument("task '" + task.loss_name + "' / '" + task.score_name +
                                "' has no logits_of_scores: it cannot evaluate " +
                                std::to_string(views) + "-view samples");
  }
  const int64_t n = logits.size(0) / views, c = logits.size(1);
  const torch::Tensor per_view = task.scores(logits).view({n, views, c});  // [N, V, C]
  const torch::Tensor mean = per_view.mean(1);                             // [N, C]
  return ViewScores{sum ? per_view.sum(1) : mean, task.logits_of_scores(mean)};
}

namespace {

// The model on every row of `input` ([R, ...] per input), at most `max_rows` rows per forward
// pass (0 = all at once); logits [R, C] on the CPU.
torch::Tensor forward_rows(models::VideoModelImpl& model, const data::Batch& batch,
                           const torch::Device& device, int64_t max_rows) {
  const int64_t rows = batch.size() * batch.views;
  if (max_rows <= 0 || max_rows >= rows) {
    return model.forward(models::ModelInput(batch.inputs).to(device)).to(torch::kCPU);
  }
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < rows; r += max_rows) {
    const int64_t len = std::min(max_rows, rows - r);
    std::map<std::string, torch::Tensor> chunk;
    for (const auto& [name, t] : batch.inputs) {
      if (t.dim() < 1 || t.size(0) != rows) {
        throw std::invalid_argument("evaluate: input '" + name + "' has shape " +
                                    c10::str(t.sizes()) + ", expected " + std::to_string(rows) +
                                    " rows (" + std::to_string(batch.size()) + " samples x " +
                                    std::to_string(batch.views) + " views)");
      }
      chunk[name] = t.narrow(0, r, len);  // [len, ...]
    }
    parts.push_back(model.forward(models::ModelInput(chunk).to(device)).to(torch::kCPU));
  }
  return torch::cat(parts, 0);  // [R, C]
}

}  // namespace

void evaluate(models::VideoModelImpl& model, data::Loader& loader, const torch::Device& device,
              const Task& task, metrics::Meter* meter, std::vector<EvalRow>* rows, int64_t topk,
              int64_t log_interval, const std::string& tag, const ViewOptions& views) {
  using Clock = std::chrono::steady_clock;
  torch::NoGradGuard no_grad;
  model.eval();
  loader.start_epoch(0);
  const std::size_t nb = loader.batches_per_epoch();
  std::size_t it = 0;
  const auto t0 = Clock::now();
  while (auto batch = loader.next()) {
    torch::Tensor logits, scores;  // [N, C] per sample
    if (batch->views == 1) {
      const models::ModelInput input = models::ModelInput(batch->inputs).to(device);
      logits = model.forward(input).to(torch::kCPU);  // [N, C]
    } else {
      const torch::Tensor view_logits =
          forward_rows(model, *batch, device, views.max_rows);  // [N*V, C]
      ViewScores agg = aggregate_views(task, view_logits, batch->views, views.sum);
      logits = agg.logits;  // [N, C]
      scores = agg.scores;  // [N, C]
    }
    const bool all_labelled =
        std::all_of(batch->labelled.begin(), batch->labelled.end(), [](bool b) { return b; });
    if (meter && all_labelled) {
      const double loss = task.loss(logits, batch->target).item<double>();
      meter->update(logits, batch->target, loss);
      if (it % static_cast<std::size_t>(log_interval) == 0) {
        auto bm = meter->clone_empty();
        bm->update(logits, batch->target, loss);
        log_info(fmt::format("[{}] batch {}/{} {}", tag, it + 1, nb, bm->summary()));
      }
    }
    if (rows) {
      if (!scores.defined()) scores = task.scores(logits);                  // [N, C]
      const torch::Tensor top = metrics::ranked_classes(scores, topk);      // [N, k]
      const torch::Tensor top_scores = scores.gather(1, top).contiguous();  // [N, k]
      const auto top_a = top.accessor<int64_t, 2>();
      const auto score_a = top_scores.accessor<float, 2>();
      const torch::Tensor target = batch->target.contiguous();
      for (int64_t i = 0; i < batch->size(); ++i) {
        const auto u = static_cast<std::size_t>(i);
        EvalRow r;
        r.id = batch->ids[u];
        r.source = batch->sources[u];
        r.line_no = batch->line_nos[u];
        r.labelled = batch->labelled[u];
        r.views = batch->views;
        if (r.labelled) {
          if (batch->target_kind == data::TargetKind::kClass) {
            r.labels.push_back(target.accessor<int64_t, 1>()[i]);
          } else {
            const auto t = target.accessor<float, 2>()[i];
            for (int64_t c = 0; c < t.size(0); ++c)
              if (t[c] > 0.5f) r.labels.push_back(c);
          }
        }
        for (int64_t j = 0; j < top.size(1); ++j) {
          r.classes.push_back(top_a[i][j]);
          r.scores.push_back(score_a[i][j]);
        }
        rows->push_back(std::move(r));
      }
    }
    ++it;
    progress(
        fmt::format("[{}] {}/{} batches, {}", tag, it, nb,
                    format_duration(std::chrono::duration<double>(Clock::now() - t0).count())));
  }
  progress_done();
}

}  // namespace vc::app
