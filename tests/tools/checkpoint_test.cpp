#include "tools/common/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/temp_dir.h"
#include "tools/common/errors.h"
#include "tools/common/state_dict.h"

namespace {

using vc::app::Checkpoint;
using vc::testing::run_command;
using vc::testing::TempDir;

Checkpoint sample() {
  Checkpoint c;
  c.model_name = "TSN";
  c.epoch = 3;
  c.step_in_epoch = 2;
  c.global_step = 77;
  c.best_top1 = 81.25;
  c.seed = 5;
  c.config_yaml = "MODEL:\n  name: \"TSN\"\n";
  c.model = {{"backbone.conv1.weight", torch::arange(6, torch::kFloat).reshape({1, 2, 3})},
             {"fc.bias", torch::tensor({1.5f, -2.0f})},
             {"backbone.bn1.num_batches_tracked", torch::tensor(4, torch::kLong)}};
  c.momentum_buffer = {{"fc.bias", torch::tensor({0.25f, 0.5f})}};
  c.torch_rng_state = torch::arange(10, torch::kByte);
  return c;
}

TEST(Checkpoint, RoundTrip) {
  TempDir dir;
  const std::string path = dir / "a.pt";
  vc::app::save_checkpoint(path, sample());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  Checkpoint c = vc::app::load_checkpoint(path);
  EXPECT_EQ(c.model_name, "TSN");
  EXPECT_EQ(c.epoch, 3);
  EXPECT_EQ(c.step_in_epoch, 2);
  EXPECT_EQ(c.global_step, 77);
  EXPECT_DOUBLE_EQ(c.best_top1, 81.25);
  EXPECT_EQ(c.seed, 5);
  EXPECT_EQ(c.config_yaml, sample().config_yaml);
  ASSERT_EQ(c.model.size(), 3u);
  for (const auto& [name, t] : sample().model) {
    bool found = false;
    for (const auto& [n2, t2] : c.model) {
      if (n2 != name) continue;
      found = true;
      EXPECT_TRUE(torch::equal(t, t2)) << name;
    }
    EXPECT_TRUE(found) << name;
  }
  ASSERT_EQ(c.momentum_buffer.size(), 1u);
  EXPECT_TRUE(torch::equal(c.momentum_buffer[0].second, torch::tensor({0.25f, 0.5f})));
  EXPECT_TRUE(torch::equal(c.torch_rng_state, torch::arange(10, torch::kByte)));
}

TEST(Checkpoint, PythonTorchLoadReadsIt) {
  TempDir dir;
  const std::string path = dir / "a.pt";
  vc::app::save_checkpoint(path, sample());
  const std::string py =
      "import torch\n"
      "c = torch.load('" +
      path +
      "')\n"
      "assert isinstance(c, dict), type(c)\n"
      "assert c['format'] == 'videocls-checkpoint' and c['model_name'] == 'TSN'\n"
      "assert c['epoch'] == 3 and c['global_step'] == 77 and c['best_top1'] == 81.25\n"
      "w = c['model']['backbone.conv1.weight']\n"
      "assert w.shape == (1, 2, 3) and w.dtype == torch.float32\n"
      "assert torch.equal(w.flatten(), torch.arange(6, dtype=torch.float32))\n"
      "assert torch.equal(c['optimizer']['momentum_buffer']['fc.bias'], torch.tensor([0.25, "
      "0.5]))\n"
      "assert c['config'].startswith('MODEL:')\n"
      "print('python-ok')\n";
  vc::testing::write_text(dir / "check.py", py);
  auto r = run_command("/usr/bin/python3 " + (dir / "check.py"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("python-ok"), std::string::npos) << r.output;
}

TEST(Checkpoint, WeightsReadableAsStateDict) {
  // test/infer load --weights through read_state_dict, which must find the "model" entry.
  TempDir dir;
  vc::app::save_checkpoint(dir / "a.pt", sample());
  auto sd = vc::app::read_state_dict(dir / "a.pt");
  ASSERT_EQ(sd.size(), 3u);
}

TEST(Checkpoint, ClearErrors) {
  TempDir dir;
  EXPECT_THROW(vc::app::load_checkpoint(dir / "missing.pt"), vc::app::IoError);
  vc::testing::write_text(dir / "junk.pt", "not a checkpoint");
  try {
    vc::app::load_checkpoint(dir / "junk.pt");
    FAIL();
  } catch (const vc::app::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("junk.pt"), std::string::npos);
  }
}

}  // namespace
