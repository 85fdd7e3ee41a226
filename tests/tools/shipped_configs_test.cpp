// Every YAML shipped under configs/ loads, validates, and its network builds through the registry
// and takes one forward + backward step on the row's example input in every mode; the task's loss
// and meter accept the output.
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
  const auto& registry = vc::app::default_registry();
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const auto cfg = vc::app::load_config(f, {}, {}, registry.schema());
    const auto& entry = registry.find(cfg.model.s("name"));
    const int64_t classes = cfg.model.i("num_classes");
    for (Mode m : {Mode::kTrain, Mode::kValid, Mode::kTest, Mode::kInfer}) {
      auto model = entry.make_model(cfg, m);
      model->train(m == Mode::kTrain);
      const auto input = entry.example_input(cfg, m);
      auto logits = model->forward(input);
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{input.batch_size(), classes}));
      const auto target = entry.task.target == vc::data::TargetKind::kClass
                              ? torch::zeros({input.batch_size()}, torch::kInt64)
                              : torch::zeros({input.batch_size(), classes});
      auto loss = entry.task.loss(logits, target);
      auto meter = entry.task.make_meter(cfg);
      meter->update(logits.detach(), target, loss.item<double>());
      EXPECT_EQ(meter->count(), input.batch_size());
      if (m == Mode::kTrain) {
        loss.backward();
        int64_t with_grad = 0;
        for (const auto& p : model->parameters()) with_grad += p.grad().defined();
        EXPECT_EQ(with_grad, static_cast<int64_t>(model->parameters().size()));
        // The optimizer of the config takes the row's parameter groups and steps.
        auto groups = entry.param_groups ? entry.param_groups(*model, cfg)
                                         : vc::app::single_param_group(*model);
        vc::app::OptimizerOptions oo;
        oo.type = cfg.section(Mode::kTrain).s("optimizer");
        auto opt = vc::app::make_optimizer(oo, std::move(groups));
        opt->step(0.01);
      }
    }
  }
}

TEST(Registry, UnknownNameListsKnownOnes) {
  try {
    vc::app::default_registry().find("resnet");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("TSN"), std::string::npos);
  }
  EXPECT_EQ(vc::app::default_registry().find("tsn").id, "TSN");
}

}  // namespace
