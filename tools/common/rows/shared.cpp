#include "tools/common/errors.h"
#include "tools/common/rows/rows.h"
#include "tools/common/state_dict.h"

namespace vc::app {

void load_resnet_pretrain(models::VideoModelImpl& model, const std::string& path) {
  for (const auto& child : model.named_children()) {
    if (child.key() == "backbone") {
      LoadOptions opt;
      opt.skip_prefixes = {"fc."};
      load_state_dict(*child.value(), read_state_dict(path), opt, path);
      return;
    }
  }
  throw ConfigError("model has no 'backbone' submodule to load --pretrain " + path + " into");
}

models::ModelInput kinetics_example(const Config& cfg, Mode mode) {
  const SectionConfig& s = cfg.section(mode);
  return models::ModelInput(torch::randn({2, s.i("seg_num"), 3 * s.i("seglen"), 32, 32}));
}

}  // namespace vc::app
