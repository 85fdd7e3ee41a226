#include "tools/common/registry.h"

#include <algorithm>

#include "datareader/kinetics_reader.h"
#include "models/tsn/tsn.h"
#include "tools/common/errors.h"
#include "tools/common/state_dict.h"

namespace vc::app {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

data::Phase phase_of(Mode m) {
  switch (m) {
    case Mode::kTrain:
      return data::Phase::kTrain;
    case Mode::kValid:
      return data::Phase::kValid;
    case Mode::kTest:
      return data::Phase::kTest;
    case Mode::kInfer:
      return data::Phase::kInfer;
  }
  return data::Phase::kTest;
}

// Reader options of the Kinetics family (TSN, TSM, StNet) from one mode's section.
data::KineticsReaderOptions kinetics_options(const Config& cfg, Mode mode) {
  const SectionConfig& s = cfg.section(mode);
  data::KineticsReaderOptions o;
  o.phase = phase_of(mode);
  o.seg_num = s.seg_num;
  o.seglen = s.seglen;
  o.short_size = s.short_size;
  o.target_size = s.target_size;
  o.num_classes = cfg.model.num_classes;
  o.scale_mode =
      s.scale_mode == "short_side" ? data::ScaleMode::kShortSide : data::ScaleMode::kGroup43;
  o.multi_scale_crop = s.multi_scale_crop && mode == Mode::kTrain;
  o.decoder = s.decoder;
  o.decode_timeout_s = s.decode_timeout_s;
  for (int c = 0; c < 3; ++c) {
    o.image_mean[c] = static_cast<float>(cfg.model.image_mean[c]);
    o.image_std[c] = static_cast<float>(cfg.model.image_std[c]);
  }
  o.require_label = mode != Mode::kInfer;
  return o;
}

std::shared_ptr<const data::Dataset> make_kinetics(const Config& cfg, Mode mode,
                                                   const std::string& list) {
  return std::make_shared<data::KineticsDataset>(list, kinetics_options(cfg, mode));
}

// ImageNet ResNet weights into `backbone.*`; the classifier (fc.*) is skipped.
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

}  // namespace

const std::vector<ModelEntry>& registered_models() {
  static const std::vector<ModelEntry> rows = {
      {"TSN", "Temporal Segment Network: ResNet per frame, average consensus (Kinetics video)",
       [](const Config& cfg, Mode mode) -> models::VideoModelPtr {
         const SectionConfig& s = cfg.section(mode);
         return models::Tsn(models::TsnOptions()
                                .num_classes(cfg.model.num_classes)
                                .seg_num(s.seg_num)
                                .seglen(s.seglen)
                                .depth(cfg.model.num_layers)
                                .dropout(cfg.model.dropout))
             .ptr();
       },
       make_kinetics, load_resnet_pretrain},
  };
  return rows;
}

std::string known_model_names() {
  std::string out;
  for (const auto& r : registered_models()) out += (out.empty() ? "" : ", ") + r.id;
  return out;
}

const ModelEntry& find_model(const std::string& name) {
  for (const auto& r : registered_models())
    if (upper(r.id) == upper(name)) return r;
  throw ConfigError("unknown model name '" + name + "' (known: " + known_model_names() + ")");
}

}  // namespace vc::app
