// One pass of a model over a loader without gradients: metrics (when targets are present) and
// the ranked classes of every sample, for test, infer and validation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "datareader/loader.h"
#include "metrics/meter.h"
#include "models/video_model.h"
#include "tools/common/task.h"

namespace vc::app {

/// How evaluate() treats multi-view batches (data::Batch::views > 1: inputs [N*V, ...], rows
/// i*V .. i*V+V-1 the views of sample i). docs/core.md "Multi-view evaluation".
struct ViewOptions {
  /// At most this many rows (views) per forward pass; 0 = the whole batch at once. The run
  /// loops pass the section's batch_size, so a forward pass never holds more clips than a
  /// single-view batch.
  int64_t max_rows = 0;
  /// Per-sample scores: the sum of the views' task.scores (the original Non-local) instead of
  /// their mean. The ranking is the same; the loss and the meter always read the mean.
  bool sum = false;
};

/// ViewOptions of a mode's section: max_rows = batch_size, sum = (view_scores == "sum").
ViewOptions view_options(const SectionConfig& s);

/// "1 view per sample" for single-view datasets, else e.g.
/// "views 10x3 (clips x crops), scores mean of softmax".
std::string views_summary(const data::ViewInfo& info, const Task& task, const ViewOptions& opts);

/// Per-sample results of a batch's logits.
struct ViewScores {
  torch::Tensor scores;  ///< [N, C] task.scores per view, then the mean (or sum) over the views
  /// [N, C] what the loss and the meter read: the logits themselves for one view, else
  /// task.logits_of_scores(mean of the views' scores).
  torch::Tensor logits;
};

/// logits [N*V, C] (sample-major) -> per-sample scores and logits (ViewScores). V = 1 gives
/// task.scores(logits) and the logits unchanged. Throws std::invalid_argument when the rows are
/// not a multiple of V, or when V > 1 and the task has no logits_of_scores.
ViewScores aggregate_views(const Task& task, const torch::Tensor& logits, int64_t views, bool sum);

/// The result of one sample.
struct EvalRow {
  std::string id;
  std::string source;
  std::size_t line_no = 0;
  bool labelled = false;
  std::vector<int64_t> labels;   ///< the class (single-label) or the positive classes
  std::vector<int64_t> classes;  ///< top classes, best first (ties: lower index first)
  std::vector<float> scores;     ///< their scores (task.scores of the logits; per-view mean or sum)
  int64_t views = 1;             ///< views the scores aggregate
};

/// What test / infer report after the pass: `summary` (views_summary of the dataset's
/// view_info()) when `info` agrees with the views the rows carried, else (a reader that does not
/// describe its views) the summary of the rows' view count, with a warning tagged `tag`.
std::string views_done(const std::string& summary, const data::ViewInfo& info,
                       const std::vector<EvalRow>& rows, const Task& task,
                       const ViewOptions& view_opts, const std::string& tag);

/// Runs `model` (eval mode) over every batch of `loader` (epoch 0). When `meter` is given, every
/// labelled batch updates it with task.loss; when `rows` is given, each sample's top `topk`
/// classes are appended. Logs a line per `log_interval` batches tagged `tag`. Multi-view
/// batches are forwarded in chunks of at most views.max_rows rows and aggregated per sample
/// (aggregate_views); single-view batches are forwarded whole, as always.
void evaluate(models::VideoModelImpl& model, data::Loader& loader, const torch::Device& device,
              const Task& task, metrics::Meter* meter, std::vector<EvalRow>* rows, int64_t topk,
              int64_t log_interval, const std::string& tag, const ViewOptions& views = {});

}  // namespace vc::app
