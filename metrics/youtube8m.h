// YouTube-8M metrics (spec §4.1), as the YouTube-8M starter code defines them: Hit@1, PERR,
// GAP over the pooled top-20 predictions of the whole split (normalised by every positive label,
// including those outside any top-20), and per-class AP / mAP over the same sparse predictions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "metrics/meter.h"

namespace vc::metrics {

/// Accumulates over an evaluation or an epoch. update() takes logits [N, C] (scores are
/// sigmoid(logits)) and multi-hot float targets [N, C]. values(): loss, hit_at_one, perr, gap,
/// map; primary: gap. reports(): the per-class APs (class_aps.csv).
class Youtube8mMeter : public Meter {
 public:
  explicit Youtube8mMeter(int64_t num_classes, int64_t top_k = 20);
  ~Youtube8mMeter() override;

  void update(const at::Tensor& logits, const at::Tensor& target, double mean_loss) override;
  void reset() override;
  int64_t count() const override;
  std::vector<std::pair<std::string, double>> values() const override;
  std::string primary() const override { return "gap"; }
  std::vector<std::pair<std::string, std::string>> reports(
      const std::vector<std::string>& class_names) const override;
  std::unique_ptr<Meter> clone_empty() const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
  int64_t num_classes_;
  int64_t top_k_;
};

}  // namespace vc::metrics
