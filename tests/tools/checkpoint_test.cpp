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
  c.best_metric_name = "top1";
  c.best_metric_value = 81.25;
  c.seed = 5;
  c.config_yaml = "MODEL:\n  name: \"TSN\"\n";
  c.model = {{"backbone.conv1.weight", torch::arange(6, torch::kFloat).reshape({1, 2, 3})},
             {"fc.bias", torch::tensor({1.5f, -2.0f})},
             {"backbone.bn1.num_batches_tracked", torch::tensor(4, torch::kLong)}};
  c.optimizer_type = "adam";
  c.optimizer_state["moment1"] = {{"fc.bias", torch::tensor({0.25f, 0.5f})}};
  c.optimizer_state["beta1_pow_acc"] = {{"fc.bias", torch::tensor({0.81f})}};
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
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(c.best_metric_name, "top1");
  EXPECT_DOUBLE_EQ(c.best_metric_value, 81.25);
  EXPECT_EQ(c.optimizer_type, "adam");
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
  ASSERT_EQ(c.optimizer_state.size(), 2u);
  ASSERT_EQ(c.optimizer_state.at("moment1").size(), 1u);
  EXPECT_TRUE(
      torch::equal(c.optimizer_state.at("moment1")[0].second, torch::tensor({0.25f, 0.5f})));
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
      "assert c['epoch'] == 3 and c['global_step'] == 77 and c['version'] == 2\n"
      "assert c['best_metric'] == {'name': 'top1', 'value': 81.25}, c['best_metric']\n"
      "w = c['model']['backbone.conv1.weight']\n"
      "assert w.shape == (1, 2, 3) and w.dtype == torch.float32\n"
      "assert torch.equal(w.flatten(), torch.arange(6, dtype=torch.float32))\n"
      "assert c['optimizer']['type'] == 'adam'\n"
      "assert torch.equal(c['optimizer']['state']['moment1']['fc.bias'], torch.tensor([0.25, "
      "0.5]))\n"
      "assert c['config'].startswith('MODEL:')\n"
      "print('python-ok')\n";
  vc::testing::write_text(dir / "check.py", py);
  auto r = run_command("/usr/bin/python3 " + (dir / "check.py"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("python-ok"), std::string::npos) << r.output;
}

TEST(Checkpoint, Version1FilesStillLoad) {
  // A checkpoint exactly as the TSN-only core wrote it (format version 1).
  TempDir dir;
  const std::string path = dir / "v1.pt";
  auto tensors = [](const std::vector<std::pair<std::string, torch::Tensor>>& v) {
    c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
    for (const auto& [k, t] : v) d.insert(k, t);
    return d;
  };
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("format", std::string("videocls-checkpoint"));
  d.insert("version", int64_t{1});
  d.insert("model_name", std::string("TSN"));
  d.insert("epoch", int64_t{2});
  d.insert("step_in_epoch", int64_t{0});
  d.insert("global_step", int64_t{40});
  d.insert("best_top1", 62.5);
  d.insert("seed", int64_t{0});
  d.insert("config", std::string("MODEL:\n"));
  d.insert("model", tensors({{"fc.bias", torch::tensor({1.0f, 2.0f})}}));
  c10::impl::GenericDict opt(c10::StringType::get(), c10::AnyType::get());
  opt.insert("momentum_buffer", tensors({{"fc.bias", torch::tensor({0.5f, 0.25f})}}));
  d.insert("optimizer", opt);
  d.insert("rng", tensors({}));
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  vc::app::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));

  const Checkpoint c = vc::app::load_checkpoint(path);
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.best_metric_name, "top1");
  EXPECT_DOUBLE_EQ(c.best_metric_value, 62.5);
  EXPECT_EQ(c.optimizer_type, "momentum");
  ASSERT_EQ(c.optimizer_state.count("velocity"), 1u);
  EXPECT_TRUE(
      torch::equal(c.optimizer_state.at("velocity")[0].second, torch::tensor({0.5f, 0.25f})));
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
