// Single-label classification metrics for the Kinetics networks (TSN, TSM, StNet, Non-local):
// loss, top-1 / top-5 accuracy, mean class accuracy and the confusion matrix.
// Reference: PaddleCV/video metrics/kinetics/accuracy_metrics.py (top-k in percent, batch-size
// weighted means) and mmaction2 `mean_class_accuracy` (per-class recall averaged over classes).
#pragma once

#include <cstdint>
#include <vector>

namespace at {
class Tensor;
}

namespace vc::metrics {

/// Number of samples of a batch whose label is among the k highest scores.
/// scores: [N, C] (logits or probabilities), labels: int64 [N].
int64_t count_topk_correct(const at::Tensor& scores, const at::Tensor& labels, int64_t k);

/// Accumulates loss and accuracy over an evaluation or an epoch.
class ClassificationMeter {
 public:
  explicit ClassificationMeter(int64_t num_classes);

  /// scores: [N, C]; labels: int64 [N] in [0, C); mean_loss: the batch's mean loss.
  void update(const at::Tensor& scores, const at::Tensor& labels, double mean_loss);
  void reset();

  int64_t count() const { return count_; }
  int64_t num_classes() const { return num_classes_; }
  /// Means weighted by batch size, accuracies in percent (as the original).
  double loss() const;
  double top1() const;
  double top5() const;
  /// Mean over classes that have at least one sample of (correct top-1 / samples), percent.
  double mean_class_accuracy() const;
  /// Row-major [C, C]: row = true class, column = top-1 prediction.
  const std::vector<int64_t>& confusion() const { return confusion_; }

 private:
  int64_t num_classes_;
  int64_t count_ = 0;
  int64_t correct1_ = 0;
  int64_t correct5_ = 0;
  double loss_sum_ = 0.0;
  std::vector<int64_t> confusion_;
};

}  // namespace vc::metrics
