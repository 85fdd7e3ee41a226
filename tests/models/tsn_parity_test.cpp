// PARITY: TSN (ResNet-50) against torchvision with the same weights and input
// (tests/models/tsn_reference.py): max |logits difference| < 1e-4.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "models/tsn/tsn.h"
#include "tests/models/test_util.h"
#include "tools/common/state_dict.h"

namespace vc::models {
namespace {

TEST(TsnParity, ResNet50MatchesTorchvision) {
  VC_REQUIRE_TORCHVISION();
  vc::test::TempDir dir("tsn_parity");
  ASSERT_EQ(vc::test::run_script("tsn_reference.py", dir.str()), 0);

  // torchvision keys -> TSN keys: trunk under "backbone.", the classifier stays "fc.".
  const app::StateDict weights = app::read_state_dict(dir.file("weights.pt"));
  app::StateDict mapped;
  for (const auto& kv : weights) {
    const bool classifier = kv.first.rfind("fc.", 0) == 0;
    mapped.emplace_back(classifier ? kv.first : "backbone." + kv.first, kv.second);
  }
  Tsn net(TsnOptions().num_classes(10).seglen(1).depth(50));
  app::load_state_dict(*net, mapped, app::LoadOptions{}, dir.file("weights.pt"));
  net->eval();

  const app::StateDict io = app::read_state_dict(dir.file("io.pt"));
  ASSERT_EQ(io.size(), 2u);
  ASSERT_EQ(io[0].first, "input");
  const torch::Tensor& input = io[0].second;     // [2, 3, 3, 112, 112]
  const torch::Tensor& expected = io[1].second;  // [2, 10]
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = net->forward(input);
  }
  ASSERT_EQ(logits.sizes(), expected.sizes());
  const double diff = (logits - expected).abs().max().item<double>();
  std::cout << "TSN/ResNet-50 vs torchvision: max |logits diff| = " << diff << " (logit scale "
            << expected.abs().max().item<double>() << ")\n";
  EXPECT_LT(diff, 1e-4);
}

// The same check through build/bin/run_model, the tool every parity test uses: inputs and
// weights saved from Python, logits read back by Python.
TEST(TsnParity, ThroughRunModel) {
  VC_REQUIRE_TORCHVISION();
  vc::test::TempDir dir("tsn_parity_run_model");
  ASSERT_EQ(vc::test::run_script("tsn_reference.py", dir.str()), 0);
  {
    std::ofstream cfg(dir.file("tsn.yaml"));
    cfg << "MODEL:\n  name: TSN\n  num_classes: 10\n  num_layers: 50\n  seglen: 1\n";
  }
  const std::string cmd = std::string(VC_BINARY_DIR) + "/bin/run_model --model-name TSN --config " +
                          dir.file("tsn.yaml") + " --weights " + dir.file("tsn_weights.pt") +
                          " --input " + dir.file("input.pt") + " --output " + dir.file("out.pt") +
                          " --threads 2 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  {
    std::ofstream py(dir.file("cmp.py"));
    py << "import torch\n"
          "e = torch.load('"
       << dir.file("io.pt")
       << "')['logits']\n"
          "o = torch.load('"
       << dir.file("out.pt")
       << "')\n"
          "d = (o - e).abs().max().item()\n"
          "print('run_model vs torchvision: max |diff| =', d)\n"
          "raise SystemExit(0 if o.shape == e.shape and d < 1e-4 else 1)\n";
  }
  EXPECT_EQ(std::system(("/usr/bin/python3 " + dir.file("cmp.py")).c_str()), 0);
}

}  // namespace
}  // namespace vc::models
