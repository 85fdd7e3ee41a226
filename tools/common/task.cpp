#include "tools/common/task.h"

#include <cmath>
#include <limits>

#include "metrics/classification.h"

namespace vc::app {

torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target) {
  return torch::nn::functional::cross_entropy(logits, target);  // mean over N
}

torch::Tensor sigmoid_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target) {
  // [N, C] element-wise, numerically stable form of Fluid's op.
  torch::Tensor l =
      torch::clamp_min(logits, 0) - logits * target + torch::log1p(torch::exp(-torch::abs(logits)));
  return l.sum(1).mean();  // sum over classes, mean over the batch
}

Task single_label_task() {
  Task t;
  t.target = data::TargetKind::kClass;
  t.loss_name = "softmax cross-entropy";
  t.loss = softmax_cross_entropy;
  t.score_name = "softmax";
  t.scores = [](const torch::Tensor& logits) { return torch::softmax(logits, /*dim=*/1); };
  // softmax(log p) = p for p summing to 1 (a mean of softmaxes does).
  t.logits_of_scores = [](const torch::Tensor& p) {
    return torch::log(torch::clamp_min(p, std::numeric_limits<float>::min()));
  };
  t.make_meter = [](const Config& cfg) -> std::unique_ptr<metrics::Meter> {
    return std::make_unique<metrics::ClassificationMeter>(cfg.model.i("num_classes"));
  };
  t.result_topk = 5;
  return t;
}

Task multi_label_task(std::function<std::unique_ptr<metrics::Meter>(const Config&)> make_meter) {
  Task t;
  t.target = data::TargetKind::kMultiHot;
  t.loss_name = "sigmoid cross-entropy";
  t.loss = sigmoid_cross_entropy;
  t.score_name = "sigmoid";
  t.scores = [](const torch::Tensor& logits) { return torch::sigmoid(logits); };
  t.logits_of_scores = [](const torch::Tensor& p) {
    const torch::Tensor q =
        torch::clamp(p, std::numeric_limits<float>::min(), std::nextafter(1.0f, 0.0f));
    return torch::log(q) - torch::log1p(-q);  // sigmoid's inverse
  };
  t.make_meter = std::move(make_meter);
  t.result_topk = 20;
  return t;
}

}  // namespace vc::app
