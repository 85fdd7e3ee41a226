#include "tools/common/optimizer.h"

#include <cmath>

#include "tools/common/errors.h"

namespace vc::app {

MomentumSgd::MomentumSgd(std::vector<std::pair<std::string, torch::Tensor>> named_params,
                         double momentum, double weight_decay, bool nesterov)
    : params_(std::move(named_params)),
      velocity_(params_.size()),
      momentum_(momentum),
      weight_decay_(weight_decay),
      nesterov_(nesterov) {}

void MomentumSgd::zero_grad() {
  for (auto& [name, p] : params_) {
    if (p.grad().defined()) {
      p.mutable_grad().detach_();
      p.mutable_grad().zero_();
    }
  }
}

void MomentumSgd::step(double lr) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i].second;
    if (!p.grad().defined()) continue;
    auto g = p.grad();
    if (weight_decay_ != 0.0) g = g.add(p, weight_decay_);  // L2Decay: g + c * p
    auto& v = velocity_[i];
    if (!v.defined()) {
      v = torch::zeros_like(p);
    }
    v.mul_(momentum_).add_(g);  // v = mu * v + g
    if (nesterov_) {
      p.add_(g.add(v, momentum_), -lr);
    } else {
      p.add_(v, -lr);
    }
  }
}

std::vector<std::pair<std::string, torch::Tensor>> MomentumSgd::state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (velocity_[i].defined()) out.emplace_back(params_[i].first, velocity_[i]);
  return out;
}

void MomentumSgd::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state,
                             const std::string& source) {
  for (const auto& [name, t] : state) {
    bool found = false;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (params_[i].first != name) continue;
      if (!t.sizes().equals(params_[i].second.sizes())) {
        throw ConfigError(source + ": optimizer state for '" + name + "' has shape " +
                          c10::str(t.sizes()) + ", the parameter has " +
                          c10::str(params_[i].second.sizes()));
      }
      velocity_[i] = t.to(params_[i].second.device(), params_[i].second.scalar_type()).clone();
      found = true;
      break;
    }
    if (!found) {
      throw ConfigError(source + ": optimizer state for unknown parameter '" + name + "'");
    }
  }
}

double LrSchedule::at(int64_t step) const {
  std::size_t i = 0;
  while (i < boundaries.size() && step >= boundaries[i]) ++i;
  double lr = values[i];
  if (step < warmup_steps) {
    const double start = values[0] * warmup_start_factor;
    lr = start + (values[0] - start) * static_cast<double>(step) / warmup_steps;
  }
  return lr;
}

LrSchedule make_lr_schedule(const SectionConfig& train, int64_t train_list_size) {
  const int64_t total = train.total_videos > 0 ? train.total_videos : train_list_size;
  // Python: int(total_videos / batch_size + 1) with true division.
  const int64_t step = static_cast<int64_t>(static_cast<double>(total) / train.batch_size + 1.0);
  LrSchedule s;
  if (!train.decay_epochs.empty()) {
    for (int64_t e : train.decay_epochs) s.boundaries.push_back(e * step);
  } else {
    // tsn.py: bd = [epoch / 3 * step, 2 * epoch / 3 * step] (integer epochs, Python 2 division).
    s.boundaries = {train.epoch / 3 * step, 2 * train.epoch / 3 * step};
  }
  double lr = train.learning_rate;
  s.values.push_back(lr);
  for (std::size_t i = 0; i < s.boundaries.size(); ++i) {
    lr *= train.learning_rate_decay;
    s.values.push_back(lr);
  }
  s.warmup_steps = static_cast<int64_t>(std::llround(train.warmup_epochs * step));
  s.warmup_start_factor = train.warmup_start_factor;
  return s;
}

}  // namespace vc::app
