#include "metrics/classification.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace vc::metrics {

at::Tensor ranked_classes(const at::Tensor& scores, int64_t k) {
  TORCH_CHECK(scores.dim() == 2, "ranked_classes: scores must be [N, C], got ", scores.sizes());
  k = std::min<int64_t>(k, scores.size(1));
  auto order = std::get<1>(
      scores.detach().to(torch::kCPU).sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
  return order.narrow(1, 0, k).contiguous();  // [N, k]
}

int64_t count_topk_correct(const at::Tensor& scores, const at::Tensor& labels, int64_t k) {
  TORCH_CHECK(scores.dim() == 2, "count_topk_correct: scores must be [N, C], got ", scores.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == scores.size(0),
              "count_topk_correct: labels must be [N] with N = ", scores.size(0), ", got ",
              labels.sizes());
  if (scores.size(0) == 0) return 0;
  auto topk = ranked_classes(scores, k);                                     // [N, k]
  auto hit = topk.eq(labels.to(torch::kCPU).to(torch::kLong).unsqueeze(1));  // [N, k]
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
  auto top = ranked_classes(scores, 5);  // [N, min(5, C)], column 0 = top-1 prediction
  const int64_t k = top.size(1);
  const int64_t* l = cpu_labels.data_ptr<int64_t>();
  const int64_t* p = top.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(l[i] >= 0 && l[i] < num_classes_, "ClassificationMeter: label ", l[i],
                " out of range [0, ", num_classes_, ")");
    const int64_t* row = p + i * k;
    ++confusion_[static_cast<size_t>(l[i] * num_classes_ + row[0])];
    if (row[0] == l[i]) ++correct1_;
    if (std::find(row, row + k, l[i]) != row + k) ++correct5_;
  }
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

namespace vc::metrics {

std::vector<std::pair<std::string, double>> ClassificationMeter::values() const {
  return {{"loss", loss()},
          {"top1", top1()},
          {"top5", top5()},
          {"mean_class_acc", mean_class_accuracy()}};
}

std::unique_ptr<Meter> ClassificationMeter::clone_empty() const {
  return std::make_unique<ClassificationMeter>(num_classes_);
}

namespace {
std::string csv_field(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
}  // namespace

std::vector<std::pair<std::string, std::string>> ClassificationMeter::reports(
    const std::vector<std::string>& names) const {
  if (num_classes_ > kMaxConfusionClasses) return {};
  auto name = [&](int64_t i) {
    return i < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(i)]
                                                  : std::to_string(i);
  };
  std::string cm = "true\\pred";
  for (int64_t j = 0; j < num_classes_; ++j) cm += "," + csv_field(name(j));
  cm += "\n";
  for (int64_t i = 0; i < num_classes_; ++i) {
    cm += csv_field(name(i));
    for (int64_t j = 0; j < num_classes_; ++j) {
      cm += "," + std::to_string(confusion_[static_cast<size_t>(i * num_classes_ + j)]);
    }
    cm += "\n";
  }
  return {{"confusion_matrix.csv", cm}};
}

}  // namespace vc::metrics
