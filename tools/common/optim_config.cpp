#include "tools/common/optim_config.h"

#include <cmath>

#include "tools/common/errors.h"

namespace vc::app {

OptimizerOptions optimizer_options(const SectionConfig& t) {
  OptimizerOptions o;
  o.type = t.s("optimizer");
  o.l2_weight_decay = t.f("l2_weight_decay");
  o.momentum = t.f("momentum");
  o.nesterov = t.b("nesterov");
  o.beta1 = t.f("adam_beta1");
  o.beta2 = t.f("adam_beta2");
  o.epsilon = t.f("adam_epsilon");
  o.rho = t.f("rmsprop_rho");
  o.rms_epsilon = t.f("rmsprop_epsilon");
  o.rms_momentum = t.f("rmsprop_momentum");
  o.centered = t.b("rmsprop_centered");
  return o;
}

int64_t lr_iterations_per_epoch(const SectionConfig& t, int64_t train_list_size) {
  // Attention LSTM (spec §6.2): num_samples / batch_size with Python 2 integer division.
  if (t.i("num_samples") > 0) return t.i("num_samples") / t.i("batch_size");
  const int64_t total = t.i("total_videos") > 0 ? t.i("total_videos") : train_list_size;
  // Python: int(total_videos / batch_size + 1) with true division.
  return static_cast<int64_t>(static_cast<double>(total) / static_cast<double>(t.i("batch_size")) +
                              1.0);
}

LrScheduleOptions lr_schedule_options(const SectionConfig& t, int64_t train_list_size) {
  const int64_t step = lr_iterations_per_epoch(t, train_list_size);
  const std::string& policy = t.s("lr_policy");
  LrScheduleOptions o;
  o.base_lr = t.f("learning_rate");
  o.decay = t.f("learning_rate_decay");
  if (policy == "piecewise_epoch") {
    o.policy = "piecewise";
    const auto& epochs = t.ints("decay_epochs");
    if (!epochs.empty()) {
      o.boundaries = epochs_to_iterations(epochs, step);
    } else {
      // tsn.py: bd = [epoch / 3 * step, 2 * epoch / 3 * step] (integer epochs, Python 2 division).
      const int64_t e = t.i("epoch");
      o.boundaries = {e / 3 * step, 2 * e / 3 * step};
    }
  } else if (policy == "piecewise_iter") {
    o.policy = "piecewise";
    o.boundaries = t.ints("decay_iterations");
  } else if (policy == "exponential") {
    o.policy = "exponential";
    o.decay_steps = t.i("decay_steps") > 0 ? t.i("decay_steps") : step;
    // NeXtVLAD's rule (spec §6.3): decay_step = lr_boundary_examples // batch_size.
    if (t.i("decay_examples") > 0) o.decay_steps = t.i("decay_examples") / t.i("batch_size");
    o.staircase = true;
    const int64_t max_iter = t.i("decay_max_iterations");
    if (max_iter > 0 && o.decay_steps > 0) {
      // The original's piecewise_decay: boundaries decay_steps * i for i = 1.. while < max_iter,
      // values base_lr * decay^i (the same staircase, stopped at max_iter).
      if (max_iter / o.decay_steps > 1000000) {
        throw ConfigError("TRAIN.decay_max_iterations " + std::to_string(max_iter) + " / " +
                          std::to_string(o.decay_steps) +
                          " iterations per decay gives more than 1000000 LR boundaries");
      }
      o.policy = "piecewise";
      for (int64_t b = o.decay_steps; b < max_iter; b += o.decay_steps) o.boundaries.push_back(b);
    }
  } else {
    o.policy = "constant";
  }
  o.warmup_steps =
      static_cast<int64_t>(std::llround(t.f("warmup_epochs") * static_cast<double>(step)));
  o.warmup_start_factor = t.f("warmup_start_factor");
  return o;
}

}  // namespace vc::app
