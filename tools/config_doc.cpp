// build/bin/config_doc — prints configs/README.md, generated from the key tables of every
// registered network (one documentation source per key):
//   build/bin/config_doc > configs/README.md
// tests/tools/config_doc_test fails when the committed file differs from this output.
#include <iostream>

#include "tools/common/config.h"
#include "tools/common/registry.h"

int main() {
  std::vector<std::pair<std::string, std::vector<const vc::app::KeyTable*>>> networks;
  const auto& registry = vc::app::default_registry();
  for (const auto& row : registry.rows()) networks.emplace_back(row.id, registry.schema()(row.id));
  std::cout << vc::app::config_markdown(networks);
  return 0;
}
