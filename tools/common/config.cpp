#include "tools/common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <variant>

#include "tools/common/errors.h"

namespace vc::app {
namespace {

enum class Scope { kModel, kShared, kTrain };

using Member =
    std::variant<int64_t SectionConfig::*, double SectionConfig::*, bool SectionConfig::*,
                 std::string SectionConfig::*, std::vector<int64_t> SectionConfig::*,
                 std::vector<double> SectionConfig::*>;

struct Key {
  const char* name;
  Scope scope;
  Member member;
  double min = -std::numeric_limits<double>::infinity();  // numbers and list elements
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  // strings; empty = any
  const char* doc = "";
};

constexpr double kInf = std::numeric_limits<double>::infinity();

// THE schema. Keep configs/README.md in step (a unit test checks every key is documented there).
const std::vector<Key>& keys() {
  // clang-format off
  static const std::vector<Key> k = {
      {"name", Scope::kModel, &SectionConfig::name, -kInf, kInf, {}, "network id (case-insensitive); must agree with --model-name"},
      {"format", Scope::kModel, &SectionConfig::format, -kInf, kInf, {"video"}, "list format: `video` = video files (mp4/avi/mkv/mov/webm) or folders of img_00001.jpg frames"},
      {"num_classes", Scope::kModel, &SectionConfig::num_classes, 1, 1e9, {}, "number of classes"},
      {"num_layers", Scope::kModel, &SectionConfig::num_layers, 18, 152, {}, "ResNet depth of the trunk: 18, 34, 50, 101 or 152"},
      {"dropout", Scope::kModel, &SectionConfig::dropout, 0, 0.999, {}, "dropout probability before the classifier (0 = none; TSN original: none)"},
      {"label_map", Scope::kModel, &SectionConfig::label_map, -kInf, kInf, {}, "class-name file, one name per line, line i = class i (relative paths: to the working directory); \"\" = print indices"},
      {"image_mean", Scope::kModel, &SectionConfig::image_mean, -10, 10, {}, "per-channel RGB mean subtracted from pixels scaled to [0, 1]"},
      {"image_std", Scope::kModel, &SectionConfig::image_std, 1e-6, 10, {}, "per-channel RGB std dividing pixels scaled to [0, 1]"},
      {"seg_num", Scope::kShared, &SectionConfig::seg_num, 1, 1024, {}, "segments sampled per video (TSN: 3 train, 7 test)"},
      {"seglen", Scope::kShared, &SectionConfig::seglen, 1, 256, {}, "consecutive frames per segment, stacked on the channel axis (3*seglen channels)"},
      {"short_size", Scope::kShared, &SectionConfig::short_size, 8, 4096, {}, "frames are scaled so that the short side is this"},
      {"target_size", Scope::kShared, &SectionConfig::target_size, 8, 4096, {}, "crop size (random crop in TRAIN, centre crop otherwise); <= short_size"},
      {"scale_mode", Scope::kShared, &SectionConfig::scale_mode, -kInf, kInf, {"group_4_3", "short_side"}, "`group_4_3`: the original, resize to a fixed 4:3 frame (S x 4S/3); `short_side`: keep the aspect ratio"},
      {"multi_scale_crop", Scope::kShared, &SectionConfig::multi_scale_crop, -kInf, kInf, {}, "TSM multi-scale crop before the random crop (TRAIN only; ignored elsewhere)"},
      {"decoder", Scope::kShared, &SectionConfig::decoder, -kInf, kInf, {"ffmpeg", "opencv"}, "video decoder: `ffmpeg` (FFmpeg libraries directly: seeks, skips unneeded frames, scales while converting) or `opencv` (cv::VideoCapture)"},
      {"decode_timeout_s", Scope::kShared, &SectionConfig::decode_timeout_s, 0.001, 86400, {}, "per-video decode time limit in seconds; a video that takes longer is skipped as \"decode timeout\""},
      {"num_reader_threads", Scope::kShared, &SectionConfig::num_reader_threads, 1, 256, {}, "decoding threads of the loader"},
      {"buf_size", Scope::kShared, &SectionConfig::buf_size, 1, 4096, {}, "batches the loader may prefetch (the original counted samples; values above 64 are clamped to 64)"},
      {"batch_size", Scope::kShared, &SectionConfig::batch_size, 1, 1e6, {}, "samples per batch"},
      {"filelist", Scope::kShared, &SectionConfig::filelist, -kInf, kInf, {}, "list file, one `<path> <label>` per line; relative video paths are relative to the list's folder"},
      {"epoch", Scope::kTrain, &SectionConfig::epoch, 0, 1e6, {}, "training epochs (used when --epoch is not given)"},
      {"learning_rate", Scope::kTrain, &SectionConfig::learning_rate, 0, 1e3, {}, "base learning rate"},
      {"learning_rate_decay", Scope::kTrain, &SectionConfig::learning_rate_decay, 0, 1, {}, "LR multiplier at each boundary"},
      {"decay_epochs", Scope::kTrain, &SectionConfig::decay_epochs, 0, 1e6, {}, "epochs at which the LR decays; [] = the TSN rule (epoch/3 and 2*epoch/3)"},
      {"l2_weight_decay", Scope::kTrain, &SectionConfig::l2_weight_decay, 0, 1, {}, "L2 decay coefficient, added to every parameter's gradient (BN included, as the original)"},
      {"momentum", Scope::kTrain, &SectionConfig::momentum, 0, 1, {}, "SGD momentum (v = m*v + g; p -= lr*v)"},
      {"total_videos", Scope::kTrain, &SectionConfig::total_videos, 0, 1e12, {}, "videos per epoch for the LR boundaries: step = int(total_videos / batch_size + 1); 0 = the TRAIN list's size"},
      {"warmup_epochs", Scope::kTrain, &SectionConfig::warmup_epochs, 0, 1e6, {}, "linear LR warmup length in epochs (0 = none; not in the original)"},
      {"warmup_start_factor", Scope::kTrain, &SectionConfig::warmup_start_factor, 0, 1, {}, "warmup starts at learning_rate * this factor"},
  };
  // clang-format on
  return k;
}

const std::array<const char*, 4> kModeNames = {"TRAIN", "VALID", "TEST", "INFER"};

bool allowed_in(const Key& key, const std::string& section) {
  switch (key.scope) {
    case Scope::kModel:
      return section == "MODEL";
    case Scope::kShared:
      return true;
    case Scope::kTrain:
      return section == "TRAIN";
  }
  return false;
}

const Key* find_key(const std::string& name) {
  for (const auto& k : keys())
    if (name == k.name) return &k;
  return nullptr;
}

std::string known_keys_in(const std::string& section) {
  std::string out;
  for (const auto& k : keys())
    if (allowed_in(k, section)) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

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

// A value waiting to be applied, with where it came from for error messages.
struct Pending {
  YAML::Node node;
  std::string origin;  // "configs/tsn.yaml:12" or "--set TRAIN.batch_size=3"
};

std::string node_text(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

[[noreturn]] void fail(const Pending& p, const std::string& path, const std::string& what) {
  throw ConfigError(p.origin + ": " + path + ": " + what + ", got " + node_text(p.node));
}

void check_range(const Key& key, double v, const Pending& p, const std::string& path) {
  if (!std::isfinite(v) || v < key.min || v > key.max) {
    std::string range = "[" + fmt_double(key.min) + ", " + fmt_double(key.max) + "]";
    fail(p, path, "value out of range " + range);
  }
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

void apply(const Key& key, SectionConfig& s, const Pending& p, const std::string& path) {
  const YAML::Node& n = p.node;
  std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(s.*member)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          int64_t v = as_int(n, p, path);
          check_range(key, static_cast<double>(v), p, path);
          s.*member = v;
        } else if constexpr (std::is_same_v<T, double>) {
          double v = as_double(n, p, path);
          check_range(key, v, p, path);
          s.*member = v;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!n.IsScalar()) fail(p, path, "expected true or false");
          try {
            s.*member = n.as<bool>();
          } catch (const YAML::Exception&) {
            fail(p, path, "expected true or false");
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!n.IsScalar() && !n.IsNull()) fail(p, path, "expected a string");
          std::string v = n.IsNull() ? "" : n.Scalar();
          if (!key.choices.empty() &&
              std::find(key.choices.begin(), key.choices.end(), v) == key.choices.end()) {
            std::string c;
            for (const auto& x : key.choices) c += (c.empty() ? "" : ", ") + x;
            fail(p, path, "expected one of {" + c + "}");
          }
          s.*member = v;
        } else {
          using E = typename T::value_type;
          if (!n.IsSequence()) fail(p, path, "expected a list");
          T out;
          for (std::size_t i = 0; i < n.size(); ++i) {
            Pending elem{n[i], p.origin};
            std::string epath = path + "[" + std::to_string(i) + "]";
            E v;
            if constexpr (std::is_same_v<E, int64_t>) {
              v = as_int(n[i], elem, epath);
            } else {
              v = as_double(n[i], elem, epath);
            }
            check_range(key, static_cast<double>(v), elem, epath);
            out.push_back(v);
          }
          s.*member = out;
        }
      },
      key.member);
}

std::string value_text(const Key& key, const SectionConfig& s) {
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::decay_t<decltype(s.*member)>;
        const auto& v = s.*member;
        if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt_double(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return "\"" + v + "\"";
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
      key.member);
}

std::string type_name(const Key& key) {
  return std::visit(
      [](auto member) -> std::string {
        using T = std::decay_t<decltype(SectionConfig{}.*member)>;
        if constexpr (std::is_same_v<T, int64_t>) return "int";
        if constexpr (std::is_same_v<T, double>) return "float";
        if constexpr (std::is_same_v<T, bool>) return "bool";
        if constexpr (std::is_same_v<T, std::string>) return "string";
        if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "list[int]";
        return "list[float]";
      },
      key.member);
}

using PendingMap = std::map<std::string, std::map<std::string, Pending>>;  // section -> key

void add_pending(PendingMap& pm, const std::string& section, const std::string& key, Pending p) {
  static const std::set<std::string> sections = {"MODEL", "TRAIN", "VALID", "TEST", "INFER"};
  if (!sections.count(section)) {
    throw ConfigError(p.origin + ": unknown section '" + section +
                      "' (expected MODEL, TRAIN, VALID, TEST or INFER)");
  }
  const Key* k = find_key(key);
  if (!k || !allowed_in(*k, section)) {
    std::string why = k ? "is not allowed in " + section : "is unknown";
    throw ConfigError(p.origin + ": key " + section + "." + key + " " + why + " (keys of " +
                      section + ": " + known_keys_in(section) + ")");
  }
  pm[section][key] = std::move(p);
}

void read_yaml(const std::string& path, PendingMap& pm) {
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
    if (!sec.second.IsMap() && !sec.second.IsNull()) {
      throw ConfigError(path + ":" + line + ": section " + section + " must be a mapping");
    }
    if (sec.second.IsNull()) continue;
    for (const auto& kv : sec.second) {
      const std::string key = kv.first.Scalar();
      add_pending(pm, section, key,
                  Pending{kv.second, path + ":" + std::to_string(kv.first.Mark().line + 1)});
    }
  }
}

void read_override(const std::string& text, PendingMap& pm) {
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
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": cannot parse value '" + value + "': " + e.msg);
  }
  if (value.empty()) node = YAML::Node(std::string());
  add_pending(pm, section, key, Pending{node, origin});
}

void validate_section(const SectionConfig& s, const std::string& section,
                      const std::string& source) {
  const std::string where = source.empty() ? "config" : source;
  if (s.image_mean.size() != 3 || s.image_std.size() != 3) {
    throw ConfigError(where + ": MODEL.image_mean and MODEL.image_std need 3 values (RGB), got " +
                      std::to_string(s.image_mean.size()) + " and " +
                      std::to_string(s.image_std.size()));
  }
  if (s.target_size > s.short_size) {
    throw ConfigError(where + ": " + section + ".target_size (" + std::to_string(s.target_size) +
                      ") must be <= " + section + ".short_size (" + std::to_string(s.short_size) +
                      ")");
  }
  const std::set<int64_t> depths = {18, 34, 50, 101, 152};
  if (!depths.count(s.num_layers)) {
    throw ConfigError(where + ": MODEL.num_layers must be one of 18, 34, 50, 101, 152, got " +
                      std::to_string(s.num_layers));
  }
  for (std::size_t i = 1; i < s.decay_epochs.size(); ++i) {
    if (s.decay_epochs[i] <= s.decay_epochs[i - 1]) {
      throw ConfigError(where + ": TRAIN.decay_epochs must be strictly increasing, got " +
                        value_text(*find_key("decay_epochs"), s));
    }
  }
}

}  // namespace

const char* mode_name(Mode mode) { return kModeNames[static_cast<int>(mode)]; }

std::vector<KeyDoc> config_keys() {
  std::vector<KeyDoc> out;
  SectionConfig defaults;
  for (const auto& k : keys()) {
    KeyDoc d;
    d.key = k.name;
    d.type = type_name(k);
    d.where = k.scope == Scope::kModel   ? "MODEL"
              : k.scope == Scope::kTrain ? "TRAIN"
                                         : "MODEL, TRAIN, VALID, TEST, INFER";
    d.default_value = value_text(k, defaults);
    if (!k.choices.empty()) {
      for (const auto& c : k.choices) d.range += (d.range.empty() ? "" : " | ") + c;
    } else if (std::isfinite(k.min)) {
      d.range = "[" + fmt_double(k.min) + ", " + fmt_double(k.max) + "]";
    }
    d.doc = k.doc;
    out.push_back(d);
  }
  return out;
}

Config load_config(const std::string& yaml_path, const std::vector<std::string>& overrides) {
  PendingMap pm;
  if (!yaml_path.empty()) read_yaml(yaml_path, pm);
  for (const auto& o : overrides) read_override(o, pm);

  Config cfg;
  cfg.source = yaml_path;
  for (const auto& [key, p] : pm["MODEL"]) {
    apply(*find_key(key), cfg.model, p, "MODEL." + key);
    cfg.explicit_keys["MODEL"].insert(key);
  }
  validate_section(cfg.model, "MODEL", yaml_path);
  for (int m = 0; m < 4; ++m) {
    const std::string section = kModeNames[m];
    cfg.modes[m] = cfg.model;  // shared keys fall back to MODEL
    for (const auto& [key, p] : pm[section]) {
      apply(*find_key(key), cfg.modes[m], p, section + "." + key);
      cfg.explicit_keys[section].insert(key);
    }
    validate_section(cfg.modes[m], section, yaml_path);
  }
  return cfg;
}

std::string config_to_yaml(const Config& cfg) {
  std::ostringstream os;
  if (!cfg.source.empty()) os << "# resolved from " << cfg.source << "\n";
  os << "MODEL:\n";
  for (const auto& k : keys())
    if (k.scope != Scope::kTrain) os << "  " << k.name << ": " << value_text(k, cfg.model) << "\n";
  for (int m = 0; m < 4; ++m) {
    os << kModeNames[m] << ":\n";
    for (const auto& k : keys()) {
      if (k.scope == Scope::kModel) continue;
      if (k.scope == Scope::kTrain && m != 0) continue;
      os << "  " << k.name << ": " << value_text(k, cfg.modes[m]) << "\n";
    }
  }
  return os.str();
}

}  // namespace vc::app
