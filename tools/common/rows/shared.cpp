#include <filesystem>

#include "models/common/resnet.h"
#include "tools/common/errors.h"
#include "tools/common/logging.h"
#include "tools/common/rows/rows.h"
#include "tools/common/state_dict.h"
#include "tools/common/weights/paddle.h"

namespace vc::app {

namespace fs = std::filesystem;

bool is_paddle_weights_path(const std::string& path) {
  const bool pdparams = path.size() > 9 && path.compare(path.size() - 9, 9, ".pdparams") == 0;
  return fs::is_directory(path) || pdparams || fs::is_regular_file(path + ".pdparams");
}

StateDict read_resnet_pretrain(const std::string& path, int64_t depth,
                               const std::vector<std::string>& skip_paddle) {
  if (!is_paddle_weights_path(path)) {
    if (!fs::exists(path)) throw IoError("--pretrain: weights not found: '" + path + "'");
    StateDict out;
    for (auto& kv : read_state_dict(path)) {
      if (kv.first.rfind("fc.", 0) != 0) out.push_back(std::move(kv));  // ImageNet classifier
    }
    return out;
  }
  if (depth <= 0) {
    throw ConfigError("--pretrain " + path +
                      " holds Paddle weights, but the model's trunk is not a ResNet of known "
                      "depth to map their names onto");
  }
  StateDict kept;
  size_t skipped = 0;
  for (auto& kv : read_paddle_weights(path)) {
    bool skip = false;
    for (const auto& s : skip_paddle) skip = skip || kv.first.find(s) != std::string::npos;
    if (skip) {
      ++skipped;
    } else {
      kept.push_back(std::move(kv));
    }
  }
  NameMapReport report;
  StateDict ours = paddle_resnet_map("", static_cast<int>(depth), "fc").apply(kept, path, &report);
  if (!report.unmapped.empty()) {
    std::string names;
    for (const auto& n : report.unmapped) names += "\n  " + n;
    throw StateDictError("--pretrain " + path + ": " + std::to_string(report.unmapped.size()) +
                         " Paddle variable(s) are not part of a ResNet-" + std::to_string(depth) +
                         " (num_layers right?):" + names);
  }
  std::string patterns;
  for (const auto& s : skip_paddle) patterns += (patterns.empty() ? "" : ", ") + s;
  log_info("--pretrain " + path + ": Paddle ResNet-" + std::to_string(depth) + ", " +
           std::to_string(report.mapped.size()) + " variables mapped, " + std::to_string(skipped) +
           " skipped (names containing " + patterns + "), " +
           std::to_string(report.ignored.size()) + " optimizer/state variables ignored");
  return ours;
}

void load_resnet_pretrain(models::VideoModelImpl& model, const std::string& path) {
  for (const auto& child : model.named_children()) {
    if (child.key() == "backbone") {
      const auto* resnet = child.value()->as<models::ResNetImpl>();
      const int64_t depth = resnet ? resnet->options.depth() : 0;
      LoadOptions opt;
      opt.skip_prefixes = {"fc."};
      load_state_dict(*child.value(), read_resnet_pretrain(path, depth, {"fc_0"}), opt, path);
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
