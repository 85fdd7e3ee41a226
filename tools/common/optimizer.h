// SGD with momentum and L2 decay exactly as Fluid's Momentum optimizer + L2Decay regularizer
// (spec §1.6-1.8), and the piecewise-constant LR schedule of the original with optional warmup.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tools/common/config.h"

namespace vc::app {

/// g' = g + weight_decay * p;  v = momentum * v + g';  p -= lr * v   (Nesterov: p -= lr*(g' +
/// m*v)). Same update as torch.optim.SGD(dampening=0); state is kept by parameter name so that it
/// can be checkpointed and inspected from Python.
class MomentumSgd {
 public:
  MomentumSgd(std::vector<std::pair<std::string, torch::Tensor>> named_params, double momentum,
              double weight_decay, bool nesterov = false);
  void zero_grad();
  void step(double lr);
  /// Velocity buffers by parameter name (only parameters that have had a gradient).
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  /// Restores velocities; throws if a name is unknown or a shape differs.
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state,
                  const std::string& source);

 private:
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<torch::Tensor> velocity_;  // undefined until first step
  double momentum_, weight_decay_;
  bool nesterov_;
};

/// LR as a function of the global iteration (0-based).
struct LrSchedule {
  std::vector<int64_t> boundaries;  ///< iteration boundaries, ascending
  std::vector<double> values;       ///< boundaries.size() + 1 values
  int64_t warmup_steps = 0;         ///< linear warmup from values[0]*warmup_start_factor
  double warmup_start_factor = 1.0;
  double at(int64_t step) const;
};

/// The original's rule (spec §6.5): step = int(total_videos / batch_size + 1) iterations per epoch
/// (total_videos = TRAIN.total_videos, or `train_list_size` when 0); boundaries at
/// decay_epochs * step, or at [epoch/3 * step, 2*epoch/3 * step] when decay_epochs is empty;
/// values lr * decay^i.
LrSchedule make_lr_schedule(const SectionConfig& train, int64_t train_list_size);

}  // namespace vc::app
