// Name maps: how a network declares that foreign weight names (Paddle's `res2a_branch2a_weights`,
// `fc_0.w_0`, ...) map to its own (torchvision-style `layer1.0.conv1.weight`, ...). A map is a
// table of exact renames and regex rules, plus the foreign variables that are known not to be
// weights (optimizer accumulators, learning-rate state) and defaults for our buffers the foreign
// format has no counterpart for. Networks declare maps; they never parse files (paddle.h,
// state_dict.h do).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tools/common/weights/state_dict.h"

namespace vc::app {

/// One regex rule: a foreign name that fully matches `from_regex` (ECMAScript) becomes
/// `to_format` with $1..$9 replaced by the groups ($$ is a literal $).
struct NameRule {
  std::string from_regex;
  std::string to_format;
  /// 2-D [in, out] -> [out, in]: Paddle fc weights into torch::nn::Linear.
  bool transpose = false;
};

/// What NameMap::apply did. The caller decides what is an error.
struct NameMapReport {
  /// "foreign -> ours" for every variable that was renamed, in foreign order.
  std::vector<std::string> mapped;
  /// Foreign variables no rule matched (neither renamed nor ignored).
  std::vector<std::string> unmapped;
  /// Foreign variables recognised as optimizer/state variables and ignored ("name (why)").
  std::vector<std::string> ignored;
  /// Our names an exact rename declares whose foreign variable is absent.
  std::vector<std::string> not_provided;
  /// Our names filled from the map's defaults.
  std::vector<std::string> defaulted;

  /// Multi-line summary naming `source`: counts, then every unmapped, not provided and ignored
  /// name under its title ("optimizer/state variables ignored (N)").
  std::string summary(const std::string& source) const;
};

/// Foreign names -> ours. Exact renames are looked up first, then the regex rules in the order
/// they were added (the first match wins), then the ignore patterns.
class NameMap {
 public:
  NameMap();
  ~NameMap();
  NameMap(const NameMap&);
  NameMap& operator=(const NameMap&);
  NameMap(NameMap&&) noexcept;
  NameMap& operator=(NameMap&&) noexcept;

  /// `foreign` (exact) -> `ours`. Declares `ours` as provided by this map (NameMapReport's
  /// not_provided). Throws std::invalid_argument if `foreign` was already renamed.
  NameMap& rename(const std::string& foreign, const std::string& ours, bool transpose = false);
  /// A regex rule. Throws std::invalid_argument naming the regex if it does not compile.
  NameMap& rule(const NameRule& rule);
  /// Foreign names fully matching `regex` are not weights: dropped, listed in the report with
  /// `why`.
  NameMap& ignore(const std::string& regex, const std::string& why);
  /// Paddle's optimizer/state variables (spec §1.7-1.8): `*_velocity_N`, `*_moment{1,2}_N`,
  /// `*_beta{1,2}_pow_acc_N`, `*_momentum_N`, `*_mean_square_N`, `*_mean_grad_N`,
  /// `learning_rate*`, `@LR_DECAY_COUNTER@`, `*.tmp_N` (persistable activations).
  NameMap& ignore_paddle_optimizer_state();
  /// When no foreign variable provides `ours`, apply() adds it with a copy of `value`
  /// (e.g. `bn1.num_batches_tracked` = 0, which Paddle does not have).
  NameMap& fill_default(const std::string& ours, const torch::Tensor& value);

  /// Renames (and transposes) `foreign`; ignored and unmapped variables are left out. Output
  /// order: foreign order, then defaults in declaration order. Throws StateDictError naming
  /// `source` and the variable when a transpose meets a tensor that is not 2-D, or two foreign
  /// variables map to the same name. `report` may be null.
  StateDict apply(const StateDict& foreign, const std::string& source, NameMapReport* report) const;

  /// Our name for `foreign` ("" when ignored or unmapped) and whether it is transposed.
  std::pair<std::string, bool> target(const std::string& foreign) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Paddle TSN/TSM/StNet ResNet names (spec §6.4, §7) -> torchvision's, for depth 18, 34, 50,
/// 101 or 152 (anything else throws std::invalid_argument):
///   conv1_weights                       -> <prefix>conv1.weight
///   bn_conv1_{scale,offset,mean,variance} -> <prefix>bn1.{weight,bias,running_mean,running_var}
///   res{s}{x}_branch2{a,b,c}_weights    -> <prefix>layer{s-1}.{i}.conv{1,2,3}.weight
///   bn{s}{x}_branch2{a,b,c}_*           -> <prefix>layer{s-1}.{i}.bn{1,2,3}.*
///   res{s}{x}_branch1_weights, bn{s}{x}_branch1_* -> <prefix>layer{s-1}.{i}.downsample.{0,1}.*
///   fc_0.w_0 [in, out] -> <fc>.weight (transposed), fc_0.b_0 -> <fc>.bias
/// Block suffix x of block i: a, b, c, ... except stage 4 of ResNet-101/152: a, b1, b2, ...
/// (Paddle's ResNet). Every BN's num_batches_tracked defaults to 0; Paddle optimizer state is
/// ignored. `fc` is the classifier's module path ("fc" for both ResNet and TSN, whose trunk is
/// under prefix "backbone.").
NameMap paddle_resnet_map(const std::string& prefix, int depth, const std::string& fc = "fc");

}  // namespace vc::app
