#include "tools/common/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "tests/support/temp_dir.h"
#include "tools/common/errors.h"
#include "tools/common/registry.h"

namespace {

using vc::app::Config;
using vc::app::ConfigError;
using vc::app::Mode;
using vc::testing::TempDir;
using vc::testing::write_text;

const std::string kSrc = VC_SOURCE_DIR;

Config load(const std::string& yaml, const std::vector<std::string>& sets,
            const std::vector<vc::app::TypedOverride>& flags = {}) {
  return vc::app::load_config(yaml, sets, flags, vc::app::default_registry().schema());
}

// Expects load_config to throw ConfigError whose message contains every fragment.
void expect_error(const std::string& yaml, const std::vector<std::string>& sets,
                  const std::vector<std::string>& fragments) {
  TempDir dir;
  const std::string path = dir / "c.yaml";
  write_text(path, yaml);
  try {
    load(path, sets);
    FAIL() << "no error for:\n" << yaml;
  } catch (const ConfigError& e) {
    for (const auto& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
          << "message '" << e.what() << "' lacks '" << f << "'";
  }
}

TEST(Config, TsnYamlCarriesTheOriginalValues) {
  const Config c = load(kSrc + "/configs/tsn.yaml", {});
  EXPECT_EQ(c.model.s("name"), "TSN");
  EXPECT_EQ(c.model.i("num_classes"), 400);
  EXPECT_EQ(c.model.i("num_layers"), 50);
  const auto& tr = c.section(Mode::kTrain);
  EXPECT_EQ(tr.i("epoch"), 45);
  EXPECT_EQ(tr.i("batch_size"), 256);
  EXPECT_DOUBLE_EQ(tr.f("learning_rate"), 0.01);
  EXPECT_DOUBLE_EQ(tr.f("learning_rate_decay"), 0.1);
  EXPECT_DOUBLE_EQ(tr.f("l2_weight_decay"), 1e-4);
  EXPECT_DOUBLE_EQ(tr.f("momentum"), 0.9);
  EXPECT_EQ(tr.i("total_videos"), 224684);
  EXPECT_EQ(tr.i("seg_num"), 3);
  EXPECT_EQ(c.section(Mode::kTest).i("seg_num"), 7);   // TEST overrides MODEL
  EXPECT_EQ(c.section(Mode::kInfer).i("seg_num"), 3);  // falls back to MODEL
  EXPECT_EQ(c.section(Mode::kValid).i("batch_size"), 256);
  EXPECT_EQ(c.section(Mode::kTest).i("batch_size"), 16);
  EXPECT_EQ(c.section(Mode::kInfer).i("batch_size"), 1);
  EXPECT_EQ(c.section(Mode::kTest).i("short_size"), 256);
  EXPECT_EQ(c.section(Mode::kTest).i("target_size"), 224);
  EXPECT_EQ(c.model.floats("image_mean"), (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(c.model.floats("image_std"), (std::vector<double>{0.229, 0.224, 0.225}));
  EXPECT_EQ(c.section(Mode::kTrain).s("scale_mode"), "group_4_3");
}

TEST(Config, DefaultsWithoutFile) {
  const Config c = load("", {});
  EXPECT_EQ(c.model.s("name"), "TSN");
  EXPECT_EQ(c.section(Mode::kTrain).i("seg_num"), 3);
}

TEST(Config, PrecedenceYamlThenSetsInOrder) {
  TempDir dir;
  write_text(dir / "c.yaml",
             "MODEL:\n  seg_num: 4\nTRAIN:\n  batch_size: 8\nTEST:\n  seg_num: 9\n");
  Config c = load(dir / "c.yaml", {"TRAIN.batch_size=16", "TRAIN.batch_size=32", "MODEL.seg_num=5",
                                   "train.decay_epochs=[2, 4]"});
  EXPECT_EQ(c.section(Mode::kTrain).i("batch_size"), 32);  // last --set wins
  EXPECT_EQ(c.section(Mode::kTrain).i("seg_num"), 5);      // --set MODEL reaches modes
  EXPECT_EQ(c.section(Mode::kTest).i("seg_num"), 9);       // explicit mode value kept
  EXPECT_EQ(c.section(Mode::kTrain).ints("decay_epochs"), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(c.section(Mode::kValid).i("batch_size"), 16);  // default, untouched
  EXPECT_TRUE(c.explicit_keys["TRAIN"].count("batch_size"));
}

TEST(Config, UnknownKeyNamesFileLineAndKeyPath) {
  expect_error("MODEL:\n  name: TSN\nTRAIN:\n  batchsize: 3\n", {},
               {"c.yaml:4", "TRAIN.batchsize", "is unknown", "batch_size"});
}

TEST(Config, KeyInWrongSection) {
  expect_error("MODEL:\n  epoch: 3\n", {}, {"MODEL.epoch", "not allowed in MODEL"});
  expect_error("TEST:\n  num_classes: 3\n", {}, {"TEST.num_classes", "not allowed"});
}

TEST(Config, UnknownSection) {
  expect_error("MODLE:\n  name: TSN\n", {}, {"unknown section 'MODLE'"});
}

TEST(Config, WrongTypes) {
  expect_error("TRAIN:\n  batch_size: abc\n", {},
               {"c.yaml:2", "TRAIN.batch_size", "expected an integer", "'abc'"});
  expect_error("TRAIN:\n  batch_size: 2.5\n", {},
               {"TRAIN.batch_size", "expected an integer", "'2.5'"});
  expect_error("TRAIN:\n  learning_rate: fast\n", {}, {"TRAIN.learning_rate", "expected a number"});
  expect_error("MODEL:\n  multi_scale_crop: maybe\n", {},
               {"MODEL.multi_scale_crop", "true or false"});
  expect_error("MODEL:\n  image_mean: 0.5\n", {}, {"MODEL.image_mean", "expected a list"});
  expect_error("MODEL:\n  image_mean: [0.5, x, 0.5]\n", {},
               {"MODEL.image_mean[1]", "expected a number", "'x'"});
  expect_error("TRAIN:\n  decay_epochs: [1.5]\n", {},
               {"TRAIN.decay_epochs[0]", "expected an integer"});
  expect_error("MODEL:\n  name: [TSN]\n", {}, {"MODEL.name", "expected a string"});
}

TEST(Config, OutOfRangeValues) {
  expect_error("TRAIN:\n  batch_size: 0\n", {}, {"TRAIN.batch_size", "out of range", "got '0'"});
  expect_error("MODEL:\n  num_classes: -1\n", {}, {"MODEL.num_classes", "out of range"});
  expect_error("TRAIN:\n  momentum: 1.5\n", {}, {"TRAIN.momentum", "out of range"});
  expect_error("MODEL:\n  image_std: [0.2, 0, 0.2]\n", {}, {"MODEL.image_std[1]", "out of range"});
  expect_error("MODEL:\n  scale_mode: stretch\n", {},
               {"MODEL.scale_mode", "group_4_3", "short_side", "'stretch'"});
  expect_error("MODEL:\n  num_layers: 42\n", {},
               {"MODEL.num_layers", "18, 34, 50, 101, 152", "42"});
  expect_error("MODEL:\n  image_mean: [0.5, 0.5]\n", {}, {"image_mean", "3 values"});
  expect_error("TEST:\n  short_size: 200\n  target_size: 224\n", {},
               {"TEST.target_size", "TEST.short_size"});
  expect_error("TRAIN:\n  decay_epochs: [5, 3]\n", {}, {"TRAIN.decay_epochs", "increasing"});
}

TEST(Config, SyntaxErrorNamesLine) {
  expect_error("MODEL:\n  name: [TSN\n", {}, {"c.yaml:", "YAML syntax error"});
  expect_error("- a\n- b\n", {}, {"top level must be a mapping"});
}

TEST(Config, BadOverrides) {
  expect_error("", {"TRAIN.batch_size"}, {"--set TRAIN.batch_size", "SECTION.key=value"});
  expect_error("", {"batch_size=3"}, {"SECTION.key=value"});
  expect_error("", {"TRAIN.batch_size=x"},
               {"--set TRAIN.batch_size=x", "TRAIN.batch_size", "expected an integer"});
  expect_error("", {"TRAIN.nope=1"}, {"--set TRAIN.nope=1", "TRAIN.nope", "is unknown"});
  expect_error("", {"MISC.a=1"}, {"unknown section 'MISC'"});
}

TEST(Config, MissingFileIsIoError) {
  EXPECT_THROW(load("/nonexistent/videocls.yaml", {}), vc::app::IoError);
  try {
    load("/nonexistent/videocls.yaml", {});
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/videocls.yaml"), std::string::npos);
  }
}

TEST(Config, ResolvedYamlRoundTrips) {
  const Config a = load(kSrc + "/configs/tsn.yaml", {"TRAIN.decay_epochs=[10,20]"});
  TempDir dir;
  write_text(dir / "r.yaml", vc::app::config_to_yaml(a));
  const Config b = load(dir / "r.yaml", {});
  auto body = [](const std::string& y) {
    return y.substr(y.find('\n') + 1);
  };  // drop "# resolved from"
  EXPECT_EQ(body(vc::app::config_to_yaml(a)), body(vc::app::config_to_yaml(b)));
  EXPECT_EQ(b.section(Mode::kTest).i("seg_num"), 7);
  EXPECT_EQ(b.section(Mode::kTrain).ints("decay_epochs"), (std::vector<int64_t>{10, 20}));
}

TEST(Config, TypedFlagsAreNotParsedAsYaml) {
  // A path with a quote, a backslash, a colon and a '#' survives a dedicated flag unchanged.
  const std::string odd = "/tmp/it's a \\ \"list\": #1.txt";
  const Config c = load("", {"INFER.filelist=from-set.txt"},
                        {{"INFER", "filelist", odd, "--filelist"},
                         {"TRAIN", "learning_rate", int64_t{2}, "--learning-rate"}});
  EXPECT_EQ(c.section(Mode::kInfer).s("filelist"), odd);              // flags win over --set
  EXPECT_DOUBLE_EQ(c.section(Mode::kTrain).f("learning_rate"), 2.0);  // an int for a float key
  try {
    load("", {}, {{"TRAIN", "batch_size", std::string("x"), "--batch-size"}});
    FAIL() << "a string for an int key must fail";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--batch-size"), std::string::npos) << e.what();
  }
}

TEST(Config, OriginalSpellingsAreAliases) {
  TempDir dir;
  write_text(dir / "c.yaml", "TRAIN:\n  weight_decay: 0.0008\n  decay_gamma: 0.5\n");
  const Config c = load(dir / "c.yaml", {"TRAIN.use_nesterov=true"});
  EXPECT_DOUBLE_EQ(c.section(Mode::kTrain).f("l2_weight_decay"), 0.0008);
  EXPECT_DOUBLE_EQ(c.section(Mode::kTrain).f("learning_rate_decay"), 0.5);
  EXPECT_TRUE(c.section(Mode::kTrain).b("nesterov"));
  expect_error("TRAIN:\n  weight_decay: 0.1\n  l2_weight_decay: 0.2\n", {},
               {"TRAIN.l2_weight_decay", "repeats", "weight_decay"});
}

TEST(Config, KeysDependOnTheNetwork) {
  // TSN's own key is unknown to a schema without the TSN table.
  vc::app::KeyTable other{"other", "", {}, {}, nullptr};
  auto schema = [&](const std::string& name) -> std::vector<const vc::app::KeyTable*> {
    if (name == "OTHER") return {&vc::app::common_keys(), &other};
    return vc::app::default_registry().schema()(name);
  };
  TempDir dir;
  write_text(dir / "c.yaml", "MODEL:\n  name: OTHER\n  num_layers: 50\n");
  try {
    vc::app::load_config(dir / "c.yaml", {}, {}, schema);
    FAIL() << "num_layers must be unknown for OTHER";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown for network OTHER"), std::string::npos)
        << e.what();
  }
  expect_error("MODEL:\n  name: NOPE\n", {}, {"unknown model name 'NOPE'", "TSN"});
}

}  // namespace
