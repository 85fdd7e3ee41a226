#include "tools/common/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "metrics/classification.h"
#include "tools/common/logging.h"

namespace vc::app {

void evaluate(models::VideoModelImpl& model, data::Loader& loader, const torch::Device& device,
              const Task& task, metrics::Meter* meter, std::vector<EvalRow>* rows, int64_t topk,
              int64_t log_interval, const std::string& tag) {
  using Clock = std::chrono::steady_clock;
  torch::NoGradGuard no_grad;
  model.eval();
  loader.start_epoch(0);
  const std::size_t nb = loader.batches_per_epoch();
  std::size_t it = 0;
  const auto t0 = Clock::now();
  while (auto batch = loader.next()) {
    const models::ModelInput input = models::ModelInput(batch->inputs).to(device);
    const torch::Tensor logits = model.forward(input).to(torch::kCPU);  // [N, C]
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
      const torch::Tensor scores = task.scores(logits);                     // [N, C]
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
