// The fast inference path on every network of the registry: for each row, its default config and
// its example input in TEST and INFER, the wrapped model's logits equal eager within 1e-3 (the
// path's own check), through the traced graph unless the network opts out of tracing. New rows
// are covered when they are listed in default_registry().
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/common/inference.h"
#include "tools/common/config.h"
#include "tools/common/registry.h"
#include "tools/common/runtime.h"

namespace {

using vc::app::Mode;

// Eval-mode BN with non-trivial statistics, so that folding them is exercised.
void randomise_bn(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& mod : m.modules()) {
    for (auto& b : mod->named_buffers(/*recurse=*/false)) {
      if (b.key() == "running_mean") b.value().normal_(0.0, 0.1);
      if (b.key() == "running_var") b.value().uniform_(0.5, 2.0);
    }
  }
}

TEST(FastInference, EveryRegistryRowMatchesEager) {
  const auto& registry = vc::app::default_registry();
  ASSERT_FALSE(registry.rows().empty());
  for (const auto& entry : registry.rows()) {
    SCOPED_TRACE(entry.id);
    // Defaults, except a file the original's default points at and a fresh machine lacks
    // (NeXtVLAD's PCA eigenvalues: `none` = no scaling; the network's work is the same).
    std::vector<std::string> sets;
    for (const auto* table : entry.key_tables)
      for (const auto& key : table->keys)
        if (key.name == "eigen_file") sets.push_back("MODEL.eigen_file=none");
    const auto cfg = vc::app::load_config("", sets, {}, registry.schema(), entry.id);
    for (Mode m : {Mode::kTest, Mode::kInfer}) {
      SCOPED_TRACE(vc::app::mode_name(m));
      torch::manual_seed(7);
      auto model = entry.make_model(cfg, m);
      randomise_bn(*model);
      model->eval();
      const auto input = entry.example_input(cfg, m);
      torch::Tensor eager;
      {
        torch::NoGradGuard ng;
        eager = model->forward(input);
      }
      auto fast = vc::models::make_fast_inference(model);
      fast->eval();
      const torch::Tensor out = fast->forward(input);
      ASSERT_EQ(out.sizes(), eager.sizes());
      EXPECT_LT((out - eager).abs().max().item<double>(), 1e-3);
      if (model->supports_traced_inference()) {
        EXPECT_EQ(fast->stats().fast_calls, 1) << "the traced graph was rejected";
        // The second call takes the cached graph and must agree as well.
        EXPECT_LT((fast->forward(input) - eager).abs().max().item<double>(), 1e-3);
      }
    }
  }
}

TEST(FastInference, ConfigKeyChoosesThePath) {
  const auto& registry = vc::app::default_registry();
  const auto& entry = registry.rows().front();
  for (const bool on : {true, false}) {
    const auto cfg =
        vc::app::load_config("", {std::string("TEST.fast_inference=") + (on ? "true" : "false")},
                             {}, registry.schema(), entry.id);
    auto model = entry.make_model(cfg, Mode::kTest);
    auto used = vc::app::inference_model(model, cfg.section(Mode::kTest), "[TEST]");
    EXPECT_EQ(used.get() == model.get(), !on);
    EXPECT_EQ(std::dynamic_pointer_cast<vc::models::FastInferenceImpl>(used) != nullptr, on);
  }
  // The default is on, in every mode section.
  const auto cfg = vc::app::load_config("", {}, {}, registry.schema(), entry.id);
  EXPECT_TRUE(cfg.section(Mode::kTest).b("fast_inference"));
  EXPECT_TRUE(cfg.section(Mode::kInfer).b("fast_inference"));
}

}  // namespace
