// Name maps (see name_map.h).
#include "tools/common/weights/name_map.h"

#include <torch/torch.h>

#include <regex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace vc::app {

struct NameMap::Impl {
  struct Exact {
    std::string ours;
    bool transpose;
  };
  struct Rule {
    NameRule rule;
    std::regex re;
  };
  struct Ignore {
    std::regex re;
    std::string why;
  };
  std::unordered_map<std::string, Exact> exact;
  std::vector<std::string> exact_order;  // foreign names, declaration order
  std::vector<Rule> rules;
  std::vector<Ignore> ignores;
  std::vector<std::pair<std::string, torch::Tensor>> defaults;
};

namespace {

std::regex compile(const std::string& regex) {
  try {
    return std::regex(regex, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument("name map: bad regex '" + regex + "': " + e.what());
  }
}

// to_format with $1..$9 replaced by the groups of `m`; "$$" is a literal '$'.
std::string substitute(const std::string& format, const std::smatch& m) {
  std::string out;
  for (size_t k = 0; k < format.size(); ++k) {
    const char c = format[k];
    if (c == '$' && k + 1 < format.size()) {
      const char n = format[k + 1];
      if (n == '$') {
        out.push_back('$');
        ++k;
        continue;
      }
      if (n >= '1' && n <= '9') {
        const auto group = static_cast<size_t>(n - '0');
        if (group < m.size()) out += m[group].str();
        ++k;
        continue;
      }
    }
    out.push_back(c);
  }
  return out;
}

void list(std::ostringstream& msg, const char* title, const std::vector<std::string>& names,
          size_t limit) {
  if (names.empty()) return;
  msg << "\n  " << title << " (" << names.size() << "):";
  for (size_t k = 0; k < names.size() && k < limit; ++k) msg << "\n    " << names[k];
  if (names.size() > limit) msg << "\n    ... and " << names.size() - limit << " more";
}

}  // namespace

std::string NameMapReport::summary(const std::string& source) const {
  std::ostringstream msg;
  msg << "weights '" << source << "': " << mapped.size() << " mapped, " << unmapped.size()
      << " unmapped, " << not_provided.size() << " not provided, " << defaulted.size()
      << " defaulted, " << ignored.size() << " ignored";
  const size_t all = static_cast<size_t>(-1);
  list(msg, "unmapped foreign variables", unmapped, all);
  list(msg, "our names not provided", not_provided, all);
  list(msg, "optimizer/state variables ignored", ignored, 20);
  return msg.str();
}

NameMap::NameMap() : impl_(std::make_unique<Impl>()) {}
NameMap::~NameMap() = default;
NameMap::NameMap(const NameMap& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
NameMap& NameMap::operator=(const NameMap& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
NameMap::NameMap(NameMap&&) noexcept = default;
NameMap& NameMap::operator=(NameMap&&) noexcept = default;

NameMap& NameMap::rename(const std::string& foreign, const std::string& ours, bool transpose) {
  if (!impl_->exact.emplace(foreign, Impl::Exact{ours, transpose}).second) {
    throw std::invalid_argument("name map: '" + foreign + "' is renamed twice");
  }
  impl_->exact_order.push_back(foreign);
  return *this;
}

NameMap& NameMap::rule(const NameRule& rule) {
  impl_->rules.push_back({rule, compile(rule.from_regex)});
  return *this;
}

NameMap& NameMap::ignore(const std::string& regex, const std::string& why) {
  impl_->ignores.push_back({compile(regex), why});
  return *this;
}

NameMap& NameMap::ignore_paddle_optimizer_state() {
  ignore(R"(.+_(velocity|moment1|moment2|beta1_pow_acc|beta2_pow_acc|momentum|mean_square|)"
         R"(mean_grad)_\d+)",
         "optimizer accumulator");
  ignore(R"(learning_rate(_\d+)?)", "learning rate");
  ignore(R"(@LR_DECAY_COUNTER@)", "learning-rate step counter");
  ignore(R"(.+\.tmp_\d+)", "persistable activation");
  return *this;
}

NameMap& NameMap::fill_default(const std::string& ours, const torch::Tensor& value) {
  impl_->defaults.emplace_back(ours, value);
  return *this;
}

std::pair<std::string, bool> NameMap::target(const std::string& foreign) const {
  auto it = impl_->exact.find(foreign);
  if (it != impl_->exact.end()) return {it->second.ours, it->second.transpose};
  std::smatch m;
  for (const auto& r : impl_->rules) {
    if (std::regex_match(foreign, m, r.re)) {
      return {substitute(r.rule.to_format, m), r.rule.transpose};
    }
  }
  return {"", false};
}

StateDict NameMap::apply(const StateDict& foreign, const std::string& source,
                         NameMapReport* report) const {
  NameMapReport local;
  NameMapReport& rep = report ? *report : local;
  rep = NameMapReport{};
  StateDict out;
  std::unordered_map<std::string, std::string> provider;  // ours -> foreign
  std::unordered_set<std::string> foreign_names;
  for (const auto& kv : foreign) {
    const std::string& name = kv.first;
    foreign_names.insert(name);
    const auto t = target(name);
    if (t.first.empty()) {
      bool ignored = false;
      for (const auto& ig : impl_->ignores) {
        if (std::regex_match(name, ig.re)) {
          rep.ignored.push_back(name + " (" + ig.why + ")");
          ignored = true;
          break;
        }
      }
      if (!ignored) rep.unmapped.push_back(name);
      continue;
    }
    auto inserted = provider.emplace(t.first, name);
    if (!inserted.second) {
      throw StateDictError("weights '" + source + "': variables '" + inserted.first->second +
                           "' and '" + name + "' both map to '" + t.first + "'");
    }
    torch::Tensor value = kv.second;
    if (t.second) {
      if (value.dim() != 2) {
        std::ostringstream shape;
        shape << value.sizes();
        throw StateDictError("weights '" + source + "': variable '" + name + "' (-> '" + t.first +
                             "') should be a 2-D [in, out] fc weight to transpose, " +
                             "got shape " + shape.str());
      }
      value = value.t().contiguous();
    }
    out.emplace_back(t.first, value);
    rep.mapped.push_back(name + " -> " + t.first);
  }
  for (const auto& name : impl_->exact_order) {
    if (!foreign_names.count(name)) rep.not_provided.push_back(impl_->exact.at(name).ours);
  }
  for (const auto& d : impl_->defaults) {
    if (provider.count(d.first)) continue;
    out.emplace_back(d.first, d.second.clone());
    rep.defaulted.push_back(d.first);
    provider.emplace(d.first, "");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
NameMap paddle_resnet_map(const std::string& prefix, int depth, const std::string& fc) {
  std::vector<int> blocks;
  bool bottleneck = true;
  switch (depth) {
    case 18:
      blocks = {2, 2, 2, 2};
      bottleneck = false;
      break;
    case 34:
      blocks = {3, 4, 6, 3};
      bottleneck = false;
      break;
    case 50:
      blocks = {3, 4, 6, 3};
      break;
    case 101:
      blocks = {3, 4, 23, 3};
      break;
    case 152:
      blocks = {3, 8, 36, 3};
      break;
    default:
      throw std::invalid_argument("paddle_resnet_map: depth " + std::to_string(depth) +
                                  " is not one of 18, 34, 50, 101, 152");
  }
  NameMap map;
  const torch::Tensor zero = torch::zeros({}, torch::kLong);
  // conv <paddle>_weights + BN bn<paddle[3:]>_* (bn_conv1 for conv1) -> <ours_conv>, <ours_bn>.
  const auto conv_bn = [&](const std::string& paddle, const std::string& paddle_bn,
                           const std::string& conv, const std::string& bn) {
    map.rename(paddle + "_weights", prefix + conv + ".weight");
    map.rename(paddle_bn + "_scale", prefix + bn + ".weight");
    map.rename(paddle_bn + "_offset", prefix + bn + ".bias");
    map.rename(paddle_bn + "_mean", prefix + bn + ".running_mean");
    map.rename(paddle_bn + "_variance", prefix + bn + ".running_var");
    map.fill_default(prefix + bn + ".num_batches_tracked", zero);
  };
  conv_bn("conv1", "bn_conv1", "conv1", "bn1");
  const int expansion = bottleneck ? 4 : 1;
  int in_planes = 64;
  const char* branches[] = {"2a", "2b", "2c"};
  for (int stage = 0; stage < 4; ++stage) {
    const int planes = 64 << stage;
    for (int i = 0; i < blocks[stage]; ++i) {
      std::string suffix;
      if (depth >= 101 && stage == 2) {
        suffix = i == 0 ? "a" : "b" + std::to_string(i);
      } else {
        suffix = std::string(1, static_cast<char>('a' + i));
      }
      const std::string block = std::to_string(stage + 2) + suffix;  // "2a", "4b1"
      const std::string ours = "layer" + std::to_string(stage + 1) + "." + std::to_string(i) + ".";
      const int convs = bottleneck ? 3 : 2;
      for (int c = 0; c < convs; ++c) {
        const std::string branch = std::string("_branch") + branches[c];
        conv_bn("res" + block + branch, "bn" + block + branch,
                ours + "conv" + std::to_string(c + 1), ours + "bn" + std::to_string(c + 1));
      }
      const int stride = (i == 0 && stage > 0) ? 2 : 1;
      if (stride != 1 || in_planes != planes * expansion) {
        conv_bn("res" + block + "_branch1", "bn" + block + "_branch1", ours + "downsample.0",
                ours + "downsample.1");
      }
      in_planes = planes * expansion;
    }
  }
  map.rename("fc_0.w_0", fc + ".weight", /*transpose=*/true);
  map.rename("fc_0.b_0", fc + ".bias");
  map.ignore_paddle_optimizer_state();
  return map;
}

}  // namespace vc::app
