// Every YAML shipped under configs/ loads, validates, and its network builds through the registry
// and takes one forward + backward step at tiny size in every mode.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "tools/common/config.h"
#include "tools/common/registry.h"

namespace {

namespace fs = std::filesystem;
using vc::app::Mode;

std::vector<std::string> shipped_configs() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(VC_SOURCE_DIR) / "configs"))
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ShippedConfigs, LoadBuildAndStep) {
  const auto files = shipped_configs();
  ASSERT_GE(files.size(), 2u);
  torch::manual_seed(0);
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const auto cfg = vc::app::load_config(f, {});
    const auto& entry = vc::app::find_model(cfg.model.name);
    for (Mode m : {Mode::kTrain, Mode::kTest}) {
      auto model = entry.make_model(cfg, m);
      const auto& s = cfg.section(m);
      auto x = torch::randn({2, s.seg_num, 3 * s.seglen, 32, 32});  // [N, T, 3*seglen, H, W]
      model->train(m == Mode::kTrain);
      auto logits = model->forward(x);
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, cfg.model.num_classes}));
      if (m == Mode::kTrain) {
        logits.sum().backward();
        int64_t with_grad = 0;
        for (const auto& p : model->parameters()) with_grad += p.grad().defined();
        EXPECT_EQ(with_grad, static_cast<int64_t>(model->parameters().size()));
      }
    }
  }
}

TEST(Registry, UnknownNameListsKnownOnes) {
  try {
    vc::app::find_model("resnet");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("TSN"), std::string::npos);
  }
  EXPECT_EQ(vc::app::find_model("tsn").id, "TSN");
}

}  // namespace
