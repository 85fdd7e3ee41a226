#include "tools/common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include "tools/common/errors.h"

namespace vc::app {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const std::array<const char*, 4> kModeNames = {"TRAIN", "VALID", "TEST", "INFER"};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string fmt_double(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

KeyDef key(std::string name, KeyScope scope, Value def, double min, double max,
           std::vector<std::string> choices, std::string doc,
           std::vector<std::string> aliases = {}) {
  return KeyDef{std::move(name),    scope,          std::move(def),    min, max,
                std::move(choices), std::move(doc), std::move(aliases)};
}

// A schema: the union of the tables, by canonical name and by alias.
struct Schema {
  std::vector<const KeyTable*> tables;
  std::map<std::string, const KeyDef*> by_name;  // canonical and alias spellings
  std::vector<const KeyDef*> ordered;            // canonical, table order

  explicit Schema(std::vector<const KeyTable*> t) : tables(std::move(t)) {
    for (const KeyTable* table : tables) {
      for (const KeyDef& k : table->keys) {
        if (by_name.count(k.name)) continue;  // first table wins (tables may share a key)
        by_name[k.name] = &k;
        ordered.push_back(&k);
        for (const auto& a : k.aliases) by_name.emplace(a, &k);
      }
    }
  }
  const KeyDef* find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
};

bool allowed_in(const KeyDef& k, const std::string& section) {
  switch (k.scope) {
    case KeyScope::kModel:
      return section == "MODEL";
    case KeyScope::kShared:
      return true;
    case KeyScope::kTrain:
      return section == "TRAIN";
  }
  return false;
}

std::string known_keys_in(const Schema& schema, const std::string& section) {
  std::string out;
  for (const KeyDef* k : schema.ordered)
    if (allowed_in(*k, section)) out += (out.empty() ? "" : ", ") + k->name;
  return out;
}

// A value waiting to be applied, with where it came from for error messages.
struct Pending {
  YAML::Node node;             // from YAML / --set
  std::optional<Value> typed;  // from a dedicated flag
  std::string origin;          // "configs/tsn.yaml:12", "--set TRAIN.batch_size=3", "--filelist"
  std::string spelled;         // the key as written (an alias or the canonical name)
};

std::string node_text(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

std::string pending_text(const Pending& p) {
  return p.typed ? value_text(*p.typed) : node_text(p.node);
}

[[noreturn]] void fail(const Pending& p, const std::string& path, const std::string& what) {
  throw ConfigError(p.origin + ": " + path + ": " + what + ", got " + pending_text(p));
}

void check_range(const KeyDef& key, double v, const Pending& p, const std::string& path) {
  if (!std::isfinite(v) || v < key.min || v > key.max) {
    fail(p, path, "value out of range [" + fmt_double(key.min) + ", " + fmt_double(key.max) + "]");
  }
}

void check_choice(const KeyDef& key, const std::string& v, const Pending& p,
                  const std::string& path) {
  if (key.choices.empty() ||
      std::find(key.choices.begin(), key.choices.end(), v) != key.choices.end())
    return;
  std::string c;
  for (const auto& x : key.choices) c += (c.empty() ? "" : ", ") + x;
  fail(p, path, "expected one of {" + c + "}");
}

int64_t as_int(const YAML::Node& n, const Pending& p, const std::string& path) {
  if (!n.IsScalar()) fail(p, path, "expected an integer");
  try {
    return n.as<int64_t>();
  } catch (const YAML::Exception&) {
    fail(p, path, "expected an integer");
  }
}

double as_double(const YAML::Node& n, const Pending& p, const std::string& path) {
  if (!n.IsScalar()) fail(p, path, "expected a number");
  try {
    return n.as<double>();
  } catch (const YAML::Exception&) {
    fail(p, path, "expected a number");
  }
}

// Converts a pending value to the key's type (that of its default) and checks range / choices.
Value convert(const KeyDef& key, const Pending& p, const std::string& path) {
  if (p.typed) {
    if (p.typed->index() != key.default_value.index()) {
      // An int flag for a float key is fine.
      if (std::holds_alternative<double>(key.default_value) &&
          std::holds_alternative<int64_t>(*p.typed)) {
        const double v = static_cast<double>(std::get<int64_t>(*p.typed));
        check_range(key, v, p, path);
        return v;
      }
      fail(p, path, "expected " + value_type_name(key.default_value));
    }
    const Value& v = *p.typed;
    if (auto iv = std::get_if<int64_t>(&v)) {
      check_range(key, static_cast<double>(*iv), p, path);
      check_choice(key, std::to_string(*iv), p, path);
    } else if (auto dv = std::get_if<double>(&v)) {
      check_range(key, *dv, p, path);
    } else if (auto sv = std::get_if<std::string>(&v)) {
      check_choice(key, *sv, p, path);
    }
    return v;
  }
  const YAML::Node& n = p.node;
  return std::visit(
      [&](const auto& def) -> Value {
        using T = std::decay_t<decltype(def)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          const int64_t v = as_int(n, p, path);
          check_range(key, static_cast<double>(v), p, path);
          check_choice(key, std::to_string(v), p, path);
          return v;
        } else if constexpr (std::is_same_v<T, double>) {
          const double v = as_double(n, p, path);
          check_range(key, v, p, path);
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!n.IsScalar()) fail(p, path, "expected true or false");
          try {
            return n.as<bool>();
          } catch (const YAML::Exception&) {
            fail(p, path, "expected true or false");
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!n.IsScalar() && !n.IsNull()) fail(p, path, "expected a string");
          std::string v = n.IsNull() ? "" : n.Scalar();
          check_choice(key, v, p, path);
          return v;
        } else {
          using E = typename T::value_type;
          if (!n.IsSequence()) fail(p, path, "expected a list");
          T out;
          for (std::size_t i = 0; i < n.size(); ++i) {
            Pending elem{n[i], std::nullopt, p.origin, p.spelled};
            const std::string epath = path + "[" + std::to_string(i) + "]";
            E v;
            if constexpr (std::is_same_v<E, int64_t>) {
              v = as_int(n[i], elem, epath);
            } else {
              v = as_double(n[i], elem, epath);
            }
            check_range(key, static_cast<double>(v), elem, epath);
            out.push_back(v);
          }
          return out;
        }
      },
      key.default_value);
}

// section -> canonical key -> pending value
using PendingMap = std::map<std::string, std::map<std::string, Pending>>;

void check_section(const std::string& section, const std::string& origin) {
  static const std::set<std::string> sections = {"MODEL", "TRAIN", "VALID", "TEST", "INFER"};
  if (!sections.count(section)) {
    throw ConfigError(origin + ": unknown section '" + section +
                      "' (expected MODEL, TRAIN, VALID, TEST or INFER)");
  }
}

void add_pending(const Schema& schema, PendingMap& pm, const std::string& section,
                 const std::string& spelled, Pending p, const std::string& network) {
  check_section(section, p.origin);
  const KeyDef* k = schema.find(spelled);
  if (!k || !allowed_in(*k, section)) {
    const std::string why =
        k ? "is not allowed in " + section : "is unknown for network " + network;
    throw ConfigError(p.origin + ": key " + section + "." + spelled + " " + why + " (keys of " +
                      section + ": " + known_keys_in(schema, section) + ")");
  }
  auto& slot = pm[section];
  auto it = slot.find(k->name);
  // One source spelling the same key twice (canonical + alias) is ambiguous.
  if (it != slot.end() && it->second.spelled != spelled &&
      it->second.origin.find(':') != std::string::npos && p.origin.find(':') != std::string::npos &&
      it->second.origin.substr(0, it->second.origin.rfind(':')) ==
          p.origin.substr(0, p.origin.rfind(':'))) {
    throw ConfigError(p.origin + ": " + section + "." + spelled + " repeats " + section + "." +
                      it->second.spelled + " (" + it->second.origin + "): the same key");
  }
  p.spelled = spelled;
  slot[k->name] = std::move(p);
}

// Raw (section, key, node, origin) entries before the schema is known.
struct RawEntry {
  std::string section, key;
  YAML::Node node;
  std::string origin;
};

void read_yaml(const std::string& path, std::vector<RawEntry>& out) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open config file '" + path + "'");
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ":" + std::to_string(e.mark.line + 1) +
                      ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) return;  // empty file: defaults
  if (!root.IsMap()) throw ConfigError(path + ": the top level must be a mapping of sections");
  for (const auto& sec : root) {
    const std::string section = upper(sec.first.Scalar());
    const std::string line = std::to_string(sec.first.Mark().line + 1);
    check_section(section, path + ":" + line);
    if (!sec.second.IsMap() && !sec.second.IsNull()) {
      throw ConfigError(path + ":" + line + ": section " + section + " must be a mapping");
    }
    if (sec.second.IsNull()) continue;
    for (const auto& kv : sec.second) {
      out.push_back(RawEntry{section, kv.first.Scalar(), kv.second,
                             path + ":" + std::to_string(kv.first.Mark().line + 1)});
    }
  }
}

void read_override(const std::string& text, std::vector<RawEntry>& out) {
  const std::string origin = "--set " + text;
  auto eq = text.find('=');
  auto dot = text.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 ||
      dot + 1 == eq) {
    throw ConfigError(origin + ": expected SECTION.key=value (e.g. TRAIN.batch_size=32)");
  }
  const std::string section = upper(text.substr(0, dot));
  const std::string key = text.substr(dot + 1, eq - dot - 1);
  const std::string value = text.substr(eq + 1);
  check_section(section, origin);
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": cannot parse value '" + value + "': " + e.msg);
  }
  if (value.empty()) node = YAML::Node(std::string());
  out.push_back(RawEntry{section, key, node, origin});
}

template <class T>
const T& get_as(const SectionConfig& s, const std::string& key) {
  const Value& v = s.at(key);
  if (auto p = std::get_if<T>(&v)) return *p;
  throw ConfigError("config key " + s.section + "." + key + " is a " + value_type_name(v) +
                    ", read as another type (a bug in the caller)");
}

}  // namespace

const char* mode_name(Mode mode) { return kModeNames[static_cast<int>(mode)]; }

std::string value_type_name(const Value& v) {
  switch (v.index()) {
    case 0:
      return "int";
    case 1:
      return "float";
    case 2:
      return "bool";
    case 3:
      return "string";
    case 4:
      return "list[int]";
    default:
      return "list[float]";
  }
}

std::string value_text(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt_double(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          YAML::Emitter e;
          e << YAML::DoubleQuoted << v;
          return e.c_str();
        } else {
          std::string out = "[";
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) out += ", ";
            if constexpr (std::is_same_v<typename T::value_type, double>) {
              out += fmt_double(v[i]);
            } else {
              out += std::to_string(v[i]);
            }
          }
          return out + "]";
        }
      },
      value);
}

const Value& SectionConfig::at(const std::string& key) const {
  auto it = values.find(key);
  if (it == values.end()) {
    throw ConfigError("config key " + section + "." + key +
                      " is not part of this network's schema (a bug in the caller)");
  }
  return it->second;
}

int64_t SectionConfig::i(const std::string& key) const { return get_as<int64_t>(*this, key); }
double SectionConfig::f(const std::string& key) const { return get_as<double>(*this, key); }
bool SectionConfig::b(const std::string& key) const { return get_as<bool>(*this, key); }
const std::string& SectionConfig::s(const std::string& key) const {
  return get_as<std::string>(*this, key);
}
const std::vector<int64_t>& SectionConfig::ints(const std::string& key) const {
  return get_as<std::vector<int64_t>>(*this, key);
}
const std::vector<double>& SectionConfig::floats(const std::string& key) const {
  return get_as<std::vector<double>>(*this, key);
}

const KeyTable& common_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "common",
      "Keys of every network: what it is, the loader, the optimizer, the LR schedule and the checkpoints.",
      {
          key("name", S::kModel, std::string("TSN"), -kInf, kInf, {}, "network id (case-insensitive); selects the key tables below; must agree with --model-name"),
          key("num_classes", S::kModel, int64_t{400}, 1, 1e9, {}, "number of classes"),
          key("label_map", S::kModel, std::string(""), -kInf, kInf, {}, "class-name file (one name per line, `<index> <name>`, `<name> <index>`, a JSON list, or YouTube-8M's vocabulary.csv); relative paths are relative to the working directory; \"\" = print indices"),
          key("batch_size", S::kShared, int64_t{16}, 1, 1e6, {}, "samples per batch; with multi-view test/infer, videos per batch, and the network sees at most this many views per forward pass"),
          key("filelist", S::kShared, std::string(""), -kInf, kInf, {}, "list file of the mode's samples; relative paths inside are relative to the list's folder"),
          key("num_reader_threads", S::kShared, int64_t{12}, 1, 256, {}, "loader threads"),
          key("view_scores", S::kShared, std::string("mean"), -kInf, kInf, {"mean", "sum"}, "multi-view test/infer (a reader's num_clips x num_crops): how the views' scores (softmax for single-label networks) combine per video: `mean`, or `sum` as the original Non-local (same ranking; the loss and metrics always use the mean)"),
          key("buf_size", S::kShared, int64_t{4}, 1, 4096, {}, "batches the loader may prefetch (the original counted samples; values above 64 are clamped to 64)"),
          key("epoch", S::kTrain, int64_t{45}, 0, 1e6, {}, "training epochs (used when --epoch is not given)"),
          key("optimizer", S::kTrain, std::string("momentum"), -kInf, kInf, {"momentum", "adam", "rmsprop"}, "update rule, each exactly as Fluid's (spec §1.7): `momentum` (v = m*v + g; p -= lr*v, or Nesterov), `adam`, `rmsprop`"),
          key("learning_rate", S::kTrain, 0.01, 0, 1e3, {}, "base learning rate"),
          key("momentum", S::kTrain, 0.9, 0, 1, {}, "momentum of `momentum` (and of `rmsprop`'s moment, see rmsprop_momentum)"),
          key("nesterov", S::kTrain, false, -kInf, kInf, {}, "`momentum` with Nesterov's update p -= lr*(g + m*v)", {"use_nesterov"}),
          key("l2_weight_decay", S::kTrain, 1e-4, 0, 1, {}, "L2 decay added to the gradient of every parameter whose group does not override it (BN included, as the original)", {"weight_decay"}),
          key("adam_beta1", S::kTrain, 0.9, 0, 0.999999, {}, "`adam` beta1", {"beta1"}),
          key("adam_beta2", S::kTrain, 0.999, 0, 0.999999999, {}, "`adam` beta2", {"beta2"}),
          key("adam_epsilon", S::kTrain, 1e-8, 0, 1, {}, "`adam` epsilon, added to sqrt(v) before the bias correction (Fluid)"),
          key("rmsprop_rho", S::kTrain, 0.95, 0, 1, {}, "`rmsprop` decay of the mean squares"),
          key("rmsprop_epsilon", S::kTrain, 1e-6, 0, 1, {}, "`rmsprop` epsilon, inside the square root (Fluid)"),
          key("rmsprop_momentum", S::kTrain, 0.0, 0, 1, {}, "`rmsprop` momentum"),
          key("rmsprop_centered", S::kTrain, true, -kInf, kInf, {}, "`rmsprop` centred variant (divides by the variance, not the mean square)"),
          key("lr_policy", S::kTrain, std::string("piecewise_epoch"), -kInf, kInf, {"piecewise_epoch", "piecewise_iter", "exponential", "constant"}, "LR schedule: `piecewise_epoch` (decay at decay_epochs), `piecewise_iter` (decay at decay_iterations), `exponential` (x learning_rate_decay every decay_steps iterations, staircase), `constant`"),
          key("learning_rate_decay", S::kTrain, 0.1, 0, 1, {}, "LR multiplier at each boundary (piecewise) or per decay_steps (exponential)", {"decay_gamma"}),
          key("decay_epochs", S::kTrain, std::vector<int64_t>{}, 0, 1e6, {}, "`piecewise_epoch` boundaries in epochs; [] = the TSN rule (epoch/3 and 2*epoch/3)"),
          key("decay_iterations", S::kTrain, std::vector<int64_t>{}, 0, 1e12, {}, "`piecewise_iter` boundaries in iterations (Non-local: [150000, 300000, 400000])"),
          key("decay_steps", S::kTrain, int64_t{0}, 0, 1e12, {}, "`exponential`: iterations per decay (0 = total_videos / batch_size)"),
          key("decay_examples", S::kTrain, int64_t{0}, 0, 1e15, {}, "`exponential`: when > 0, iterations per decay = decay_examples // TRAIN.batch_size (the global batch; NeXtVLAD's lr_boundary_examples 2000000 / 160 = 12500), instead of decay_steps", {"lr_boundary_examples"}),
          key("decay_max_iterations", S::kTrain, int64_t{0}, 0, 1e12, {}, "`exponential`: when > 0, the decays happen only at the multiples of the decay interval below it, the LR then stays (NeXtVLAD's max_iter 700000: 55 decays); 0 = decay forever", {"max_iter"}),
          key("total_videos", S::kTrain, int64_t{0}, 0, 1e12, {}, "samples per epoch for the LR boundaries: step = int(total_videos / batch_size + 1) iterations per epoch; 0 = the TRAIN list's size"),
          key("num_samples", S::kTrain, int64_t{0}, 0, 1e12, {}, "when > 0, samples per epoch for the LR boundaries with Attention LSTM's rule: num_samples // batch_size iterations per epoch (Python 2 division; the original's 5000000 and decay_epochs [5] give 24410 at batch 1024), instead of total_videos'"),
          key("warmup_epochs", S::kTrain, 0.0, 0, 1e6, {}, "linear LR warmup length in epochs (0 = none; not in the original)"),
          key("warmup_start_factor", S::kTrain, 0.1, 0, 1, {}, "warmup starts at learning_rate * this factor"),
          key("tensorboard", S::kTrain, true, -kInf, kInf, {}, "write TensorBoard event files under `<save_dir>/tensorboard`: per logged step (x = global iteration) train/loss, train/<metric>, train/lr; per epoch (x = epoch) epoch/train_<metric> and valid/<metric>; view with `tensorboard --logdir <save_dir>/tensorboard`"),
          key("keep_checkpoints", S::kTrain, int64_t{3}, 0, 1e6, {}, "per-epoch checkpoints kept (the newest ones; best.pt and latest.pt are kept apart); 0 = keep all"),
          key("freeze_bn", S::kTrain, false, -kInf, kInf, {}, "train with every batch-norm layer in eval mode: normalize with the running statistics and leave them unchanged (the affine scale and shift still train); makes data-parallel training equal to one process with the same global batch (docs/distributed.md); meant for fine-tuning pretrained weights (from a random start the statistics stay at 0 / 1 and activations grow unchecked); not in the original"),
          key("channels_last", S::kTrain, true, -kInf, kInf, {}, "train (on CPU) with the 2-D convolution weights, and so the activations, in channels-last memory layout (models/common/memory_format.h), and Non-local's C2D trunk frame by frame as 2-D channels-last layers (its [1, k, k] weights channels-last-3d; models/common/resnet3d.h): LibTorch's oneDNN convolutions and batch norm then skip a layout conversion on every call; the same arithmetic; StNet and TSN steps about 10 % faster on a 2-core CPU, TSM about the same, Non-local 1.15-1.25x on one core and 1.4-1.8x on two (docs/benchmarks.md); false = LibTorch's default NCHW / NCDHW; not in the original"),
          key("fast_inference", S::kShared, true, -kInf, kInf, {}, "test / infer: run the network through the fast inference path (models/common/inference.h: traced per input shape, frozen, BN folded into the convs, oneDNN layouts, 2-D convolutions fused with their ReLU / residual add and Winograd for 3x3 ones where the CPU has it; checked against eager within 1e-3 on the first batch of each shape, eager where a trace does not apply); false = eager"),
      },
      {},
      [](const Config& cfg, const std::string& where) {
        const auto& d = cfg.section(Mode::kTrain).ints("decay_epochs");
        for (std::size_t i = 1; i < d.size(); ++i) {
          if (d[i] <= d[i - 1]) {
            throw ConfigError(where + ": TRAIN.decay_epochs must be strictly increasing, got " +
                              value_text(d));
          }
        }
        const auto& it = cfg.section(Mode::kTrain).ints("decay_iterations");
        for (std::size_t i = 1; i < it.size(); ++i) {
          if (it[i] <= it[i - 1]) {
            throw ConfigError(where + ": TRAIN.decay_iterations must be strictly increasing, got " +
                              value_text(it));
          }
        }
      }};
  // clang-format on
  return table;
}

Config load_config(const std::string& yaml_path, const std::vector<std::string>& sets,
                   const std::vector<TypedOverride>& flags, const SchemaFn& schema_fn,
                   const std::string& model_name_hint) {
  std::vector<RawEntry> raw;
  if (!yaml_path.empty()) read_yaml(yaml_path, raw);
  for (const auto& o : sets) read_override(o, raw);

  // The network decides the schema: MODEL.name (last one given), else the hint, else TSN.
  std::string network = model_name_hint.empty() ? "TSN" : model_name_hint;
  for (const auto& e : raw) {
    if (e.section == "MODEL" && e.key == "name") {
      if (!e.node.IsScalar()) {
        throw ConfigError(e.origin + ": MODEL.name: expected a string, got " + node_text(e.node));
      }
      network = e.node.Scalar();
    }
  }
  const Schema schema(schema_fn(network));

  PendingMap pm;
  for (const auto& e : raw) {
    add_pending(schema, pm, e.section, e.key, Pending{e.node, std::nullopt, e.origin, e.key},
                network);
  }
  for (const auto& f : flags) {
    const std::string section = upper(f.section);
    add_pending(schema, pm, section, f.key, Pending{YAML::Node(), f.value, f.origin, f.key},
                network);
  }

  Config cfg;
  cfg.source = yaml_path;
  cfg.tables = schema.tables;
  // Defaults, then the tables' default overrides.
  cfg.model.section = "MODEL";
  for (const KeyDef* k : schema.ordered) cfg.model.values[k->name] = k->default_value;
  std::map<std::string, std::map<std::string, Value>> table_defaults;  // section -> key -> value
  for (const KeyTable* t : schema.tables) {
    for (const auto& [path, v] : t->default_overrides) {
      const auto dot = path.find('.');
      const std::string section = upper(path.substr(0, dot));
      const std::string name = path.substr(dot + 1);
      const KeyDef* k = schema.find(name);
      if (!k || !allowed_in(*k, section) || k->default_value.index() != v.index()) {
        throw ConfigError("key table " + t->name + ": default override " + path + "=" +
                          value_text(v) + " does not fit the schema (a bug in the table)");
      }
      table_defaults[section][k->name] = v;
    }
  }
  for (const auto& [k, v] : table_defaults["MODEL"]) cfg.model.values[k] = v;
  for (const auto& [key_name, p] : pm["MODEL"]) {
    cfg.model.values[key_name] = convert(*schema.find(key_name), p, "MODEL." + p.spelled);
    cfg.explicit_keys["MODEL"].insert(key_name);
  }
  for (int m = 0; m < 4; ++m) {
    const std::string section = kModeNames[m];
    SectionConfig& s = cfg.modes[m];
    s = cfg.model;  // shared keys fall back to MODEL
    s.section = section;
    for (auto it = s.values.begin(); it != s.values.end();) {
      const KeyDef* k = schema.find(it->first);
      it = allowed_in(*k, section) ? std::next(it) : s.values.erase(it);
    }
    for (const KeyDef* k : schema.ordered) {
      if (k->scope == KeyScope::kTrain && section == "TRAIN") s.values[k->name] = k->default_value;
    }
    for (const auto& [k, v] : table_defaults[section]) s.values[k] = v;
    for (const auto& [key_name, p] : pm[section]) {
      s.values[key_name] = convert(*schema.find(key_name), p, section + "." + p.spelled);
      cfg.explicit_keys[section].insert(key_name);
    }
  }
  // Model-only keys stay in MODEL; expose them read-only in the mode sections too, so that a
  // factory reading a mode's section finds every key it may need.
  for (int m = 0; m < 4; ++m) {
    for (const KeyDef* k : schema.ordered) {
      if (k->scope == KeyScope::kModel) cfg.modes[m].values[k->name] = cfg.model.values[k->name];
    }
  }
  for (const KeyTable* t : schema.tables) {
    if (t->validate) t->validate(cfg, cfg.where());
  }
  return cfg;
}

std::string config_to_yaml(const Config& cfg) {
  const Schema schema(cfg.tables);
  std::ostringstream os;
  if (!cfg.source.empty()) os << "# resolved from " << cfg.source << "\n";
  os << "MODEL:\n";
  for (const KeyDef* k : schema.ordered) {
    if (k->scope != KeyScope::kTrain)
      os << "  " << k->name << ": " << value_text(cfg.model.at(k->name)) << "\n";
  }
  for (int m = 0; m < 4; ++m) {
    os << kModeNames[m] << ":\n";
    for (const KeyDef* k : schema.ordered) {
      if (k->scope == KeyScope::kModel) continue;
      if (k->scope == KeyScope::kTrain && m != 0) continue;
      os << "  " << k->name << ": " << value_text(cfg.modes[m].at(k->name)) << "\n";
    }
  }
  return os.str();
}

std::string config_markdown(
    const std::vector<std::pair<std::string, std::vector<const KeyTable*>>>& networks) {
  std::ostringstream os;
  os << "# Config keys\n\n"
     << "<!-- Generated by `build/bin/config_doc > configs/README.md` from the key tables in the "
        "code (tools/common/config.cpp, tools/common/readers.cpp, tools/common/registry.cpp). Do "
        "not edit by hand: tests/tools/config_doc_test fails when this file is stale. -->\n\n"
     << "A config is YAML with a `MODEL` section and the mode sections `TRAIN`, `VALID`, `TEST`, "
        "`INFER` (the original's INI sections, spec §2.1). Which keys exist depends on "
        "`MODEL.name`: every network has the common keys, the keys of its reader family and its "
        "own. Unknown keys, wrong types and out-of-range values are errors naming the file, line, "
        "key path and value.\n\n"
     << "- *MODEL* keys may only appear in `MODEL`; *TRAIN* keys only in `TRAIN`; *shared* keys "
        "may be set in `MODEL` and overridden in each mode section (a mode that does not set one "
        "uses `MODEL`'s value).\n"
     << "- Precedence: built-in defaults < the network's own defaults < the YAML file < `--set "
        "SECTION.key=value` (repeatable, applied in order; the value is YAML: `3`, `0.1`, "
        "`[40, 60]`, `true`) < dedicated flags (`--batch-size`, `--learning-rate`, `--epoch`, "
        "`--filelist`: typed values, never parsed as YAML, so any path works).\n"
     << "- The original's spellings are accepted where they differ (column *also*).\n"
     << "- The resolved config is logged at start and saved in every checkpoint.\n\n";
  os << "## Networks and their key tables\n\n| network | key tables |\n|---|---|\n";
  for (const auto& [id, tables] : networks) {
    std::string t;
    for (const KeyTable* kt : tables) t += (t.empty() ? "" : ", ") + kt->name;
    os << "| " << id << " | " << t << " |\n";
  }
  std::vector<const KeyTable*> seen;
  for (const auto& [id, tables] : networks) {
    for (const KeyTable* kt : tables) {
      if (std::find(seen.begin(), seen.end(), kt) != seen.end()) continue;
      seen.push_back(kt);
      os << "\n## " << kt->name << "\n\n" << kt->doc << "\n\n";
      if (!kt->default_overrides.empty()) {
        os << "Changes the defaults of:";
        for (const auto& [path, v] : kt->default_overrides)
          os << " `" << path << ": " << value_text(v) << "`";
        os << ".\n\n";
      }
      os << "| key | type | sections | default | range | meaning | also |\n"
            "|---|---|---|---|---|---|---|\n";
      for (const KeyDef& k : kt->keys) {
        std::string range;
        if (!k.choices.empty()) {
          for (const auto& c : k.choices) range += (range.empty() ? "" : " \\| ") + ("`" + c + "`");
        } else if (std::isfinite(k.min)) {
          range = "[" + fmt_double(k.min) + ", " + fmt_double(k.max) + "]";
        }
        std::string also;
        for (const auto& a : k.aliases) also += (also.empty() ? "" : ", ") + ("`" + a + "`");
        const char* where = k.scope == KeyScope::kModel   ? "MODEL"
                            : k.scope == KeyScope::kTrain ? "TRAIN"
                                                          : "shared";
        std::string doc = k.doc;
        std::string::size_type pos = 0;
        while ((pos = doc.find('|', pos)) != std::string::npos) {
          doc.replace(pos, 1, "\\|");
          pos += 2;
        }
        os << "| `" << k.name << "` | " << value_type_name(k.default_value) << " | " << where
           << " | `" << value_text(k.default_value) << "` | " << range << " | " << doc << " | "
           << also << " |\n";
      }
    }
  }
  return os.str();
}

}  // namespace vc::app
