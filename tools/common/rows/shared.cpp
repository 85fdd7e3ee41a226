#include <filesystem>
#include <regex>

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

models::ModelInput yt8m_example(const Config& cfg, Mode mode) {
  const int64_t seg_num = cfg.model.i("seg_num");
  const bool dequantize = cfg.model.b("dequantize");
  // Quantized-looking values: integers 0..255, dequantized as the reader does when asked.
  auto features = [&](int64_t t, int64_t width) {
    torch::Tensor x = torch::randint(0, 256, {2, t, width}, torch::kFloat32);
    return dequantize ? x * (4.0 / 255.0) + (4.0 / 512.0 - 2.0) : x;
  };
  if (seg_num > 0)  // fixed-length samples, stacked
    return models::ModelInput(
        {{"rgb", features(seg_num, 1024)}, {"audio", features(seg_num, 128)}});
  // Variable length: sample 0 has 7 frames, sample 1 has 4 (zero padding after them).
  const int64_t t_max = 7;
  torch::Tensor lengths = torch::tensor({int64_t{7}, int64_t{4}});
  torch::Tensor mask =
      (torch::arange(t_max).unsqueeze(0) < lengths.unsqueeze(1)).to(torch::kFloat32);
  torch::Tensor rgb = features(t_max, 1024) * mask.unsqueeze(2);   // [2, 7, 1024]
  torch::Tensor audio = features(t_max, 128) * mask.unsqueeze(2);  // [2, 7, 128]
  return models::ModelInput({{"rgb", rgb}, {"audio", audio}, {"mask", mask}, {"lengths", lengths}});
}

namespace {

// True when one of `keys` fully matches `regex`.
bool any_key(const std::vector<std::string>& keys, const std::string& regex) {
  const std::regex re(regex);
  for (const auto& k : keys)
    if (std::regex_match(k, re)) return true;
  return false;
}

const std::vector<std::string> kTorchTrainedTsm = {"MODEL.shift_direction=torch",
                                                   "MODEL.dropout_impl=upscale_in_train"};

}  // namespace

WeightFamily pytorch_tsm_family() {
  WeightFamily f;
  f.name = "pytorch-tsm";
  f.what = "official PyTorch TSM checkpoint (mit-han-lab/temporal-shift-module)";
  f.detect = [](const std::vector<std::string>& keys) {
    return any_key(keys, R"((?:module\.)?base_model\.layer1\.0\.conv1\.net\.weight)");
  };
  f.name_map = [](const Config&) {
    NameMap m;
    const std::string mod = R"((?:module\.)?)";
    m.rule({mod + R"(base_model\.(conv1|bn1)\.(.+))", "backbone.$1.$2"});
    // The shift wraps conv1 of every block: TemporalShift(conv1).net.
    m.rule(
        {mod + R"(base_model\.(layer\d+\.\d+)\.conv1\.net\.weight)", "backbone.$1.conv1.weight"});
    m.rule({mod + R"(base_model\.(layer\d+\.\d+\.(?:conv[23]|bn[123]|downsample\.[01])\..+))",
            "backbone.$1"});
    // dropout > 0: the classifier is new_fc (base_model.fc became a Dropout); dropout 0:
    // base_model.fc.
    m.rule({mod + R"(new_fc\.(weight|bias))", "fc.$1"});
    m.rule({mod + R"(base_model\.fc\.(weight|bias))", "fc.$1"});
    return m;
  };
  f.sets = kTorchTrainedTsm;
  return f;
}

WeightFamily mmaction2_resnet_family(bool shifted) {
  WeightFamily f;
  f.name = shifted ? "mmaction2-tsm" : "mmaction2-tsn";
  f.what = shifted ? "mmaction2 ResNetTSM + TSMHead checkpoint"
                   : "mmaction2 ResNet + TSNHead checkpoint";
  // The shifted conv1 of a ResNetTSM block: conv1.conv = TemporalShift(conv1.conv).
  const std::string shifted_conv1 = R"(conv1\.conv\.net\.weight)";
  f.detect = [shifted, shifted_conv1](const std::vector<std::string>& keys) {
    if (!any_key(keys, R"(cls_head\.fc_cls\.weight)")) return false;
    const bool has_shift = any_key(keys, R"(backbone\.layer1\.0\.)" + shifted_conv1);
    const bool has_plain = any_key(keys, R"(backbone\.layer1\.0\.conv1\.conv\.weight)");
    return shifted ? has_shift : (has_plain && !has_shift);
  };
  f.name_map = [shifted, shifted_conv1](const Config&) {
    NameMap m;
    m.rename("backbone.conv1.conv.weight", "backbone.conv1.weight");
    m.rule({R"(backbone\.conv1\.bn\.(.+))", "backbone.bn1.$1"});
    if (shifted) {
      m.rule({R"(backbone\.(layer\d+\.\d+)\.)" + shifted_conv1, "backbone.$1.conv1.weight"});
    }
    // TSM: conv1 without the shift does not map (every block of ours is shifted).
    m.rule({std::string(R"(backbone\.(layer\d+\.\d+)\.conv()") + (shifted ? "[23]" : "[123]") +
                R"()\.conv\.weight)",
            "backbone.$1.conv$2.weight"});
    m.rule({R"(backbone\.(layer\d+\.\d+)\.conv([123])\.bn\.(.+))", "backbone.$1.bn$2.$3"});
    m.rule({R"(backbone\.(layer\d+\.\d+)\.downsample\.conv\.weight)",
            "backbone.$1.downsample.0.weight"});
    m.rule({R"(backbone\.(layer\d+\.\d+)\.downsample\.bn\.(.+))", "backbone.$1.downsample.1.$2"});
    m.rule({R"(cls_head\.fc_cls\.(weight|bias))", "fc.$1"});
    return m;
  };
  if (shifted) f.sets = kTorchTrainedTsm;
  return f;
}

}  // namespace vc::app
