// THE registry: one row per network, wiring its id to the model factory, the dataset (reader)
// factory and the pretrain loader. Start here when adding a network (README "How to add a
// network"). No static self-registration: registry.cpp lists every row explicitly.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/video_model.h"
#include "tools/common/config.h"

namespace vc::data {
class Dataset;
}

namespace vc::app {

struct ModelEntry {
  std::string id;       ///< canonical name as in MODEL.name and checkpoints ("TSN")
  std::string summary;  ///< one line for --help and README
  /// Builds the network for a mode (seg_num etc. from the mode's section).
  std::function<models::VideoModelPtr(const Config&, Mode)> make_model;
  /// Builds the dataset over `list_path` for a mode.
  std::function<std::shared_ptr<const data::Dataset>(const Config&, Mode, const std::string&)>
      make_dataset;
  /// Loads ImageNet weights (--pretrain) into a freshly built model.
  std::function<void(models::VideoModelImpl&, const std::string&)> load_pretrain;
};

const std::vector<ModelEntry>& registered_models();
/// Case-insensitive lookup; throws ConfigError listing the known ids.
const ModelEntry& find_model(const std::string& name);
/// "TSN" (comma-separated ids) for messages.
std::string known_model_names();

}  // namespace vc::app
