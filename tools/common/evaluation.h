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

/// The result of one sample.
struct EvalRow {
  std::string id;
  std::string source;
  std::size_t line_no = 0;
  bool labelled = false;
  std::vector<int64_t> labels;   ///< the class (single-label) or the positive classes
  std::vector<int64_t> classes;  ///< top classes, best first (ties: lower index first)
  std::vector<float> scores;     ///< their scores (task.scores of the logits)
};

/// Runs `model` (eval mode) over every batch of `loader` (epoch 0). When `meter` is given, every
/// labelled batch updates it with task.loss; when `rows` is given, each sample's top `topk`
/// classes are appended. Logs a line per `log_interval` batches tagged `tag`.
void evaluate(models::VideoModelImpl& model, data::Loader& loader, const torch::Device& device,
              const Task& task, metrics::Meter* meter, std::vector<EvalRow>* rows, int64_t topk,
              int64_t log_interval, const std::string& tag);

}  // namespace vc::app
