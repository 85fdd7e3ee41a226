// PARITY: TSM (ResNet-50, T = 4) against an independent PyTorch reference written from the
// official TSM's semantics (tests/models/tsm_reference.py), in both shift directions, through
// build/bin/run_model; and the foreign weight families: the official PyTorch TSM checkpoint and
// mmaction2's TSM / TSN checkpoints are recognised by their keys, set the options they imply
// (torch shift direction, inverted dropout) before the model is built, land every tensor where
// the reference's own renaming puts it, and give the reference's logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

#include "tests/models/test_util.h"
#include "tools/common/registry.h"
#include "tools/common/runtime.h"
#include "tools/common/state_dict.h"

namespace vc::models {
namespace {

// The reference's outputs, written once per build tree (the script takes ~15-60 s).
std::string reference_dir() {
  static const std::string dir = vc::test::cached_script_output("tsm_reference.py");
  return dir;
}

#define VC_REQUIRE_REFERENCE()             \
  VC_REQUIRE_TORCHVISION();                \
  const std::string ref = reference_dir(); \
  ASSERT_FALSE(ref.empty()) << "tests/models/tsm_reference.py failed"

torch::Tensor expected_logits(const std::string& ref, const std::string& which) {
  for (const auto& [name, t] : app::read_state_dict(ref + "/expected.pt"))
    if (name == which) return t;
  ADD_FAILURE() << "expected.pt has no " << which;
  return {};
}

// Runs build/bin/run_model and returns its logits ([N, C]) and its log.
std::pair<torch::Tensor, std::string> run_model(const std::string& model, const std::string& yaml,
                                                const std::string& weights,
                                                const std::string& extra = "") {
  vc::test::TempDir dir("tsm_run_model");
  {
    std::ofstream cfg(dir.file("cfg.yaml"));
    cfg << yaml;
  }
  const std::string cmd = std::string(VC_BINARY_DIR) + "/bin/run_model --model-name " + model +
                          " --config " + dir.file("cfg.yaml") + " --weights " + weights +
                          " --input " + reference_dir() + "/input.pt --output " +
                          dir.file("out.pt") + " --threads 2 " + extra + " > " +
                          dir.file("log.txt") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log_in(dir.file("log.txt"));
  std::string log((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << cmd << "\n" << log;
  if (rc != 0) return {torch::Tensor(), log};
  std::ifstream in(dir.file("out.pt"), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {torch::pickle_load(bytes).toTensor(), log};
}

const char* kTsmYaml = "MODEL:\n  name: TSM\n  num_classes: 10\n  num_layers: 50\n  seg_num: 4\n";

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

TEST(TsmParity, PaddleDirectionThroughRunModel) {
  VC_REQUIRE_REFERENCE();
  // Our own names: no family, the config's defaults (paddle shift, Fluid dropout 0.5).
  const auto [logits, log] = run_model("TSM", kTsmYaml, ref + "/tsm_weights.pt");
  ASSERT_TRUE(logits.defined());
  const double d = max_diff(logits, expected_logits(ref, "paddle"));
  std::cout << "TSM paddle direction (Fluid dropout) vs reference: max |dlogit| = " << d << "\n";
  EXPECT_LT(d, 1e-4);
  EXPECT_EQ(log.find("recognised as"), std::string::npos) << log;
}

TEST(TsmParity, OfficialPyTorchCheckpointThroughRunModel) {
  VC_REQUIRE_REFERENCE();
  const auto [logits, log] = run_model("TSM", kTsmYaml, ref + "/official_tsm.pth.tar");
  ASSERT_TRUE(logits.defined());
  const double d = max_diff(logits, expected_logits(ref, "torch"));
  std::cout << "TSM official PyTorch checkpoint (torch direction) vs reference: max |dlogit| = "
            << d << "\n";
  EXPECT_LT(d, 1e-4);
  EXPECT_NE(log.find("recognised as pytorch-tsm"), std::string::npos) << log;
  EXPECT_NE(log.find("MODEL.shift_direction=torch"), std::string::npos) << log;
}

TEST(TsmParity, Mmaction2TsmCheckpointThroughRunModel) {
  VC_REQUIRE_REFERENCE();
  const auto [logits, log] = run_model("TSM", kTsmYaml, ref + "/mmaction2_tsm.pth");
  ASSERT_TRUE(logits.defined());
  const double d = max_diff(logits, expected_logits(ref, "torch"));
  std::cout << "TSM mmaction2 checkpoint vs reference: max |dlogit| = " << d << "\n";
  EXPECT_LT(d, 1e-4);
  EXPECT_NE(log.find("recognised as mmaction2-tsm"), std::string::npos) << log;
}

TEST(TsmParity, Mmaction2TsnCheckpointThroughRunModel) {
  VC_REQUIRE_REFERENCE();
  const auto [logits, log] =
      run_model("TSN", "MODEL:\n  name: TSN\n  num_classes: 10\n  num_layers: 50\n",
                ref + "/mmaction2_tsn.pth", "--set TEST.seg_num=4");
  ASSERT_TRUE(logits.defined());
  const double d = max_diff(logits, expected_logits(ref, "tsn"));
  std::cout << "TSN mmaction2 checkpoint vs reference: max |dlogit| = " << d << "\n";
  EXPECT_LT(d, 1e-4);
  EXPECT_NE(log.find("recognised as mmaction2-tsn"), std::string::npos) << log;
}

// --set is applied after the family's settings: the user can still force the Paddle direction
// (the logits then differ from the torch-direction reference).
TEST(TsmParity, UserSetOverridesTheFamilySettings) {
  VC_REQUIRE_REFERENCE();
  const auto [logits, log] = run_model("TSM", kTsmYaml, ref + "/official_tsm.pth.tar",
                                       "--set MODEL.shift_direction=paddle");
  ASSERT_TRUE(logits.defined());
  EXPECT_GT(max_diff(logits, expected_logits(ref, "torch")), 1e-2);
  EXPECT_NE(log.find("overrides MODEL.shift_direction=torch"), std::string::npos) << log;
}

// In process: every tensor of the foreign files lands where the reference's own renaming
// (tsm_weights.pt) puts it, and the family's settings are what it declares.
TEST(TsmWeightFamilies, TensorsLandWhereTheReferencePutsThem) {
  VC_REQUIRE_REFERENCE();
  const app::Registry& reg = app::default_registry();
  const app::ModelEntry& row = reg.find("TSM");
  std::map<std::string, torch::Tensor> expected;
  for (auto& [name, t] : app::read_state_dict(ref + "/tsm_weights.pt")) expected[name] = t;

  for (const auto& [file, family] : std::vector<std::pair<std::string, std::string>>{
           {"official_tsm.pth.tar", "pytorch-tsm"}, {"mmaction2_tsm.pth", "mmaction2-tsm"}}) {
    SCOPED_TRACE(file);
    const app::WeightsFile w = app::read_weights(row, ref + "/" + file);
    ASSERT_NE(w.family, nullptr);
    EXPECT_EQ(w.family->name, family);
    EXPECT_EQ(w.family->sets, (std::vector<std::string>{"MODEL.shift_direction=torch",
                                                        "MODEL.dropout_impl=upscale_in_train"}));
    std::vector<std::string> sets{"MODEL.name=TSM", "MODEL.num_classes=10", "MODEL.seg_num=4"};
    sets.insert(sets.end(), w.family->sets.begin(), w.family->sets.end());
    const app::Config cfg = app::load_config("", sets, {}, reg.schema());
    auto model = row.make_model(cfg, app::Mode::kTest);
    app::load_weights(*model, row, cfg, w);
    size_t checked = 0;
    for (const auto& [name, t] : app::module_state_dict(*model)) {
      ASSERT_TRUE(expected.count(name)) << name;
      EXPECT_TRUE(torch::equal(t, expected.at(name))) << name;
      ++checked;
    }
    EXPECT_EQ(checked, expected.size());
  }
  // Our own names are no family.
  EXPECT_EQ(app::read_weights(row, ref + "/tsm_weights.pt").family, nullptr);
  // TSN does not take TSM checkpoints for its own (the shifted conv1 keys are not TSN's).
  const app::WeightsFile tsm_for_tsn =
      app::read_weights(reg.find("TSN"), ref + "/mmaction2_tsm.pth");
  EXPECT_EQ(tsm_for_tsn.family, nullptr);
}

}  // namespace
}  // namespace vc::models
