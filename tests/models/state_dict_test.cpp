// read_state_dict on files Python's torch.save wrote; save_state_dict round trips;
// load_state_dict copies parameters and buffers and reports every mismatch.
#include "tools/common/weights/state_dict.h"

#include <gtest/gtest.h>

#include <torch/torch.h>
#include "tests/support/temp_dir.h"

#include <fstream>
#include <map>
#include <sstream>

#include "models/common/resnet.h"
#include "tests/models/test_util.h"
#include "tools/common/errors.h"

namespace vc::app {
namespace {

// The Python-written files are made once for the whole suite.
class PythonFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!vc::test::have_torchvision()) return;
    dir_ = vc::test::cached_script_output("write_state_dicts.py");
    ok_ = !dir_.empty();
  }
  void SetUp() override {
    VC_REQUIRE_TORCHVISION();
    ASSERT_TRUE(ok_) << "write_state_dicts.py failed";
  }
  static std::string file(const std::string& name) { return dir_ + "/" + name; }

  struct Entry {
    std::string name, dtype;
    std::vector<int64_t> shape;
    double sum;
  };
  static std::vector<Entry> manifest(const std::string& name) {
    std::ifstream in(file(name));
    std::vector<Entry> out;
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> fields;
      std::stringstream ss(line);
      for (std::string f; std::getline(ss, f, ' ');) fields.push_back(f);
      if (fields.size() == 3) fields.insert(fields.begin() + 2, "");  // 0-dim: empty shape
      Entry e{fields.at(0), fields.at(1), {}, std::stod(fields.at(3))};
      std::stringstream dims(fields.at(2));
      for (std::string d; std::getline(dims, d, ',');) e.shape.push_back(std::stoll(d));
      out.push_back(e);
    }
    return out;
  }
  static void expect_matches(const StateDict& sd, const std::string& manifest_name) {
    const std::vector<Entry> expected = manifest(manifest_name);
    ASSERT_EQ(sd.size(), expected.size());
    const std::map<std::string, torch::ScalarType> dtypes = {{"float32", torch::kFloat},
                                                             {"float64", torch::kDouble},
                                                             {"float16", torch::kHalf},
                                                             {"bool", torch::kBool},
                                                             {"int64", torch::kLong}};
    for (size_t i = 0; i < sd.size(); ++i) {
      const auto& e = expected[i];
      const torch::Tensor& t = sd[i].second;
      EXPECT_EQ(sd[i].first, e.name);
      EXPECT_EQ(t.sizes().vec(), e.shape) << e.name;
      EXPECT_EQ(t.scalar_type(), dtypes.at(e.dtype)) << e.name;
      const double sum = t.to(torch::kDouble).sum().item<double>();
      EXPECT_NEAR(sum, e.sum, 1e-9 * (1.0 + std::abs(e.sum))) << e.name;
    }
  }

  static std::string dir_;
  static bool ok_;
};
std::string PythonFiles::dir_;
bool PythonFiles::ok_ = false;

using vc::testing::message_of;

TEST_F(PythonFiles, ReadsTorchvisionOrderedDict) {
  const StateDict sd = read_state_dict(file("resnet18.pt"));
  expect_matches(sd, "resnet18.txt");
  // And it loads into our ResNet-18 as is.
  models::ResNet net(models::ResNetOptions().depth(18).num_classes(1000));
  load_state_dict(*net, sd, LoadOptions{}, file("resnet18.pt"));
  EXPECT_TRUE(net->conv1->weight.equal(sd.front().second));
  EXPECT_EQ(net->bn1->num_batches_tracked.item<int64_t>(), 7);
}

TEST_F(PythonFiles, ReadsPlainDictsViewsAndDtypes) {
  const StateDict sd = read_state_dict(file("plain.pt"));
  expect_matches(sd, "plain.txt");
  std::map<std::string, torch::Tensor> m(sd.begin(), sd.end());
  EXPECT_TRUE(m["view.strided"].equal(torch::tensor({1.0f, 2.5f, 4.0f, 5.5f})));
  EXPECT_EQ(m["w.long"][2].item<int64_t>(), 3000000000LL);
  EXPECT_TRUE(m["transposed"].equal(m["transposed"].contiguous()));
  EXPECT_EQ(m["transposed"].stride(0), 1);  // the view keeps its strides
  expect_matches(read_state_dict(file("plain_proto4.pt")), "plain.txt");
}

TEST_F(PythonFiles, ReadsCheckpointsNestingTheWeights) {
  expect_matches(read_state_dict(file("ckpt_model.pt")), "plain.txt");
  expect_matches(read_state_dict(file("ckpt_state_dict.pt")), "plain.txt");
}

TEST_F(PythonFiles, UnsupportedContentsAreErrorsNamingTheFile) {
  const std::string legacy = message_of([&] { read_state_dict(file("legacy.pt")); });
  EXPECT_NE(legacy.find(file("legacy.pt")), std::string::npos) << legacy;
  EXPECT_NE(legacy.find("legacy"), std::string::npos) << legacy;
  const std::string module = message_of([&] { read_state_dict(file("whole_module.pt")); });
  EXPECT_NE(module.find(file("whole_module.pt")), std::string::npos) << module;
  EXPECT_NE(module.find("torch.nn.modules.linear.Linear"), std::string::npos) << module;
  const std::string not_tensor = message_of([&] { read_state_dict(file("not_tensor.pt")); });
  EXPECT_NE(not_tensor.find("'b' is a int"), std::string::npos) << not_tensor;
  EXPECT_THROW(read_state_dict(file("legacy.pt")), IoError);
}

TEST_F(PythonFiles, SavedFilesLoadInPython) {
  vc::test::TempDir dir("from_cpp");
  const std::string path = dir.file("from_cpp.pt");
  save_state_dict(path, {{"a.weight", torch::arange(6, torch::kFloat).reshape({2, 3})},
                         {"a.count", torch::tensor(int64_t{42})}});
  EXPECT_EQ(vc::test::run_script("check_saved_state_dict.py", path), 0);
}

TEST(StateDict, MissingAndCorruptFilesAreIoErrors) {
  vc::test::TempDir dir("corrupt");
  const std::string missing = dir.file("nope.pt");
  const std::string msg = message_of([&] { read_state_dict(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_THROW(read_state_dict(missing), IoError);

  const std::string junk = dir.file("junk.pt");
  std::ofstream(junk) << "definitely not a zip";
  EXPECT_THROW(read_state_dict(junk), IoError);
  const std::string truncated = dir.file("truncated.pt");
  std::ofstream(truncated) << "PK\x03\x04 short";
  const std::string tmsg = message_of([&] { read_state_dict(truncated); });
  EXPECT_NE(tmsg.find(truncated), std::string::npos) << tmsg;
}

TEST(StateDict, SaveReadRoundTrip) {
  vc::test::TempDir dir("roundtrip");
  models::ResNet net(models::ResNetOptions().depth(18).num_classes(10));
  const StateDict original = module_state_dict(*net);
  save_state_dict(dir.file("r18.pt"), original);
  const StateDict back = read_state_dict(dir.file("r18.pt"));
  ASSERT_EQ(back.size(), original.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].first, original[i].first);
    EXPECT_TRUE(back[i].second.equal(original[i].second)) << back[i].first;
  }
}

TEST(StateDict, ModuleStateDictOrderIsPyTorchs) {
  models::ResNet net(models::ResNetOptions().depth(18).num_classes(10));
  const StateDict sd = module_state_dict(*net);
  ASSERT_GE(sd.size(), 7u);
  EXPECT_EQ(sd[0].first, "conv1.weight");
  EXPECT_EQ(sd[1].first, "bn1.weight");
  EXPECT_EQ(sd[2].first, "bn1.bias");
  EXPECT_EQ(sd[3].first, "bn1.running_mean");
  EXPECT_EQ(sd[4].first, "bn1.running_var");
  EXPECT_EQ(sd[5].first, "bn1.num_batches_tracked");
  EXPECT_EQ(sd[6].first, "layer1.0.conv1.weight");
  EXPECT_EQ(sd.back().first, "fc.bias");
}

// ---- load_state_dict
TEST(LoadStateDict, CopiesParametersAndBuffers) {
  models::ResNet src(models::ResNetOptions().depth(18).num_classes(10));
  {
    torch::NoGradGuard g;
    src->bn1->running_mean.normal_();
    src->bn1->running_var.uniform_(0.5, 2.0);
    src->bn1->num_batches_tracked.fill_(5);
  }
  models::ResNet dst(models::ResNetOptions().depth(18).num_classes(10));
  load_state_dict(*dst, module_state_dict(*src), LoadOptions{}, "src.pt");
  const StateDict a = module_state_dict(*src), b = module_state_dict(*dst);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].second.equal(b[i].second)) << a[i].first;
  EXPECT_TRUE(dst->conv1->weight.requires_grad());
}

TEST(LoadStateDict, PrefixAndSkipPrefixes) {
  // An ImageNet ResNet (with fc) into a TSN-like parent with the trunk under "backbone.".
  struct Parent : torch::nn::Module {
    models::ResNet backbone{nullptr};
    torch::nn::Linear fc{nullptr};
    Parent() {
      backbone = register_module("backbone", models::ResNet(models::ResNetOptions().depth(18)));
      fc = register_module("fc", torch::nn::Linear(512, 3));
    }
  };
  models::ResNet imagenet(models::ResNetOptions().depth(18).num_classes(1000));
  Parent parent;
  const torch::Tensor fc_before = parent.fc->weight.clone();
  LoadOptions opt;
  opt.prefix = "backbone.";
  opt.skip_prefixes = {"fc."};
  load_state_dict(parent, module_state_dict(*imagenet), opt, "imagenet.pt");
  EXPECT_TRUE(parent.backbone->conv1->weight.equal(imagenet->conv1->weight));
  EXPECT_TRUE(parent.fc->weight.equal(fc_before));
  // Without the skip, the ImageNet classifier is unexpected.
  const std::string msg = message_of([&] {
    load_state_dict(parent, module_state_dict(*imagenet), LoadOptions{"backbone.", {}, false},
                    "imagenet.pt");
  });
  EXPECT_NE(msg.find("unexpected in the file (2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fc.weight"), std::string::npos) << msg;
}

TEST(LoadStateDict, ListsMissingUnexpectedAndMisshapedKeysNamingTheSource) {
  models::ResNet net(models::ResNetOptions().depth(18).num_classes(10));
  StateDict sd =
      module_state_dict(*models::ResNet(models::ResNetOptions().depth(18).num_classes(10)));
  const torch::Tensor before = net->layer1->ptr<models::BasicBlockImpl>(0)->conv1->weight.clone();
  // missing: drop two keys; unexpected: add one; mis-shaped: conv1 with 15 input channels.
  sd.erase(std::remove_if(sd.begin(), sd.end(),
                          [](const auto& kv) {
                            return kv.first == "layer2.0.bn1.running_var" || kv.first == "fc.bias";
                          }),
           sd.end());
  sd.emplace_back("extra.weight", torch::zeros({3}));
  for (auto& kv : sd) {
    if (kv.first == "conv1.weight") kv.second = torch::zeros({64, 15, 7, 7});
  }
  try {
    load_state_dict(*net, sd, LoadOptions{}, "weights/broken.pt");
    FAIL() << "no error";
  } catch (const StateDictError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("weights/broken.pt"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing in the file (2):\n    layer2.0.bn1.running_var\n    fc.bias"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("unexpected in the file (1):\n    extra.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("conv1.weight: expected [64, 3, 7, 7], got [64, 15, 7, 7]"),
              std::string::npos)
        << msg;
  }
  // Nothing was copied.
  EXPECT_TRUE(net->layer1->ptr<models::BasicBlockImpl>(0)->conv1->weight.equal(before));
}

TEST(LoadStateDict, AllowMissing) {
  models::ResNet net(models::ResNetOptions().depth(18).num_classes(10));
  StateDict sd =
      module_state_dict(*models::ResNet(models::ResNetOptions().depth(18).num_classes(10)));
  sd.resize(3);  // conv1.weight, bn1.weight, bn1.bias
  EXPECT_THROW(load_state_dict(*net, sd, LoadOptions{}, "partial.pt"), StateDictError);
  LoadOptions opt;
  opt.allow_missing = true;
  load_state_dict(*net, sd, opt, "partial.pt");
  EXPECT_TRUE(net->conv1->weight.equal(sd[0].second));
}

}  // namespace
}  // namespace vc::app
