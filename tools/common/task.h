// The task of a network: its loss, how logits become scores, its metric meter and how many
// classes its result rows list. Part of each registry row; the run loops only call these.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "datareader/dataset.h"
#include "metrics/meter.h"
#include "tools/common/config.h"

namespace vc::app {

struct Task {
  /// The target the loss expects (and the datasets produce).
  data::TargetKind target = data::TargetKind::kClass;
  std::string loss_name;  ///< for logs: "softmax cross-entropy", ...
  /// logits [N, C], target as collated -> scalar mean loss (or the sum, see loss_sums_batch).
  std::function<torch::Tensor(const torch::Tensor& logits, const torch::Tensor& target)> loss;
  /// True when `loss` is a sum over the batch rather than a mean (Attention LSTM, spec §6.2):
  /// data-parallel workers then add their gradients instead of averaging them, so N workers
  /// with B/N samples each step exactly as one process with B.
  bool loss_sums_batch = false;
  std::string score_name;  ///< "softmax" / "sigmoid"
  /// logits [N, C] -> scores [N, C] (probabilities written to results).
  std::function<torch::Tensor(const torch::Tensor& logits)> scores;
  /// The inverse of `scores` for multi-view evaluation: scores [N, C] (a video's views' scores
  /// averaged) -> logits [N, C] whose `scores` are those scores (softmax: log p, clamped at
  /// FLT_MIN; sigmoid: log(p / (1 - p)), p clamped inside (0, 1)). The loss and the meter then
  /// read these logits, so they rank and score exactly the averaged probabilities. Empty: the
  /// task cannot evaluate multi-view batches (evaluate() says so).
  std::function<torch::Tensor(const torch::Tensor& scores)> logits_of_scores;
  /// A fresh meter for an epoch or an evaluation.
  std::function<std::unique_ptr<metrics::Meter>(const Config&)> make_meter;
  /// Classes listed per sample in test results (infer uses --infer-topk).
  int64_t result_topk = 5;
};

/// Softmax cross-entropy with hard labels, mean over the batch (Fluid softmax +
/// cross_entropy, spec §1.11). target: int64 [N].
torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target);
/// Sigmoid cross-entropy max(x,0) - x*z + log(1+exp(-|x|)) (spec §1.11), summed over classes,
/// mean over the batch (the YouTube-8M networks). target: float [N, C] multi-hot.
torch::Tensor sigmoid_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target);

/// Single-label classification: softmax cross-entropy, softmax scores, ClassificationMeter
/// (top1 / top5 / mean class accuracy, confusion matrix up to 1000 classes), top-5 rows.
Task single_label_task();
/// Multi-label classification: sigmoid cross-entropy, sigmoid scores, the given meter, top-20
/// rows.
Task multi_label_task(std::function<std::unique_ptr<metrics::Meter>(const Config&)> make_meter);

}  // namespace vc::app
