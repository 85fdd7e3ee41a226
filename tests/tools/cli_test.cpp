#include "tools/common/cli.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/support/temp_dir.h"
#include "tools/common/errors.h"

namespace {

using vc::app::CliOptions;
using vc::app::Mode;
using vc::app::parse_cli;
using vc::app::Tool;

const std::string kSrc = VC_SOURCE_DIR;

std::optional<CliOptions> parse(Tool tool, std::vector<std::string> args, int* code) {
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_cli(tool, static_cast<int>(argv.size()), argv.data(), code);
}

TEST(Cli, DashAndUnderscoreSpellings) {
  int code = 0;
  auto o = parse(Tool::kTrain,
                 {"--model_name=tsn", "--config", kSrc + "/configs/tsn.yaml", "--batch_size=8",
                  "--learning-rate=0.5", "--epoch=2", "--save_dir=x", "--log_interval=3",
                  "--valid_interval=0", "--seed=7", "--threads=1", "--use_gpu=False"},
                 &code);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->model_name, "tsn");
  EXPECT_EQ(*o->batch_size, 8);
  EXPECT_DOUBLE_EQ(*o->learning_rate, 0.5);
  EXPECT_EQ(*o->epoch, 2);
  EXPECT_EQ(o->save_dir, "x");
  EXPECT_EQ(o->log_interval, 3);
  EXPECT_EQ(o->valid_interval, 0);
  EXPECT_EQ(o->seed, 7u);
  EXPECT_EQ(o->device, "cpu");
}

TEST(Cli, UseGpuTrueSelectsCuda) {
  int code = 0;
  auto o = parse(Tool::kTest, {"--model-name=TSN", "--config=c", "--use_gpu=True"}, &code);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->device, "cuda");
  o = parse(Tool::kTest, {"--model-name=TSN", "--config=c", "--use_gpu=perhaps"}, &code);
  EXPECT_FALSE(o);
  EXPECT_NE(code, 0);
}

TEST(Cli, FlagsOfOtherToolsAreRejected) {
  int code = 0;
  EXPECT_FALSE(parse(Tool::kTest, {"--model-name=TSN", "--config=c", "--resume=x"}, &code));
  EXPECT_NE(code, 0);
  EXPECT_FALSE(parse(Tool::kTrain, {"--model-name=TSN", "--config=c", "--weights=x"}, &code));
  EXPECT_FALSE(parse(Tool::kInfer, {"--model-name=TSN", "--config=c", "--epoch=1"}, &code));
  EXPECT_TRUE(parse(
      Tool::kInfer,
      {"--model-name=TSN", "--config=c", "--weights=w", "--filelist=l", "--infer_topk=3"}, &code));
}

TEST(Cli, MissingRequiredOptions) {
  int code = 0;
  EXPECT_FALSE(parse(Tool::kTrain, {"--config=c"}, &code));
  EXPECT_EQ(code, 2);
  EXPECT_FALSE(parse(Tool::kTrain, {"--model-name=TSN"}, &code));
  EXPECT_EQ(code, 2);
  EXPECT_FALSE(parse(Tool::kTrain, {"--model-name=TSN", "--config=c", "--batch-size=x"}, &code));
  EXPECT_NE(code, 0);
}

TEST(Cli, LaterFlagWinsAndSetsAccumulate) {
  int code = 0;
  auto o = parse(Tool::kTest,
                 {"--model-name=TSN", "--config=c", "--weights=a", "--weights=b", "--set",
                  "TEST.seg_num=2", "--set=TEST.batch_size=3"},
                 &code);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->weights, "b");
  EXPECT_EQ(o->sets, (std::vector<std::string>{"TEST.seg_num=2", "TEST.batch_size=3"}));
}

TEST(Cli, ResolvePrecedenceDefaultsYamlSetFlags) {
  int code = 0;
  auto o = parse(Tool::kTrain,
                 {"--model-name=TSN", "--config=" + kSrc + "/configs/tsn.yaml",
                  "--set=TRAIN.batch_size=4", "--batch-size=6", "--set=TRAIN.epoch=9"},
                 &code);
  ASSERT_TRUE(o);
  auto cfg = vc::app::resolve_config(*o);
  EXPECT_EQ(cfg.section(Mode::kTrain).i("batch_size"), 6);  // flag beats --set
  EXPECT_EQ(cfg.section(Mode::kValid).i("batch_size"), 6);  // --batch-size covers VALID in train
  EXPECT_EQ(cfg.section(Mode::kTrain).i("epoch"), 9);       // no --epoch: the config's value
  o->epoch = 2;
  EXPECT_EQ(vc::app::resolve_config(*o).section(Mode::kTrain).i("epoch"), 2);
}

TEST(Cli, OmittedEpochMeansConfigValue) {
  int code = 0;
  auto o =
      parse(Tool::kTrain, {"--model-name=TSN", "--config=" + kSrc + "/configs/tsn.yaml"}, &code);
  ASSERT_TRUE(o);
  EXPECT_EQ(vc::app::resolve_config(*o).section(Mode::kTrain).i("epoch"), 45);
}

TEST(Cli, ResolveErrors) {
  int code = 0;
  auto o =
      parse(Tool::kTrain, {"--model-name=NOPE", "--config=" + kSrc + "/configs/tsn.yaml"}, &code);
  ASSERT_TRUE(o);
  try {
    vc::app::resolve_config(*o);
    FAIL();
  } catch (const vc::app::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model name 'NOPE'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("TSN"), std::string::npos);
  }
  o->model_name = "tsn";
  o->config = "/no/such/config.yaml";
  try {
    vc::app::resolve_config(*o);
    FAIL();
  } catch (const vc::app::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/config.yaml"), std::string::npos);
  }
  vc::testing::TempDir dir;
  vc::testing::write_text(dir / "other.yaml", "MODEL:\n  name: SLOWFAST\n");
  o->config = dir / "other.yaml";
  try {
    vc::app::resolve_config(*o);
    FAIL();
  } catch (const vc::app::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model name 'SLOWFAST'"), std::string::npos);
  }
  // A known network that is not the one asked for.
  vc::testing::write_text(dir / "tsm.yaml", "MODEL:\n  name: TSM\n");
  o->config = dir / "tsm.yaml";
  try {
    vc::app::resolve_config(*o);
    FAIL();
  } catch (const vc::app::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--model-name=tsn does not agree with MODEL.name 'TSM'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
