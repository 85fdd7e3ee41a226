// Typed run configuration by scope: the schema of configs/*.yaml.
//
// A config has a MODEL section and four mode sections TRAIN / VALID / TEST / INFER, as in the
// original PaddleCV/video configs (spec §2.1). Keys are declared in key tables: the common table
// (run, loader, optimizer and LR schedule: common_keys()), a reader-family table (e.g. the
// Kinetics reader's) and each network's own table, all listed by the network's registry row.
// Only the keys of the tables of the configured network are accepted. Every key is declared
// once (name, type, scope, default, range, documentation, original spellings);
// configs/README.md is generated from the tables (`build/bin/config_doc`). YAML only overrides.
//
// Scopes: MODEL-only keys; shared keys, set in MODEL and overridable per mode (a mode section
// that does not set one falls back to MODEL's value); TRAIN-only keys.
//
// Precedence: defaults < the network's default overrides < YAML file < `--set
// SECTION.key=value` (in order) < dedicated flags (typed overrides, never re-parsed as YAML).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "datareader/phase.h"

namespace vc::app {

/// The run mode: the same enum as the readers' phase.
using Mode = data::Phase;
const char* mode_name(Mode mode);  // "TRAIN", "VALID", "TEST", "INFER"

/// A config value: int, float, bool, string, list of ints or list of floats.
using Value =
    std::variant<int64_t, double, bool, std::string, std::vector<int64_t>, std::vector<double>>;
/// "int", "float", "bool", "string", "list[int]", "list[float]".
std::string value_type_name(const Value& v);
/// YAML-style text of a value ("3", "0.1", "true", "\"x\"", "[1, 2]").
std::string value_text(const Value& v);

enum class KeyScope {
  kModel,   ///< MODEL only
  kShared,  ///< MODEL, overridable in TRAIN / VALID / TEST / INFER
  kTrain,   ///< TRAIN only
};

/// One declared key.
struct KeyDef {
  std::string name;
  KeyScope scope = KeyScope::kModel;
  Value default_value;                                    ///< also fixes the key's type
  double min = -std::numeric_limits<double>::infinity();  ///< numbers and list elements
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  ///< strings (and ints as text); empty = any
  std::string doc;
  /// Other accepted spellings, e.g. the original's `weight_decay` for `l2_weight_decay`.
  std::vector<std::string> aliases;
};

class Config;

/// A named group of keys: "common", "Kinetics reader", "TSN", ...
struct KeyTable {
  std::string name;
  std::string doc;  ///< one paragraph for configs/README.md
  std::vector<KeyDef> keys;
  /// Defaults this table changes for keys of other tables (a network's optimizer, say), as
  /// "SECTION.key" -> value; applied before the YAML.
  std::vector<std::pair<std::string, Value>> default_overrides;
  /// Cross-key checks of this table's keys on the resolved config; throw ConfigError naming
  /// `where` (the config file) and the key path.
  std::function<void(const Config&, const std::string& where)> validate;
};

/// The resolved values of one section (every key of the schema that is allowed there).
class SectionConfig {
 public:
  int64_t i(const std::string& key) const;
  double f(const std::string& key) const;
  bool b(const std::string& key) const;
  const std::string& s(const std::string& key) const;
  const std::vector<int64_t>& ints(const std::string& key) const;
  const std::vector<double>& floats(const std::string& key) const;
  bool has(const std::string& key) const { return values.count(key) != 0; }
  /// The value of `key`; throws ConfigError when the schema has no such key here.
  const Value& at(const std::string& key) const;

  std::string section;  ///< "MODEL", "TRAIN", ...
  std::map<std::string, Value> values;
};

class Config {
 public:
  std::string source;                  ///< the YAML file it came from ("" if none)
  SectionConfig model;                 ///< MODEL
  std::array<SectionConfig, 4> modes;  ///< TRAIN, VALID, TEST, INFER (after fallback)
  /// Keys given explicitly (YAML or --set or flags) per section, "MODEL" / "TRAIN" / ...
  std::map<std::string, std::set<std::string>> explicit_keys;
  /// The key tables of the schema (common first).
  std::vector<const KeyTable*> tables;

  const SectionConfig& section(Mode m) const { return modes[static_cast<int>(m)]; }
  SectionConfig& section(Mode m) { return modes[static_cast<int>(m)]; }
  /// Where errors should point: the YAML path or "config".
  std::string where() const { return source.empty() ? "config" : source; }
};

/// A typed override from a dedicated flag (`--filelist`, `--batch-size`, ...): applied after
/// the YAML and --set, never parsed as YAML text.
struct TypedOverride {
  std::string section;  ///< "TRAIN", ...
  std::string key;
  Value value;
  std::string origin;  ///< "--filelist", for messages
};

/// The table of keys every network has: name, num_classes, label_map, loader, optimizer, LR
/// schedule, checkpoints.
const KeyTable& common_keys();

/// Returns the key tables for a network id (common_keys() included); throws ConfigError for an
/// unknown id. Supplied by the registry (tools/common/registry.h: schema_for).
using SchemaFn = std::function<std::vector<const KeyTable*>(const std::string& model_name)>;

/// Loads `yaml_path` (empty: defaults only), applies the --set `sets` ("SECTION.key=value", in
/// order; the value is parsed as a YAML scalar or flow list), then `flags`; resolves fallbacks
/// and validates. The network (hence the schema) is MODEL.name of the YAML / --set, else
/// `model_name_hint` (--model-name), else "TSN". Throws ConfigError / IoError naming file, key
/// path and value.
Config load_config(const std::string& yaml_path, const std::vector<std::string>& sets,
                   const std::vector<TypedOverride>& flags, const SchemaFn& schema,
                   const std::string& model_name_hint = "");

/// The resolved config as YAML text (all sections, every key), for logs and checkpoints.
std::string config_to_yaml(const Config& cfg);

/// configs/README.md: the precedence rules, then one table per key table (key, type, sections,
/// default, range, meaning, original spellings), then which tables each network uses.
/// `networks`: (id, its tables) in registry order.
std::string config_markdown(
    const std::vector<std::pair<std::string, std::vector<const KeyTable*>>>& networks);

}  // namespace vc::app
