// The interface of every metric accumulator: the run loops update a Meter per batch and print
// its named values; the task in the registry row says which Meter a network uses and which of
// its values is primary ("best" checkpoints follow it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace at {
class Tensor;
}

namespace vc::metrics {

class Meter {
 public:
  virtual ~Meter() = default;
  /// logits: [N, C] raw network outputs; target: as collated (int64 [N] class indices or
  /// float32 [N, C] multi-hot); mean_loss: the batch's mean loss.
  virtual void update(const at::Tensor& logits, const at::Tensor& target, double mean_loss) = 0;
  virtual void reset() = 0;
  /// Samples accumulated.
  virtual int64_t count() const = 0;
  /// Named values in display order, e.g. {{"loss", 0.3}, {"top1", 91.7}, ...}.
  virtual std::vector<std::pair<std::string, double>> values() const = 0;
  /// Name of the primary metric among values(); higher is better.
  virtual std::string primary() const = 0;
  /// Extra result files as (file name, content), e.g. ("confusion_matrix.csv", ...).
  /// `class_names` may be empty (indices are printed).
  virtual std::vector<std::pair<std::string, std::string>> reports(
      const std::vector<std::string>& class_names) const {
    return {};
  }
  /// A new, empty meter of the same kind and size (for per-batch log lines).
  virtual std::unique_ptr<Meter> clone_empty() const = 0;

  /// values()[name]; throws std::out_of_range naming it.
  double value(const std::string& name) const;
  /// "loss 0.123456 top1 50.00 top5 75.00 ..." (loss with 6 decimals, others 2).
  std::string summary() const;
};

}  // namespace vc::metrics
