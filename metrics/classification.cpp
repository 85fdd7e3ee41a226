#include "metrics/classification.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace vc::metrics {

int64_t count_topk_correct(const at::Tensor& scores, const at::Tensor& labels, int64_t k) {
  TORCH_CHECK(scores.dim() == 2, "count_topk_correct: scores must be [N, C], got ", scores.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == scores.size(0),
              "count_topk_correct: labels must be [N] with N = ", scores.size(0), ", got ",
              labels.sizes());
  if (scores.size(0) == 0) return 0;
  k = std::min<int64_t>(k, scores.size(1));
  auto topk = std::get<1>(scores.detach().to(torch::kCPU).topk(k, /*dim=*/1));  // [N, k]
  auto hit = topk.eq(labels.to(torch::kCPU).to(torch::kLong).unsqueeze(1));     // [N, k]
  return hit.any(/*dim=*/1).sum().item<int64_t>();
}

ClassificationMeter::ClassificationMeter(int64_t num_classes)
    : num_classes_(num_classes), confusion_(static_cast<size_t>(num_classes * num_classes), 0) {
  TORCH_CHECK(num_classes > 0, "ClassificationMeter: num_classes must be > 0, got ", num_classes);
}

void ClassificationMeter::update(const at::Tensor& scores, const at::Tensor& labels,
                                 double mean_loss) {
  TORCH_CHECK(scores.dim() == 2 && scores.size(1) == num_classes_,
              "ClassificationMeter: scores must be [N, ", num_classes_, "], got ", scores.sizes());
  const int64_t n = scores.size(0);
  if (n == 0) return;
  auto cpu_labels = labels.to(torch::kCPU).to(torch::kLong).contiguous();
  auto pred = scores.detach().to(torch::kCPU).argmax(/*dim=*/1).contiguous();  // [N]
  const int64_t* l = cpu_labels.data_ptr<int64_t>();
  const int64_t* p = pred.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(l[i] >= 0 && l[i] < num_classes_, "ClassificationMeter: label ", l[i],
                " out of range [0, ", num_classes_, ")");
    ++confusion_[static_cast<size_t>(l[i] * num_classes_ + p[i])];
  }
  correct1_ += count_topk_correct(scores, cpu_labels, 1);
  correct5_ += count_topk_correct(scores, cpu_labels, 5);
  loss_sum_ += mean_loss * static_cast<double>(n);
  count_ += n;
}

void ClassificationMeter::reset() {
  count_ = correct1_ = correct5_ = 0;
  loss_sum_ = 0.0;
  std::fill(confusion_.begin(), confusion_.end(), 0);
}

double ClassificationMeter::loss() const { return count_ ? loss_sum_ / count_ : 0.0; }
double ClassificationMeter::top1() const { return count_ ? 100.0 * correct1_ / count_ : 0.0; }
double ClassificationMeter::top5() const { return count_ ? 100.0 * correct5_ / count_ : 0.0; }

double ClassificationMeter::mean_class_accuracy() const {
  double sum = 0.0;
  int64_t classes = 0;
  for (int64_t c = 0; c < num_classes_; ++c) {
    int64_t total = 0;
    for (int64_t j = 0; j < num_classes_; ++j) total += confusion_[c * num_classes_ + j];
    if (total == 0) continue;
    sum += static_cast<double>(confusion_[c * num_classes_ + c]) / total;
    ++classes;
  }
  return classes ? 100.0 * sum / classes : 0.0;
}

}  // namespace vc::metrics
