// Single-label classification metrics for the Kinetics networks (TSN, TSM, StNet, Non-local):
// loss, top-1 / top-5 accuracy, mean class accuracy and the confusion matrix.
// Reference: PaddleCV/video metrics/kinetics/accuracy_metrics.py (top-k in percent, batch-size
// weighted means) and mmaction2 `mean_class_accuracy` (per-class recall averaged over classes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "metrics/meter.h"

namespace vc::metrics {

/// Classes of each row ranked by score, highest first; ties go to the lower class index (a
/// stable sort), the rule shared by top-k, top-1 and the confusion matrix. scores: [N, C] ->
/// int64 [N, min(k, C)].
at::Tensor ranked_classes(const at::Tensor& scores, int64_t k);

/// Number of samples of a batch whose label is among the k highest scores (ties: lower index
/// first). scores: [N, C] (logits or probabilities), labels: int64 [N].
int64_t count_topk_correct(const at::Tensor& scores, const at::Tensor& labels, int64_t k);

/// Accumulates loss and accuracy over an evaluation or an epoch. values(): loss, top1, top5,
/// mean_class_acc; primary: top1; reports(): confusion_matrix.csv when num_classes <= 1000.
class ClassificationMeter : public Meter {
 public:
  /// Classes above which the confusion matrix is not written (1000 x 1000 cells at most).
  static constexpr int64_t kMaxConfusionClasses = 1000;

  explicit ClassificationMeter(int64_t num_classes);

  /// scores: [N, C]; labels: int64 [N] in [0, C); mean_loss: the batch's mean loss.
  void update(const at::Tensor& scores, const at::Tensor& labels, double mean_loss) override;
  void reset() override;
  int64_t count() const override { return count_; }
  std::vector<std::pair<std::string, double>> values() const override;
  std::string primary() const override { return "top1"; }
  std::vector<std::pair<std::string, std::string>> reports(
      const std::vector<std::string>& class_names) const override;
  std::unique_ptr<Meter> clone_empty() const override;

  int64_t num_classes() const { return num_classes_; }
  /// Means weighted by batch size, accuracies in percent (as the original).
  double loss() const;
  double top1() const;
  double top5() const;
  /// Mean over classes that have at least one sample of (correct top-1 / samples), percent.
  double mean_class_accuracy() const;
  /// Row-major [C, C]: row = true class, column = top-1 prediction (same tie rule as top1).
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
