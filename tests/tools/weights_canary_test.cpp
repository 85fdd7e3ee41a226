// The canary that tells us when LibTorch's own unpickler starts reading OrderedDict (the reason
// vc_weights falls back to the pickle interpreter of datareader/pickle.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tests/tools/paddle_fixtures.h"
#include "tools/common/weights/state_dict.h"

namespace vc::app {
namespace {

// When this fails, LibTorch's own reader handles what torch.save(model.state_dict()) writes and
// the interpreter in pickle.cpp may only be needed for numpy pickles.
TEST(LibTorchCanary, PickleLoadStillRejectsOrderedDict) {
  if (!vc::testing::have_python_torch()) {
    GTEST_SKIP() << "skipped: /usr/bin/python3 cannot import torch (install python3-torch)";
  }
  vc::testing::TempDir dir;
  const std::string path = dir / "ordered.pt";
  const std::string plain = dir / "plain.pt";
  const auto r = vc::testing::run_command(
      "/usr/bin/python3 -c \"import torch, sys; torch.manual_seed(0); "
      "sd = torch.nn.Linear(2, 3).state_dict(); torch.save(sd, sys.argv[1]); "
      "torch.save(dict(sd), sys.argv[2])\" " +
      path + " " + plain);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The premise: LibTorch reads the same weights as a plain dict.
  const std::string plain_bytes = vc::testing::read_text(plain);
  const c10::IValue v =
      torch::pickle_load(std::vector<char>(plain_bytes.begin(), plain_bytes.end()));
  ASSERT_TRUE(v.isGenericDict() && v.toGenericDict().size() == 2);
  const std::string bytes = vc::testing::read_text(path);
  bool rejected = false;
  try {
    const c10::IValue v = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    rejected = !(v.isGenericDict() && v.toGenericDict().size() == 2);
  } catch (const std::exception&) {
    rejected = true;
  }
  EXPECT_TRUE(rejected)
      << "LibTorch now reads OrderedDict: the fallback interpreter may be removable";
  // read_state_dict reads it either way.
  const StateDict sd = read_state_dict(path);
  ASSERT_EQ(sd.size(), 2u);
  EXPECT_EQ(sd[0].first, "weight");
  EXPECT_EQ(sd[0].second.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(sd[1].first, "bias");
}

}  // namespace
}  // namespace vc::app
