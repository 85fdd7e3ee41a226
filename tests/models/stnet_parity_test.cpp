// PARITY: StNet (ResNet-50 trunk, seglen 3, T=3) against the independent PyTorch implementation
// of tests/models/stnet_reference.py (torchvision trunk, temporal and Xception blocks written
// from the spec as tensor algebra; expected values in float64), same weights and input:
// float64 < 1e-8 for each temporal block, the Xception block and the logits (in process and
// through build/bin/run_model --dtype float64); float32 < 1e-4 for the blocks and, for the
// logits, within 5x the reference's own float32 rounding noise (see float32_logit_tolerance).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <utility>

#include "models/stnet/stnet.h"
#include "tests/models/test_util.h"
#include "tools/common/state_dict.h"

namespace vc::models {
namespace {

constexpr int64_t kSegments = 3;

struct Reference {
  std::string dir;
  std::map<std::string, torch::Tensor> io;
};

const Reference& reference() {
  static const Reference ref = [] {
    Reference r;
    r.dir = vc::test::cached_script_output("stnet_reference.py");
    if (r.dir.empty()) return r;
    for (auto& kv : app::read_state_dict(r.dir + "/io.pt")) r.io.emplace(kv.first, kv.second);
    return r;
  }();
  return ref;
}

Stnet loaded_net(torch::Dtype dtype) {
  Stnet net(StnetOptions().num_classes(10).seglen(3).depth(50));
  const std::string path = reference().dir + "/stnet_weights.pt";
  app::load_state_dict(*net, app::read_state_dict(path), app::LoadOptions{}, path);  // strict
  net->to(dtype);
  net->eval();
  return net;
}

double max_diff_raw(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

double max_diff(const torch::Tensor& ours, const torch::Tensor& expected) {
  EXPECT_EQ(ours.sizes(), expected.sizes());
  return max_diff_raw(ours, expected);
}

#define VC_REQUIRE_STNET_REFERENCE()                                              \
  VC_REQUIRE_TORCHVISION();                                                       \
  ASSERT_FALSE(reference().dir.empty()) << "stnet_reference.py failed (see log)"; \
  ASSERT_EQ(reference().io.size(), 9u)

// float32 tolerance of the logits: the expected values are float64, and float32 rounding alone
// moves this random ResNet-50's logits by a few 1e-4 (the reference's own float32 run, io
// "logits32", measures how much). Our float32 logits must be as close as 5x that, at least
// 1e-4. An implementation error moves them by O(1); the float64 checks (< 1e-8) are the exact
// ones.
double float32_logit_tolerance() {
  const auto& io = reference().io;
  return std::max(1e-4, 5.0 * max_diff_raw(io.at("logits32"), io.at("logits")));
}

struct Precision {
  torch::Dtype dtype;
  const char* name;
};
const Precision kPrecisions[] = {{torch::kFloat, "float32"}, {torch::kDouble, "float64"}};

TEST(StnetParity, TemporalBlocksMatchReference) {
  VC_REQUIRE_STNET_REFERENCE();
  const auto& io = reference().io;
  for (const Precision& p : kPrecisions) {
    Stnet net = loaded_net(p.dtype);
    torch::NoGradGuard no_grad;
    const auto in = [&](const char* k) { return io.at(k).to(p.dtype); };
    const double d3 =
        max_diff(net->temporal_res3->forward(in("t3_in"), kSegments), io.at("t3_out"));
    const double d4 =
        max_diff(net->temporal_res4->forward(in("t4_in"), kSegments), io.at("t4_out"));
    const double dx = max_diff(net->xception->forward(in("x_in")), io.at("x_out"));
    std::cout << "StNet blocks (" << p.name << ") vs reference: max |diff| temporal res3 " << d3
              << " (scale " << io.at("t3_out").abs().max().item<double>() << "), temporal res4 "
              << d4 << " (scale " << io.at("t4_out").abs().max().item<double>() << "), xception "
              << dx << " (scale " << io.at("x_out").abs().max().item<double>() << ")\n";
    const double tolerance = p.dtype == torch::kDouble ? 1e-8 : 1e-4;
    EXPECT_LT(d3, tolerance) << p.name;
    EXPECT_LT(d4, tolerance) << p.name;
    EXPECT_LT(dx, tolerance) << p.name;
  }
}

TEST(StnetParity, FullNetworkMatchesReference) {
  VC_REQUIRE_STNET_REFERENCE();
  const auto& io = reference().io;
  for (const Precision& p : kPrecisions) {
    Stnet net = loaded_net(p.dtype);
    torch::Tensor logits;
    {
      torch::NoGradGuard no_grad;
      logits = net->forward(io.at("input").to(p.dtype));  // [2, 3, 9, 64, 64] -> [2, 10]
    }
    const double d = max_diff(logits, io.at("logits"));
    const double tolerance = p.dtype == torch::kDouble ? 1e-8 : float32_logit_tolerance();
    std::cout << "StNet/ResNet-50 (" << p.name << ") vs reference: max |logits diff| = " << d
              << " (tolerance " << tolerance << ", logit scale "
              << io.at("logits").abs().max().item<double>() << "; the reference's own float32 "
              << "run differs by " << max_diff_raw(io.at("logits32"), io.at("logits")) << ")\n";
    EXPECT_LT(d, tolerance) << p.name;
  }
}

// The same network through build/bin/run_model (config + weights file + saved input), logits
// compared in Python: float64 (< 1e-8) and float32 (the tolerance above).
TEST(StnetParity, ThroughRunModel) {
  VC_REQUIRE_STNET_REFERENCE();
  vc::test::TempDir dir("stnet_parity_run_model");
  {
    std::ofstream cfg(dir.file("stnet.yaml"));
    cfg << "MODEL:\n  name: STNET\n  num_classes: 10\n  num_layers: 50\n  seglen: 3\n";
  }
  const std::string& ref = reference().dir;
  for (const auto& [dtype, tolerance] :
       {std::pair<std::string, double>{"float64", 1e-8}, {"float32", float32_logit_tolerance()}}) {
    SCOPED_TRACE(dtype);
    const std::string out = dir.file("out_" + dtype + ".pt");
    const std::string cmd = std::string(VC_BINARY_DIR) +
                            "/bin/run_model --model-name STNET --config " + dir.file("stnet.yaml") +
                            " --weights " + ref + "/stnet_weights.pt --input " + ref +
                            "/input.pt --output " + out + " --dtype " + dtype + " --threads 2 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ofstream py(dir.file("cmp.py"));
    py << "import torch\n"
          "e = torch.load('"
       << ref << "/io.pt')['logits']\n"
       << "o = torch.load('" << out << "')\n"
       << "d = (o.double() - e).abs().max().item()\n"
          "print('StNet run_model ("
       << dtype << ") vs reference: max |logits diff| =', d, 'tolerance " << tolerance
       << "')\n"
          "raise SystemExit(0 if o.shape == e.shape and o.dtype == torch."
       << dtype << " and d < " << tolerance << " else 1)\n";
    py.close();
    EXPECT_EQ(std::system(("/usr/bin/python3 " + dir.file("cmp.py")).c_str()), 0);
  }
}

}  // namespace
}  // namespace vc::models
