#include "tools/common/registry.h"

#include <algorithm>

#include "tools/common/errors.h"
#include "tools/common/rows/rows.h"

namespace vc::app {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
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
      tsn_row(),
      tsm_row(),
      stnet_row(),
      nonlocal_row(),
      attention_cluster_row(),
      attention_lstm_row(),
      nextvlad_row(),
  });
  return registry;
}

}  // namespace vc::app
