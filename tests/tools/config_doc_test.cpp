// configs/README.md is generated from the key tables (build/bin/config_doc); this test fails when
// the committed file is stale, and checks that every key of every network is in it.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tools/common/config.h"
#include "tools/common/registry.h"

namespace {

TEST(ConfigDoc, ReadmeIsGeneratedFromTheKeyTables) {
  std::vector<std::pair<std::string, std::vector<const vc::app::KeyTable*>>> networks;
  const auto& registry = vc::app::default_registry();
  for (const auto& row : registry.rows()) networks.emplace_back(row.id, registry.schema()(row.id));
  const std::string expected = vc::app::config_markdown(networks);
  std::ifstream in(std::string(VC_SOURCE_DIR) + "/configs/README.md");
  ASSERT_TRUE(in) << "configs/README.md missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(doc, expected)
      << "configs/README.md is stale: regenerate it with build/bin/config_doc > configs/README.md";
  for (const auto& [id, tables] : networks) {
    for (const auto* t : tables) {
      for (const auto& k : t->keys) {
        EXPECT_NE(doc.find("| `" + k.name + "` |"), std::string::npos) << id << ": " << k.name;
        EXPECT_FALSE(k.doc.empty()) << "key " << k.name << " of table " << t->name << " has no doc";
      }
    }
  }
}

}  // namespace
