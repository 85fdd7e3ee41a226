#include "tools/common/optimizer.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace vc::app {

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string shape_str(const torch::Tensor& t) { return c10::str(t.sizes()); }

void require(bool ok, const std::string& field, double value, const std::string& rule) {
  if (!ok) {
    throw std::invalid_argument("optimizer: " + field + " = " + num(value) + " is invalid (" +
                                rule + ")");
  }
}

/// A parameter with its group and its per-slot state (undefined until the first update).
struct Entry {
  std::size_t group;
  std::string name;
  torch::Tensor param;
  std::vector<torch::Tensor> slots;
  bool has_state() const { return !slots.empty() && slots[0].defined(); }
};

/// The parts every Fluid optimizer shares: the flat parameter table, weight decay, LR
/// multipliers, state (de)serialisation by slot name, and the log line.
class FluidOptimizer : public Optimizer {
 public:
  FluidOptimizer(const OptimizerOptions& options, std::vector<ParamGroup> groups,
                 std::vector<std::string> slot_names)
      : Optimizer(options, std::move(groups)), slot_names_(std::move(slot_names)) {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      for (const auto& [name, p] : groups_[gi].params) {
        index_.emplace(name, entries_.size());
        entries_.push_back(Entry{gi, name, p, std::vector<torch::Tensor>(slot_names_.size())});
      }
    }
  }

  void step(double lr) override {
    if (!std::isfinite(lr) || lr < 0) {
      throw std::invalid_argument("optimizer step: learning rate " + num(lr) +
                                  " is negative or not finite");
    }
    RECORD_FUNCTION("videocls::optimizer_step", std::vector<c10::IValue>());
    torch::NoGradGuard no_grad;
    for (auto& e : entries_) {
      const torch::Tensor& grad = e.param.grad();
      if (!grad.defined()) continue;
      const ParamGroup& g = groups_[e.group];
      const double decay = g.weight_decay.value_or(options_.l2_weight_decay);
      if (!e.has_state()) init_state(e);
      if (fused_update(e, grad, decay, lr * g.lr_mult)) continue;
      // L2Decay (spec §1.6): a new gradient g + c * p; the stored .grad() is left untouched.
      torch::Tensor gd = decay != 0.0 ? grad.add(e.param, decay) : grad;
      update(e, gd, lr * g.lr_mult);
    }
  }

  OptimizerState state() const override {
    OptimizerState out;
    for (const auto& s : slot_names_) out[s];  // every slot listed, even when empty
    for (const auto& e : entries_) {
      if (!e.has_state()) continue;
      for (std::size_t k = 0; k < slot_names_.size(); ++k) {
        out[slot_names_[k]].emplace_back(e.name, e.slots[k]);
      }
    }
    return out;
  }

  void load_state(const OptimizerState& s, const std::string& source) override {
    const std::string where = source + ": " + options_.type + " optimizer state";
    // New slot tensors per entry, all checked before anything is replaced.
    std::vector<std::vector<torch::Tensor>> staged(entries_.size());
    for (const auto& [slot, tensors] : s) {
      const auto it = std::find(slot_names_.begin(), slot_names_.end(), slot);
      if (it == slot_names_.end()) {
        std::string known;
        for (const auto& n : slot_names_) known += (known.empty() ? "" : ", ") + n;
        throw std::runtime_error(where + ": unknown slot '" + slot +
                                 "' (this optimizer has: " + known + ")");
      }
      const std::size_t k = static_cast<std::size_t>(it - slot_names_.begin());
      for (const auto& [pname, t] : tensors) {
        const auto pit = index_.find(pname);
        if (pit == index_.end()) {
          throw std::runtime_error(where + ": slot '" + slot + "' names unknown parameter '" +
                                   pname + "'");
        }
        const Entry& e = entries_[pit->second];
        const std::vector<int64_t> expected = slot_shape(e, k);
        if (!t.defined() || t.sizes() != c10::IntArrayRef(expected)) {
          throw std::runtime_error(where + ": slot '" + slot + "', parameter '" + pname +
                                   "': expected shape " + c10::str(c10::IntArrayRef(expected)) +
                                   ", got " + (t.defined() ? shape_str(t) : "an undefined tensor"));
        }
        auto& st = staged[pit->second];
        if (st.empty()) st.resize(slot_names_.size());
        if (st[k].defined()) {
          throw std::runtime_error(where + ": slot '" + slot + "' lists parameter '" + pname +
                                   "' twice");
        }
        st[k] = t;
      }
    }
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (staged[i].empty()) continue;
      for (std::size_t k = 0; k < slot_names_.size(); ++k) {
        if (!staged[i][k].defined()) {
          throw std::runtime_error(where + ": parameter '" + entries_[i].name +
                                   "' has state in some slots but not in slot '" + slot_names_[k] +
                                   "'");
        }
      }
    }
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      auto& e = entries_[i];
      if (staged[i].empty()) {
        e.slots.assign(slot_names_.size(), torch::Tensor());
        continue;
      }
      for (std::size_t k = 0; k < slot_names_.size(); ++k) {
        // A new tensor, so that the caller's tensors are never aliased; a slot of the parameter's
        // shape takes its memory layout (channels-last parameters keep one-pass updates).
        const torch::Tensor& src = staged[i][k];
        e.slots[k] = src.sizes() == e.param.sizes()
                         ? torch::empty_like(e.param).copy_(src.detach())
                         : src.detach()
                               .to(e.param.device(), e.param.scalar_type())
                               .clone(torch::MemoryFormat::Contiguous);
      }
    }
  }

  std::string describe() const override {
    std::ostringstream os;
    os << "optimizer " << hyper_parameters() << ", global L2 " << num(options_.l2_weight_decay)
       << "; groups:";
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      const auto& g = groups_[gi];
      int64_t values = 0;
      for (const auto& [n, p] : g.params) values += p.numel();
      os << (gi ? "," : "") << " " << (g.name.empty() ? "<unnamed>" : g.name) << " ("
         << g.params.size() << " tensors, " << values << " values, lr x" << num(g.lr_mult)
         << ", L2 "
         << (g.weight_decay ? num(*g.weight_decay) : num(options_.l2_weight_decay) + " (global)")
         << ")";
    }
    return os.str();
  }

 protected:
  virtual std::string hyper_parameters() const = 0;
  /// Creates the zero (or Fluid-initial) accumulators of a parameter on its first update.
  virtual void init_state(Entry& e) = 0;
  /// The update with the decayed gradient `g` and this group's LR.
  virtual void update(Entry& e, const torch::Tensor& g, double lr) = 0;
  /// The decay and the update in one pass over memory, where the optimizer has such a kernel for
  /// these tensors; false = not done (step() then runs update()).
  virtual bool fused_update(Entry& e, const torch::Tensor& grad, double decay, double lr) {
    return false;
  }
  /// Expected shape of slot k of a parameter (its own shape unless overridden).
  virtual std::vector<int64_t> slot_shape(const Entry& e, std::size_t k) const {
    return e.param.sizes().vec();
  }

  std::vector<std::string> slot_names_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

/// Fluid momentum_op: v = mu * v + g; plain p -= lr * v; Nesterov p -= lr * (g + mu * v).
class MomentumOptimizer final : public FluidOptimizer {
 public:
  MomentumOptimizer(const OptimizerOptions& o, std::vector<ParamGroup> groups)
      : FluidOptimizer(o, std::move(groups), {"velocity"}) {}

 protected:
  std::string hyper_parameters() const override {
    return "momentum (mu " + num(options_.momentum) + (options_.nesterov ? ", nesterov)" : ")");
  }
  void init_state(Entry& e) override { e.slots[0] = torch::zeros_like(e.param); }
  // The same sizes and the same strides on every axis longer than 1 (a size-1 axis's stride
  // never moves an address: autograd may hand a 1x1 convolution's gradient with other strides
  // there than its parameter's), so element i of one is element i of the other in memory.
  static bool same_memory_order(const torch::Tensor& a, const torch::Tensor& b) {
    if (a.sizes() != b.sizes()) return false;
    for (int64_t d = 0; d < a.dim(); ++d) {
      if (a.size(d) > 1 && a.stride(d) != b.stride(d)) return false;
    }
    return true;
  }
  // One pass per element (g = grad + decay p; v = mu v + g; p -= lr v, or lr (g + mu v) with
  // Nesterov) instead of four ATen ops and a temporary: 5 tensor-sized memory passes instead of
  // 11, the same arithmetic (up to the rounding of a fused multiply-add). CPU float / double
  // tensors of one dtype that are dense in memory in the same order (contiguous, or all
  // channels-last as in a channels-last training run); anything else takes update().
  bool fused_update(Entry& e, const torch::Tensor& grad, double decay, double lr) override {
    torch::Tensor& v = e.slots[0];
    const torch::Tensor& p = e.param;
    const auto dtype = p.scalar_type();
    if (!p.device().is_cpu() || !grad.device().is_cpu() || !v.device().is_cpu() ||
        p.layout() != torch::kStrided || grad.layout() != torch::kStrided ||
        v.layout() != torch::kStrided || !p.is_non_overlapping_and_dense() ||
        !same_memory_order(grad, p) || !same_memory_order(v, p) || grad.scalar_type() != dtype ||
        v.scalar_type() != dtype || (dtype != torch::kFloat && dtype != torch::kDouble)) {
      return false;
    }
    if (dtype == torch::kFloat) {
      momentum_pass<float>(p, v, grad, decay, lr);
    } else {
      momentum_pass<double>(p, v, grad, decay, lr);
    }
    // In-place updates as far as autograd is concerned.
    p.unsafeGetTensorImpl()->bump_version();
    v.unsafeGetTensorImpl()->bump_version();
    return true;
  }
  template <typename T>
  void momentum_pass(const torch::Tensor& param, const torch::Tensor& velocity,
                     const torch::Tensor& grad, double decay, double lr) const {
    T* p = param.data_ptr<T>();
    T* v = velocity.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    const T c = static_cast<T>(decay), mu = static_cast<T>(options_.momentum),
            l = static_cast<T>(lr);
    const bool nesterov = options_.nesterov;
    at::parallel_for(0, param.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      if (nesterov) {
        for (int64_t i = begin; i < end; ++i) {
          const T gi = g[i] + c * p[i];
          const T vi = mu * v[i] + gi;
          v[i] = vi;
          p[i] -= l * (gi + mu * vi);
        }
      } else {
        for (int64_t i = begin; i < end; ++i) {
          const T vi = mu * v[i] + (g[i] + c * p[i]);
          v[i] = vi;
          p[i] -= l * vi;
        }
      }
    });
  }
  void update(Entry& e, const torch::Tensor& g, double lr) override {
    auto& v = e.slots[0];
    v.mul_(options_.momentum).add_(g);
    if (options_.nesterov) {
      e.param.sub_(g.add(v, options_.momentum), lr);
    } else {
      e.param.sub_(v, lr);
    }
  }
};

/// Fluid adam_op (2019): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t); p -= lr_t * m / (sqrt(v) + eps) — eps is added to
/// the un-corrected sqrt(v) (torch.optim.Adam adds it to sqrt(v / (1 - b2^t))). The pow
/// accumulators hold b^t for the current step and are multiplied by b after the update, as
/// Fluid's optimizer appends `scale` ops after the adam op.
class AdamOptimizer final : public FluidOptimizer {
 public:
  AdamOptimizer(const OptimizerOptions& o, std::vector<ParamGroup> groups)
      : FluidOptimizer(o, std::move(groups),
                       {"moment1", "moment2", "beta1_pow_acc", "beta2_pow_acc"}) {}

 protected:
  std::string hyper_parameters() const override {
    return "adam (beta1 " + num(options_.beta1) + ", beta2 " + num(options_.beta2) + ", epsilon " +
           num(options_.epsilon) + ")";
  }
  std::vector<int64_t> slot_shape(const Entry& e, std::size_t k) const override {
    if (k >= 2) return {1};
    return e.param.sizes().vec();
  }
  void init_state(Entry& e) override {
    e.slots[0] = torch::zeros_like(e.param);
    e.slots[1] = torch::zeros_like(e.param);
    const auto opts = e.param.options().requires_grad(false);
    e.slots[2] = torch::full({1}, options_.beta1, opts);
    e.slots[3] = torch::full({1}, options_.beta2, opts);
  }
  void update(Entry& e, const torch::Tensor& g, double lr) override {
    const double b1 = options_.beta1, b2 = options_.beta2;
    auto& m = e.slots[0];
    auto& v = e.slots[1];
    auto& b1p = e.slots[2];
    auto& b2p = e.slots[3];
    m.mul_(b1).add_(g, 1.0 - b1);
    v.mul_(b2).addcmul_(g, g, 1.0 - b2);
    // lr_t as a [1] tensor in the parameter's dtype (no host synchronisation on GPU).
    const torch::Tensor lr_t = (1.0 - b2p).sqrt_().div_(1.0 - b1p).mul_(lr);
    e.param.sub_(m / v.sqrt().add_(options_.epsilon) * lr_t);
    b1p.mul_(b1);
    b2p.mul_(b2);
  }
};

/// Fluid rmsprop_op: ms = rho ms + (1-rho) g^2; centered: mg = rho mg + (1-rho) g and
/// mom = mu mom + lr g / sqrt(ms - mg^2 + eps); plain: mom = mu mom + lr g / sqrt(ms + eps);
/// p -= mom. Accumulators start at 0.
class RmsPropOptimizer final : public FluidOptimizer {
 public:
  RmsPropOptimizer(const OptimizerOptions& o, std::vector<ParamGroup> groups)
      : FluidOptimizer(o, std::move(groups),
                       o.centered ? std::vector<std::string>{"momentum", "mean_square", "mean_grad"}
                                  : std::vector<std::string>{"momentum", "mean_square"}) {}

 protected:
  std::string hyper_parameters() const override {
    return std::string("rmsprop (") + (options_.centered ? "centered, " : "") + "rho " +
           num(options_.rho) + ", epsilon " + num(options_.rms_epsilon) + ", momentum " +
           num(options_.rms_momentum) + ")";
  }
  void init_state(Entry& e) override {
    for (auto& s : e.slots) s = torch::zeros_like(e.param);
  }
  void update(Entry& e, const torch::Tensor& g, double lr) override {
    const double rho = options_.rho;
    auto& mom = e.slots[0];
    auto& ms = e.slots[1];
    ms.mul_(rho).addcmul_(g, g, 1.0 - rho);
    torch::Tensor denom;
    if (options_.centered) {
      auto& mg = e.slots[2];
      mg.mul_(rho).add_(g, 1.0 - rho);
      denom = ms.addcmul(mg, mg, -1.0).add_(options_.rms_epsilon).sqrt_();
    } else {
      denom = ms.add(options_.rms_epsilon).sqrt_();
    }
    mom.mul_(options_.rms_momentum).add_(g / denom, lr);
    e.param.sub_(mom);
  }
};

void validate(const OptimizerOptions& o) {
  auto finite_nonneg = [](double v) { return std::isfinite(v) && v >= 0; };
  auto unit = [](double v) { return std::isfinite(v) && v >= 0 && v < 1; };
  require(finite_nonneg(o.l2_weight_decay), "l2_weight_decay", o.l2_weight_decay,
          "must be finite and >= 0");
  if (o.type == "momentum") {
    require(finite_nonneg(o.momentum), "momentum", o.momentum, "must be finite and >= 0");
  } else if (o.type == "adam") {
    require(unit(o.beta1), "beta1", o.beta1, "must be in [0, 1)");
    require(unit(o.beta2), "beta2", o.beta2, "must be in [0, 1)");
    require(finite_nonneg(o.epsilon), "epsilon", o.epsilon, "must be finite and >= 0");
  } else if (o.type == "rmsprop") {
    require(unit(o.rho), "rho", o.rho, "must be in [0, 1)");
    require(std::isfinite(o.rms_epsilon) && o.rms_epsilon > 0, "rms_epsilon", o.rms_epsilon,
            "must be finite and > 0");
    require(finite_nonneg(o.rms_momentum), "rms_momentum", o.rms_momentum,
            "must be finite and >= 0");
  } else {
    throw std::invalid_argument("optimizer: unknown type '" + o.type +
                                "' (known: momentum, adam, rmsprop)");
  }
  if (o.nesterov && o.type != "momentum") {
    throw std::invalid_argument(
        "optimizer: nesterov = true applies to type 'momentum' only, got '" + o.type + "'");
  }
}

void validate(const std::vector<ParamGroup>& groups) {
  std::unordered_map<std::string, std::string> name_group;
  std::unordered_map<const void*, std::string> impl_name;
  for (const auto& g : groups) {
    const std::string gname = "group '" + g.name + "'";
    require(std::isfinite(g.lr_mult) && g.lr_mult >= 0, gname + " lr_mult", g.lr_mult,
            "must be finite and >= 0");
    if (g.weight_decay) {
      require(std::isfinite(*g.weight_decay) && *g.weight_decay >= 0, gname + " weight_decay",
              *g.weight_decay, "must be finite and >= 0");
    }
    for (const auto& [name, p] : g.params) {
      if (!p.defined()) {
        throw std::invalid_argument("optimizer: " + gname + ": parameter '" + name +
                                    "' is an undefined tensor");
      }
      const auto [it, fresh] = name_group.emplace(name, g.name);
      if (!fresh) {
        throw std::invalid_argument("optimizer: parameter '" + name + "' is in group '" +
                                    it->second + "' and again in group '" + g.name + "'");
      }
      const auto [it2, fresh2] = impl_name.emplace(p.unsafeGetTensorImpl(), name);
      if (!fresh2) {
        throw std::invalid_argument("optimizer: parameters '" + it2->second + "' and '" + name +
                                    "' (group '" + g.name + "') are the same tensor");
      }
    }
  }
}

}  // namespace

void Optimizer::zero_grad() {
  RECORD_FUNCTION("videocls::optimizer_zero_grad", std::vector<c10::IValue>());
  for (auto& g : groups_) {
    for (auto& [name, p] : g.params) {
      if (p.grad().defined()) {
        p.mutable_grad().detach_();
        p.mutable_grad().zero_();
      }
    }
  }
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options,
                                          std::vector<ParamGroup> groups) {
  validate(options);
  validate(groups);
  if (options.type == "momentum")
    return std::make_unique<MomentumOptimizer>(options, std::move(groups));
  if (options.type == "adam") return std::make_unique<AdamOptimizer>(options, std::move(groups));
  return std::make_unique<RmsPropOptimizer>(options, std::move(groups));
}

// ---------------------------------------------------------------------------------------------
// LrSchedule

namespace {

void lr_require(bool ok, const std::string& field, const std::string& value,
                const std::string& rule) {
  if (!ok) {
    throw std::invalid_argument("lr schedule: " + field + " = " + value + " is invalid (" + rule +
                                ")");
  }
}

}  // namespace

LrSchedule::LrSchedule(LrScheduleOptions o) : options_(std::move(o)) {
  auto& o_ = options_;
  const std::string& p = o_.policy;
  if (p != "constant" && p != "piecewise" && p != "exponential") {
    throw std::invalid_argument("lr schedule: unknown policy '" + p +
                                "' (known: constant, piecewise, exponential)");
  }
  lr_require(std::isfinite(o_.base_lr) && o_.base_lr >= 0, "base_lr", num(o_.base_lr),
             "must be finite and >= 0");
  if (p != "piecewise") {
    lr_require(o_.boundaries.empty(), "boundaries", std::to_string(o_.boundaries.size()) + " items",
               "only the piecewise policy takes boundaries, the policy is '" + p + "'");
    lr_require(o_.values.empty(), "values", std::to_string(o_.values.size()) + " items",
               "only the piecewise policy takes values, the policy is '" + p + "'");
  }
  if (p == "piecewise") {
    for (std::size_t i = 0; i < o_.boundaries.size(); ++i) {
      const std::string f = "boundaries[" + std::to_string(i) + "]";
      lr_require(o_.boundaries[i] >= 0, f, std::to_string(o_.boundaries[i]), "must be >= 0");
      if (i > 0) {
        lr_require(o_.boundaries[i] > o_.boundaries[i - 1], f, std::to_string(o_.boundaries[i]),
                   "boundaries must be strictly ascending, the previous one is " +
                       std::to_string(o_.boundaries[i - 1]));
      }
    }
    if (o_.values.empty()) {
      lr_require(std::isfinite(o_.decay) && o_.decay > 0, "decay", num(o_.decay),
                 "must be finite and > 0");
      for (std::size_t i = 0; i <= o_.boundaries.size(); ++i) {
        o_.values.push_back(o_.base_lr * std::pow(o_.decay, static_cast<double>(i)));
      }
    } else {
      lr_require(o_.values.size() == o_.boundaries.size() + 1, "values",
                 std::to_string(o_.values.size()) + " items",
                 "piecewise needs boundaries.size() + 1 = " +
                     std::to_string(o_.boundaries.size() + 1) + " values");
      for (std::size_t i = 0; i < o_.values.size(); ++i) {
        lr_require(std::isfinite(o_.values[i]) && o_.values[i] >= 0,
                   "values[" + std::to_string(i) + "]", num(o_.values[i]),
                   "must be finite and >= 0");
      }
    }
  }
  if (p == "exponential") {
    lr_require(std::isfinite(o_.decay) && o_.decay > 0, "decay", num(o_.decay),
               "must be finite and > 0");
    lr_require(o_.decay_steps >= 1, "decay_steps", std::to_string(o_.decay_steps), "must be >= 1");
  }
  lr_require(o_.warmup_steps >= 0, "warmup_steps", std::to_string(o_.warmup_steps), "must be >= 0");
  lr_require(std::isfinite(o_.warmup_start_factor) && o_.warmup_start_factor >= 0,
             "warmup_start_factor", num(o_.warmup_start_factor), "must be finite and >= 0");
}

double LrSchedule::scheduled(int64_t step) const {
  const auto& o = options_;
  if (o.policy == "piecewise") {
    std::size_t i = 0;
    while (i < o.boundaries.size() && step >= o.boundaries[i]) ++i;
    return o.values[i];
  }
  if (o.policy == "exponential") {
    const double e = o.staircase ? static_cast<double>(step / o.decay_steps)
                                 : static_cast<double>(step) / static_cast<double>(o.decay_steps);
    return o.base_lr * std::pow(o.decay, e);
  }
  return o.base_lr;
}

double LrSchedule::at(int64_t global_step) const {
  if (global_step < 0) {
    throw std::invalid_argument("lr schedule: negative step " + std::to_string(global_step));
  }
  const auto& o = options_;
  if (global_step < o.warmup_steps) {
    const double start = o.base_lr * o.warmup_start_factor;
    const double target = scheduled(o.warmup_steps);
    return start + (target - start) * static_cast<double>(global_step) /
                       static_cast<double>(o.warmup_steps);
  }
  return scheduled(global_step);
}

std::string LrSchedule::describe() const {
  const auto& o = options_;
  std::ostringstream os;
  os << "lr " << o.policy << ": ";
  if (o.policy == "constant") {
    os << num(o.base_lr);
  } else if (o.policy == "exponential") {
    os << num(o.base_lr) << " x " << num(o.decay) << "^" << (o.staircase ? "floor(" : "(")
       << "step / " << o.decay_steps << ")";
  } else {
    const std::size_t n = o.boundaries.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (n > 6 && i == 3) {  // long lists (NeXtVLAD: 55 boundaries): first 3 ... last 2
        os << "... (" << n - 5 << " more), ";
        i = n - 3;
        continue;
      }
      os << num(o.values[i]) << (i == 0 ? " until iteration " : " until ") << o.boundaries[i]
         << ", ";
    }
    os << (n ? "then " : "") << num(o.values[n]);
  }
  if (o.warmup_steps > 0) {
    os << "; linear warmup from " << num(o.base_lr * o.warmup_start_factor) << " over "
       << o.warmup_steps << " iterations";
  }
  return os.str();
}

std::vector<int64_t> epochs_to_iterations(const std::vector<int64_t>& epochs,
                                          int64_t iters_per_epoch) {
  if (iters_per_epoch < 1) {
    throw std::invalid_argument("epochs_to_iterations: iters_per_epoch = " +
                                std::to_string(iters_per_epoch) + " must be >= 1");
  }
  std::vector<int64_t> out;
  out.reserve(epochs.size());
  for (int64_t e : epochs) {
    if (e < 0) {
      throw std::invalid_argument("epochs_to_iterations: epoch " + std::to_string(e) +
                                  " is negative");
    }
    out.push_back(e * iters_per_epoch);
  }
  return out;
}

namespace {
void positive(int64_t v, const char* fn, const char* field) {
  if (v < 1) {
    throw std::invalid_argument(std::string(fn) + ": " + field + " = " + std::to_string(v) +
                                " must be >= 1");
  }
}
}  // namespace

int64_t iterations_per_epoch_plus_one(int64_t total_videos, int64_t batch_size) {
  positive(batch_size, "iterations_per_epoch_plus_one", "batch_size");
  if (total_videos < 0) {
    throw std::invalid_argument("iterations_per_epoch_plus_one: total_videos = " +
                                std::to_string(total_videos) + " is negative");
  }
  return total_videos / batch_size + 1;
}

int64_t iterations_per_epoch_floor(int64_t num_samples, int64_t batch_size) {
  positive(batch_size, "iterations_per_epoch_floor", "batch_size");
  positive(num_samples, "iterations_per_epoch_floor", "num_samples");
  return num_samples / batch_size;
}

std::vector<int64_t> tsn_default_decay_epochs(int64_t epochs) {
  if (epochs < 0) {
    throw std::invalid_argument("tsn_default_decay_epochs: epochs = " + std::to_string(epochs) +
                                " is negative");
  }
  return {epochs / 3, 2 * epochs / 3};
}

std::vector<int64_t> boundaries_every(int64_t interval, int64_t max_iter) {
  positive(interval, "boundaries_every", "interval");
  std::vector<int64_t> out;
  for (int64_t b = interval; b < max_iter; b += interval) out.push_back(b);
  return out;
}

std::vector<int64_t> cumulative_boundaries(const std::vector<int64_t>& step_sizes) {
  std::vector<int64_t> out;
  int64_t sum = 0;
  for (std::size_t i = 0; i < step_sizes.size(); ++i) {
    if (step_sizes[i] < 1) {
      throw std::invalid_argument("cumulative_boundaries: step_sizes[" + std::to_string(i) +
                                  "] = " + std::to_string(step_sizes[i]) + " must be >= 1");
    }
    sum += step_sizes[i];
    out.push_back(sum);
  }
  return out;
}

}  // namespace vc::app
