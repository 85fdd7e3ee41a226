// The optimizers and learning-rate schedules of the original (spec §1.6-1.8, §6.1-6.8), exactly as
// Fluid 1.4/1.5 computes them: Momentum (plain / Nesterov), Adam, RMSProp (plain / centered), each
// with Fluid's L2Decay regularizer and per-parameter-group LR multipliers and decay overrides
// (ParamAttr(learning_rate=m, regularizer=L2Decay(c))), and the piecewise / exponential / constant
// LR policies with an optional linear warmup.
//
// This header takes plain structs only (no config, no YAML): the registry row of a network builds
// the ParamGroups and OptimizerOptions, the run loop asks the LrSchedule for the LR of each
// iteration and passes it to Optimizer::step().
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vc::app {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// One parameter group: a per-group LR multiplier and weight decay, i.e. Fluid's
/// ParamAttr(learning_rate=lr_mult, regularizer=L2Decay(weight_decay)).
struct ParamGroup {
  std::string name;      ///< for logs and errors, e.g. "default", "fc_bias", "bn"
  NamedTensors params;   ///< (parameter name, tensor); names are unique across all groups
  double lr_mult = 1.0;  ///< this group's LR = schedule LR * lr_mult
  /// L2 coefficient c (g += c * p before the update). nullopt = the optimizer's global
  /// l2_weight_decay (Fluid: no regularizer in the ParamAttr); 0 = no decay (L2Decay(0)).
  std::optional<double> weight_decay;
};

struct OptimizerOptions {
  std::string type = "momentum";  ///< "momentum" | "adam" | "rmsprop"
  /// Global L2Decay coefficient (optimizer-level `regularization=`): g += c * p before the update,
  /// for every group whose weight_decay is nullopt (spec §1.6).
  double l2_weight_decay = 0.0;
  // momentum
  double momentum = 0.9;  ///< mu
  bool nesterov = false;  ///< Fluid use_nesterov (momentum only)
  // adam (Fluid AdamOptimizer defaults)
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  // rmsprop (Fluid RMSPropOptimizer python defaults; centered as the Attention LSTM uses it)
  double rho = 0.95, rms_epsilon = 1e-6, rms_momentum = 0.0;
  bool centered = true;
};

/// slot name -> (parameter name -> tensor), in parameter order. Slots are Fluid's accumulator
/// names (the variable is `<param>_<slot>_0` in a Fluid checkpoint, spec §1.7):
///   momentum: "velocity"
///   adam:     "moment1", "moment2", "beta1_pow_acc", "beta2_pow_acc" (the pow accumulators are
///             per parameter, shape [1], and hold beta^t for the *next* step: beta after 0 steps)
///   rmsprop:  "momentum", "mean_square", and "mean_grad" when centered
/// A parameter appears in a slot only once it has been updated (had a gradient) or was loaded.
using OptimizerState = std::map<std::string, NamedTensors>;

/// A first-order optimizer over parameter groups. All updates run under NoGradGuard, in place, in
/// the parameter's own dtype and on its device. A parameter whose grad is undefined is skipped and
/// gets no state (in Fluid such a parameter has no gradient op at all).
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// Zeroes (and detaches) every defined gradient; undefined ones stay undefined.
  virtual void zero_grad();
  /// One update. `lr` is the schedule's value; each group uses lr * lr_mult. Throws
  /// std::invalid_argument when lr is negative or not finite.
  virtual void step(double lr) = 0;
  /// The live state tensors (not copies: clone them to keep a snapshot across later steps).
  virtual OptimizerState state() const = 0;
  /// Replaces the whole state with `s` (parameters absent from `s` start fresh), copying the
  /// tensors to each parameter's device and dtype. Everything is checked before anything changes;
  /// throws std::runtime_error naming `source`, the slot, the parameter and expected vs got shape
  /// on: an unknown slot, an unknown parameter, a wrong shape, or a parameter present in some
  /// slots of this optimizer but not in all.
  virtual void load_state(const OptimizerState& s, const std::string& source) = 0;
  /// One log line: type, hyper-parameters, and each group with its tensor / value counts, lr_mult
  /// and effective decay.
  virtual std::string describe() const = 0;

  const OptimizerOptions& options() const { return options_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }

 protected:
  Optimizer(OptimizerOptions options, std::vector<ParamGroup> groups)
      : options_(std::move(options)), groups_(std::move(groups)) {}
  OptimizerOptions options_;
  std::vector<ParamGroup> groups_;
};

/// Builds the optimizer named by options.type. Throws std::invalid_argument (naming the field and
/// value) on: an unknown type; a negative or non-finite hyper-parameter; beta1/beta2/rho outside
/// [0, 1); epsilon <= 0 (rms_epsilon) or < 0 (adam); nesterov with a type other than momentum; a
/// group with a negative / non-finite lr_mult or weight_decay; an undefined tensor; a parameter
/// name or tensor that appears twice (in one group or across groups).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options,
                                          std::vector<ParamGroup> groups);

// ---------------------------------------------------------------------------------------------
// Learning-rate schedules

struct LrScheduleOptions {
  std::string policy = "piecewise";  ///< "constant" | "piecewise" | "exponential"
  double base_lr = 0.01;
  /// piecewise: ITERATION boundaries, strictly ascending, >= 0 (callers convert epochs with
  /// epochs_to_iterations). LR = values[i] for the first i with step < boundaries[i], else the
  /// last value (Fluid piecewise_decay, spec §1.8): step == boundary already takes the next value.
  std::vector<int64_t> boundaries;
  /// piecewise: boundaries.size() + 1 values; empty = base_lr * decay^i, i = 0..boundaries.size().
  std::vector<double> values;
  /// piecewise: the factor when values is empty; exponential: the decay rate.
  double decay = 0.1;
  /// exponential (Fluid exponential_decay): lr = base_lr * decay^floor(step / decay_steps) when
  /// staircase, else base_lr * decay^(step / decay_steps) (real division).
  int64_t decay_steps = 1;
  bool staircase = true;
  /// Linear warmup over iterations [0, warmup_steps): with target = the policy's value at
  /// iteration warmup_steps and start = base_lr * warmup_start_factor,
  ///   lr(step) = start + (target - start) * step / warmup_steps   for step < warmup_steps,
  /// and the policy's value from warmup_steps on (so lr(0) = start and the curve is continuous).
  /// 0 = no warmup.
  int64_t warmup_steps = 0;
  double warmup_start_factor = 0.1;
};

/// LR as a function of the 0-based global iteration (Fluid's @LR_DECAY_COUNTER@ before it is
/// incremented: the first iteration is step 0).
class LrSchedule {
 public:
  /// Validates and keeps the options; throws std::invalid_argument naming the field and value
  /// (unknown policy, negative / non-finite base_lr or values, decay <= 0, decay_steps < 1,
  /// boundaries not strictly ascending or negative, values.size() != boundaries.size() + 1,
  /// boundaries/values given to a policy other than piecewise, negative warmup).
  explicit LrSchedule(LrScheduleOptions options);
  /// Throws std::invalid_argument for a negative step.
  double at(int64_t global_step) const;
  /// One log line, e.g. "lr piecewise: 0.01 until iteration 13170, 0.001 until 26340, then 0.0001".
  std::string describe() const;
  const LrScheduleOptions& options() const { return options_; }

 private:
  double scheduled(int64_t step) const;  // without warmup
  LrScheduleOptions options_;
};

// Helpers that reproduce the original's epoch/iteration arithmetic (each network's registry row
// picks the ones its original used).

/// epochs[i] * iters_per_epoch. Throws std::invalid_argument when iters_per_epoch < 1 or an epoch
/// is negative.
std::vector<int64_t> epochs_to_iterations(const std::vector<int64_t>& epochs,
                                          int64_t iters_per_epoch);

/// TSN / TSM / StNet (spec §6.5-6.7): step = int(total_videos / batch_size + 1), which for positive
/// integers is floor(total_videos / batch_size) + 1 (224684 / 256 -> 878). batch_size is the
/// global batch (before the per-GPU division).
int64_t iterations_per_epoch_plus_one(int64_t total_videos, int64_t batch_size);

/// Attention LSTM (spec §6.2): iter_per_epoch = num_samples / batch_size with Python 2 integer
/// division (5000000 / 1024 -> 4882), so decay epoch 5 -> boundary 24410.
int64_t iterations_per_epoch_floor(int64_t num_samples, int64_t batch_size);

/// TSN / StNet when no decay epochs are given (spec §6.5, §6.7): [epochs/3, 2*epochs/3] with
/// integer division (45 -> [15, 30]; 60 -> [20, 40]).
std::vector<int64_t> tsn_default_decay_epochs(int64_t epochs);

/// NeXtVLAD (spec §6.3, get_learning_rate_decay_list): boundaries i * interval for i = 1, 2, ...
/// while i * interval < max_iter, with interval = lr_boundary_examples // batch_size
/// (2000000 // 160 = 12500, max_iter 700000 -> 55 boundaries 12500 .. 687500). It is a piecewise
/// schedule (values base * decay^i), equal to a staircase exponential one below max_iter only.
std::vector<int64_t> boundaries_every(int64_t interval, int64_t max_iter);

/// Non-local (spec §6.8): boundaries are the cumulative sums of TRAIN.step_sizes
/// ([150000, 150000, 100000] -> [150000, 300000, 400000]).
std::vector<int64_t> cumulative_boundaries(const std::vector<int64_t>& step_sizes);

}  // namespace vc::app
