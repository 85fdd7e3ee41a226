// THE registry: one row per network, wiring its id to everything the run loops need: the model
// factory, the dataset (reader) factory, the task (loss, scores, meter), the optimizer's
// parameter groups, its config key tables, the pretrain loader and an example input. Start here
// when adding a network (README "How to add a network"). No static self-registration:
// registry.cpp lists every row explicitly; tests may build a Registry of their own rows.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/video_model.h"
#include "tools/common/config.h"
#include "tools/common/optimizer.h"
#include "tools/common/task.h"
#include "tools/common/weights/name_map.h"

namespace vc::data {
class Dataset;
}

namespace vc::app {

/// A family of foreign weights a network loads besides its own checkpoints and the original's
/// Paddle weights (e.g. the official PyTorch TSM checkpoints): recognised by its key names,
/// renamed by a name map, and implying config settings (a shift direction, a dropout
/// convention) that the run loops apply BEFORE the model is built (tools/common/runtime.h:
/// read_weights, config_for_weights).
struct WeightFamily {
  std::string name;  ///< for logs, e.g. "pytorch-tsm"
  std::string what;  ///< one line: where such weights come from
  /// True when a state dict with these keys (file order) belongs to this family.
  std::function<bool(const std::vector<std::string>& keys)> detect;
  /// Foreign names -> the network's (names no rule maps are an error).
  std::function<NameMap(const Config&)> name_map;
  /// Settings the weights imply, as --set takes them ("MODEL.shift_direction=torch"); applied
  /// after the YAML and before the user's --set.
  std::vector<std::string> sets;
};

struct ModelEntry {
  std::string id;       ///< canonical name as in MODEL.name and checkpoints ("TSN")
  std::string summary;  ///< one line for --help and README
  /// The network's key tables besides common_keys(): its reader family's and its own.
  std::vector<const KeyTable*> key_tables;
  /// Builds the network for a mode (construction-time options may depend on the mode's
  /// section, e.g. TSM's seg_num).
  std::function<models::VideoModelPtr(const Config&, Mode)> make_model;
  /// Builds the dataset over `list_path` for a mode.
  std::function<std::shared_ptr<const data::Dataset>(const Config&, Mode, const std::string&)>
      make_dataset;
  Task task;
  /// Parameter groups of the optimizer (per-group LR multiplier and weight decay); empty
  /// function = one group with every trainable parameter.
  std::function<std::vector<ParamGroup>(models::VideoModelImpl&, const Config&)> param_groups;
  /// Loads pretrained weights (--pretrain) into a freshly built model; empty = not supported.
  std::function<void(models::VideoModelImpl&, const std::string&)> load_pretrain;
  /// What --pretrain expects, for messages ("an ImageNet ResNet-50 state dict ...").
  std::string pretrain_what;
  /// A tiny batch of 2 samples for a mode (tests, parameter counts, shape checks).
  std::function<models::ModelInput(const Config&, Mode)> example_input;
  /// How foreign weight names map to the network's, per family: "paddle" for the original's
  /// released weights (Fluid per-variable directories and .pdparams). Empty = not supported.
  std::map<std::string, std::function<NameMap(const Config&)>> name_maps;
  /// Foreign weight families recognised by their keys, tried in order (empty = none).
  std::vector<WeightFamily> weight_families = {};
};

class Registry {
 public:
  explicit Registry(std::vector<ModelEntry> rows);
  const std::vector<ModelEntry>& rows() const { return rows_; }
  /// Case-insensitive lookup; throws ConfigError listing the known ids.
  const ModelEntry& find(const std::string& name) const;
  /// "TSN, ..." for messages.
  std::string known_names() const;
  /// The key tables of a network (common first), for load_config.
  SchemaFn schema() const;

 private:
  std::vector<ModelEntry> rows_;
};

/// The shipped networks.
const Registry& default_registry();

/// Every trainable parameter in one group (the default of ModelEntry::param_groups).
std::vector<ParamGroup> single_param_group(models::VideoModelImpl& model);

}  // namespace vc::app
