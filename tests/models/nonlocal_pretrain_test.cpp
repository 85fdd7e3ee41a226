// The Non-local row's --pretrain loader: a torchvision ResNet-50 state dict (2-D kernels) goes
// into the 3-D trunk, copied for C2D (kt = 1) and inflated (kt copies / kt) for I3D; the
// ImageNet classifier is skipped; the non-local blocks and pred keep their init.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/common/resnet.h"
#include "models/nonlocal/nonlocal.h"
#include "tests/support/temp_dir.h"
#include "tools/common/registry.h"
#include "tools/common/state_dict.h"

namespace vc::app {
namespace {

std::string write_resnet50(const vc::testing::TempDir& dir) {
  models::ResNet r(models::ResNetOptions().depth(50).num_classes(1000));
  const std::string path = dir.file("resnet50.pt");
  save_state_dict(path, module_state_dict(*r));
  return path;
}

torch::Tensor param(const torch::nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters()) {
    if (p.key() == name) return p.value();
  }
  for (const auto& b : m.named_buffers()) {
    if (b.key() == name) return b.value();
  }
  throw std::runtime_error("no " + name);
}

TEST(NonlocalPretrain, TorchvisionResNetInflates) {
  vc::testing::TempDir dir("nl_pretrain");
  const std::string path = write_resnet50(dir);
  const StateDict sd = read_state_dict(path);
  const auto find = [&](const std::string& k) {
    for (const auto& [n, t] : sd) {
      if (n == k) return t;
    }
    throw std::runtime_error("no " + k);
  };
  const ModelEntry& row = default_registry().find("NONLOCAL");
  for (const bool i3d : {false, true}) {
    SCOPED_TRACE(i3d ? "I3D" : "C2D");
    models::Nonlocal net(models::NonlocalOptions().num_classes(7).i3d(i3d));
    const torch::Tensor theta_before = param(*net, "nonlocal.layer2_1.theta.weight").clone();
    const torch::Tensor pred_before = param(*net, "pred.weight").clone();
    row.load_pretrain(*net, path);
    const int64_t kt = i3d ? 5 : 1;
    const torch::Tensor c1 = param(*net, "backbone.conv1.weight");
    ASSERT_EQ(c1.size(2), kt);
    for (int64_t t = 0; t < kt; ++t) {
      EXPECT_TRUE(torch::allclose(c1.select(2, t), find("conv1.weight") / kt));
    }
    // A block with temporal kernel 3 in I3D (layer1.0.conv1) and a 1x1 one (layer2.1.conv1).
    const torch::Tensor b = param(*net, "backbone.layer1.0.conv1.weight");
    EXPECT_TRUE(torch::allclose(b.select(2, 0), find("layer1.0.conv1.weight") / b.size(2)));
    EXPECT_TRUE(torch::allclose(param(*net, "backbone.layer2.1.conv1.weight").squeeze(2),
                                find("layer2.1.conv1.weight")));
    EXPECT_TRUE(
        torch::equal(param(*net, "backbone.layer4.2.bn3.weight"), find("layer4.2.bn3.weight")));
    EXPECT_TRUE(torch::equal(param(*net, "backbone.layer3.0.downsample.1.running_var"),
                             find("layer3.0.downsample.1.running_var")));
    EXPECT_TRUE(torch::equal(param(*net, "nonlocal.layer2_1.theta.weight"), theta_before));
    EXPECT_TRUE(torch::equal(param(*net, "pred.weight"), pred_before));
  }
  // A trunk of another width: the shapes neither match nor inflate, which is an error.
  models::Nonlocal ok(models::NonlocalOptions().num_classes(7).width(4));
  EXPECT_THROW(row.load_pretrain(*ok, path), std::exception);  // width 4: shapes differ
}

}  // namespace
}  // namespace vc::app
