// PARITY: the Non-local network against tests/models/nonlocal_reference.py, an independent
// functional PyTorch implementation written from spec §6.8, with the same weights and inputs:
// one non-local block alone, and the full C2D ResNet-50 + 5 non-local blocks with the fc head
// (224 clips, --mode valid) and the fully convolutional test head (256 clips, --mode test),
// through build/bin/run_model, from a videocls state dict and from a Paddle per-variable
// directory (the "paddle" name map of the NONLOCAL row). Eval mode; max |logit diff| < 1e-4.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "models/common/nonlocal_block.h"
#include "models/nonlocal/nonlocal.h"
#include "tests/models/test_util.h"
#include "tools/common/registry.h"
#include "tools/common/rows/rows.h"
#include "tools/common/state_dict.h"
#include "tools/common/weights/paddle.h"

namespace vc::models {
namespace {

std::string reference() {
  static const std::string dir = vc::test::cached_script_output("nonlocal_reference.py");
  return dir;
}

#define VC_REQUIRE_REFERENCE()         \
  VC_REQUIRE_TORCHVISION();            \
  const std::string ref = reference(); \
  ASSERT_FALSE(ref.empty()) << "tests/models/nonlocal_reference.py failed"

std::string write_config(const std::string& dir) {
  const std::string path = dir + "/nonlocal.yaml";
  std::ofstream(path) << "MODEL:\n  name: NONLOCAL\n  num_classes: 10\n";
  return path;
}

// max |out - expected| via Python (run_model writes torch.save files); -1 on a shape mismatch.
double compare(const std::string& out, const std::string& expected, const std::string& dir) {
  const std::string py = dir + "/cmp.py";
  std::ofstream(py) << "import sys, torch\n"
                       "o = torch.load(sys.argv[1]); e = torch.load(sys.argv[2])\n"
                       "print(-1.0 if o.shape != e.shape else (o - e).abs().max().item())\n";
  const std::string cmd =
      "/usr/bin/python3 " + py + " " + out + " " + expected + " > " + dir + "/cmp.txt";
  if (std::system(cmd.c_str()) != 0) return -2.0;
  double d = -3.0;
  std::ifstream(dir + "/cmp.txt") >> d;
  return d;
}

double through_run_model(const std::string& ref, const std::string& weights,
                         const std::string& mode, const std::string& size, const char* tag) {
  vc::test::TempDir dir(std::string("nonlocal_parity_") + tag);
  const std::string out = dir.file("out.pt");
  const std::string cmd =
      std::string(VC_BINARY_DIR) + "/bin/run_model --model-name NONLOCAL --config " +
      write_config(dir.str()) + " --weights " + weights + " --input " + ref + "/in" + size +
      ".pt --output " + out + " --mode " + mode + " --threads 2 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << cmd;
    return -1.0;
  }
  const double d = compare(out, ref + "/out" + size + ".pt", dir.str());
  std::cout << "Non-local " << tag << " (" << mode << ", " << size
            << " px) vs reference: max |logit diff| = " << d << "\n";
  return d;
}

TEST(NonlocalParity, BlockMatchesReference) {
  VC_REQUIRE_REFERENCE();
  app::StateDict sd = app::read_state_dict(ref + "/block.pt");
  torch::Tensor input, output;
  app::StateDict weights;
  for (auto& [k, v] : sd) {
    if (k == "input") {
      input = v;
    } else if (k == "output") {
      output = v;
    } else {
      weights.emplace_back(k, v);
    }
  }
  NonLocalBlock blk(NonLocalBlockOptions(64, 32));
  app::load_state_dict(*blk, weights, app::LoadOptions{}, "block.pt");
  blk->eval();
  torch::NoGradGuard g;
  const torch::Tensor y = blk->forward(input);
  const double d = (y - output).abs().max().item<double>();
  std::cout << "non-local block vs reference: max |diff| = " << d << " (scale "
            << output.abs().max().item<double>() << ")\n";
  EXPECT_LT(d, 1e-4);
  EXPECT_GT((output - input).abs().max().item<double>(), 0.01);  // the block does something
}

TEST(NonlocalParity, FcHead224ThroughRunModel) {
  VC_REQUIRE_REFERENCE();
  const double d = through_run_model(ref, ref + "/ours.pt", "valid", "224", "fc");
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1e-4);
}

TEST(NonlocalParity, FullyConvHead256ThroughRunModel) {
  VC_REQUIRE_REFERENCE();
  const double d = through_run_model(ref, ref + "/ours.pt", "test", "256", "conv");
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1e-4);
}

TEST(NonlocalParity, PaddleWeightsThroughTheNameMap) {
  VC_REQUIRE_REFERENCE();
  // The map: every Paddle variable of the reference's directory is a parameter (optimizer state
  // ignored) and every parameter / BN statistic of the network is provided.
  vc::test::TempDir dir("nonlocal_parity_map");
  const app::Config cfg =
      app::load_config(write_config(dir.str()), {}, {}, app::default_registry().schema());
  app::NameMapReport report;
  const app::StateDict ours = app::nonlocal_paddle_map(cfg).apply(
      app::read_paddle_weights(ref + "/paddle"), "paddle", &report);
  EXPECT_TRUE(report.unmapped.empty()) << report.summary("paddle");
  EXPECT_EQ(report.ignored.size(), 2u) << report.summary("paddle");  // velocity, learning_rate
  auto net = app::default_registry().find("NONLOCAL").make_model(cfg, app::Mode::kValid);
  app::load_state_dict(*net, ours, app::LoadOptions{}, "paddle");  // strict: nothing missing
  // And the whole path: test --weights <Paddle dir>.
  const double d = through_run_model(ref, ref + "/paddle", "valid", "224", "paddle");
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1e-4);
}

}  // namespace
}  // namespace vc::models
