// PARITY: TSN (ResNet-50) against torchvision with the same weights and input
// (tests/models/tsn_reference.py): max |logits difference| < 1e-4.
#include <gtest/gtest.h>
#include <torch/torch.h>

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
  Tsn net(TsnOptions().num_classes(10).seg_num(3).seglen(1).depth(50));
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

}  // namespace
}  // namespace vc::models
