#include "tools/common/registry.h"

#include <algorithm>

#include "models/common/resnet.h"
#include "models/tsn/tsn.h"
#include "tools/common/errors.h"
#include "tools/common/readers.h"
#include "tools/common/state_dict.h"

namespace vc::app {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
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

// ---------------------------------------------------------------------------------------------
// TSN
const KeyTable& tsn_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "TSN",
      "Temporal Segment Network (spec §6.5): a 2-D ResNet per segment, average consensus, fc.",
      {
          {"num_layers", S::kModel, int64_t{50}, 18, 152, {"18", "34", "50", "101", "152"}, "ResNet depth of the trunk", {}},
          {"dropout", S::kModel, 0.0, 0, 0.999, {}, "dropout probability before the classifier, Fluid semantics (x(1-p) at inference); 0 = none (the original TSN)", {}},
      },
      {},
      nullptr};
  // clang-format on
  return table;
}

models::VideoModelPtr make_tsn(const Config& cfg, Mode mode) {
  const SectionConfig& s = cfg.section(mode);
  return models::Tsn(models::TsnOptions()
                         .num_classes(cfg.model.i("num_classes"))
                         .seglen(s.i("seglen"))
                         .depth(cfg.model.i("num_layers"))
                         .dropout(cfg.model.f("dropout")))
      .ptr();
}

// [2, seg_num, 3*seglen, 32, 32] of the mode (tiny frames: any size >= 32 works for a ResNet).
models::ModelInput kinetics_example(const Config& cfg, Mode mode) {
  const SectionConfig& s = cfg.section(mode);
  return models::ModelInput(torch::randn({2, s.i("seg_num"), 3 * s.i("seglen"), 32, 32}));
}

}  // namespace

std::vector<ParamGroup> single_param_group(models::VideoModelImpl& model) {
  ParamGroup g;
  g.name = "all";
  for (auto& p : model.named_parameters()) {
    if (p.value().requires_grad()) g.params.emplace_back(p.key(), p.value());
  }
  return {g};
}

Registry::Registry(std::vector<ModelEntry> rows) : rows_(std::move(rows)) {
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (upper(rows_[i].id) == upper(rows_[j].id)) {
        throw ConfigError("registry: network id " + rows_[i].id + " appears twice");
      }
    }
  }
}

std::string Registry::known_names() const {
  std::string out;
  for (const auto& r : rows_) out += (out.empty() ? "" : ", ") + r.id;
  return out;
}

const ModelEntry& Registry::find(const std::string& name) const {
  for (const auto& r : rows_)
    if (upper(r.id) == upper(name)) return r;
  throw ConfigError("unknown model name '" + name + "' (known: " + known_names() + ")");
}

SchemaFn Registry::schema() const {
  return [this](const std::string& name) {
    const ModelEntry& e = find(name);
    std::vector<const KeyTable*> tables{&common_keys()};
    for (const KeyTable* t : e.key_tables) tables.push_back(t);
    return tables;
  };
}

const Registry& default_registry() {
  static const Registry registry({
      {"TSN",
       "Temporal Segment Network: ResNet per frame, average consensus (Kinetics video)",
       {&kinetics_reader_keys(), &tsn_keys()},
       make_tsn,
       make_kinetics_dataset,
       single_label_task(),
       nullptr,
       load_resnet_pretrain,
       "an ImageNet ResNet state dict as torchvision writes it "
       "(torch.save(torchvision.models.resnet50(weights=...).state_dict(), f))",
       kinetics_example,
       {{"paddle",
         [](const Config& cfg) {
           return paddle_resnet_map("backbone.", static_cast<int>(cfg.model.i("num_layers")), "fc");
         }}}},
  });
  return registry;
}

}  // namespace vc::app
