// NeXtVLAD (models/nextvlad): parameter names and shapes of the original, the eigenvalue
// multiplier, padding independence in eval and in training (the frame-level BatchNorm's
// statistics are those of the real frames only), and errors.
#include "models/nextvlad/nextvlad.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace vc::models {
namespace {

NextVladOptions small() {
  return NextVladOptions()
      .num_classes(6)
      .cluster_size(4)
      .groups(4)
      .hidden_size(16)
      .gating_reduction(4);
}

torch::Tensor raw(int64_t n, int64_t t, int64_t f) {
  return torch::randint(0, 256, {n, t, f}, torch::kFloat32);
}

// Random BN statistics and affine parameters, so that eval mode exercises them.
void randomize_bns(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& b : m.named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.1);
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2);
  }
}

TEST(NextVlad, ParametersOfTheOriginalSizes) {
  NextVlad net;
  std::map<std::string, std::vector<int64_t>> got;
  int64_t trainable = 0;
  for (const auto& p : net->named_parameters()) {
    got[p.key()] = p.value().sizes().vec();
    trainable += p.value().numel();
  }
  EXPECT_EQ(got.at("video.fc_expansion.weight"), (std::vector<int64_t>{2048, 1024}));
  EXPECT_EQ(got.at("video.cluster_weights"), (std::vector<int64_t>{2048, 1024}));
  EXPECT_EQ(got.at("video.cluster_weights2"), (std::vector<int64_t>{128, 256}));
  EXPECT_EQ(got.at("audio.cluster_weights2"), (std::vector<int64_t>{128, 32}));
  EXPECT_EQ(got.at("video.vlad_bn.weight"), (std::vector<int64_t>{32768}));
  EXPECT_EQ(got.at("audio.vlad_bn.weight"), (std::vector<int64_t>{4096}));
  EXPECT_EQ(got.at("hidden1_fc.weight"), (std::vector<int64_t>{2048, 36864}));
  EXPECT_EQ(got.at("gating_fc1.weight"), (std::vector<int64_t>{256, 2048}));
  EXPECT_EQ(got.at("logits_clf.bias"), (std::vector<int64_t>{3862}));
  EXPECT_EQ(got.count("hidden1_fc.bias") + got.count("gating_fc2.bias"), 0u);
  // Per unit: F*2F + 2F + 2F*G + G + 2F*G*K + K*F' + 2*(G*K) + 2*(K*F') (BN scale, bias);
  // video: 2099200 + 16392 + 2097152 + 32768 + 2048 + 65536; audio: 33024 + 2056 + 262144 +
  // 4096 + 2048 + 8192; head: 36864*2048 + 2*2048 + 2048*256 + 2*256 + 256*2048 +
  // 2048*3862 + 3862.
  EXPECT_EQ(trainable, 89088550);
  EXPECT_EQ(net->eigen_param.sizes(), (std::vector<int64_t>{1024}));
  EXPECT_FALSE(net->eigen_param.requires_grad());
}

TEST(NextVlad, EigenScale) {
  torch::Tensor eig = torch::arange(2048, torch::kFloat32).reshape({2048, 1});
  torch::Tensor e = nextvlad_eigen_scale(eig);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{1024}));
  EXPECT_NEAR(e[4].item<float>(), 2.0001f, 1e-6);
  EXPECT_NEAR(e[0].item<float>(), 1e-4f, 1e-9);
  EXPECT_THROW(nextvlad_eigen_scale(torch::ones({100, 1})), std::invalid_argument);
  EXPECT_THROW(nextvlad_eigen_scale(torch::ones({2048, 2})), std::invalid_argument);
  EXPECT_THROW(nextvlad_eigen_scale(-torch::ones({2048})), std::invalid_argument);
  EXPECT_THROW(nextvlad_eigen_scale(torch::ones({2048}, torch::kInt32)), std::invalid_argument);
  EXPECT_THROW(NextVlad(small().eigen_scale(torch::ones({10}))), std::invalid_argument);
  NextVlad net(small().eigen_scale(e));
  EXPECT_TRUE(torch::equal(net->eigen_param, e));
}

TEST(NextVlad, EvalLogitsDoNotDependOnPadding) {
  torch::manual_seed(5);
  NextVlad net(small());
  randomize_bns(*net);
  net->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor rgb = raw(3, 8, 1024), audio = raw(3, 8, 128);
  torch::Tensor mask = torch::ones({3, 8});
  mask[1].slice(0, 3).zero_();
  mask[2].slice(0, 6).zero_();
  torch::Tensor y = net->forward(ModelInput({{"rgb", rgb}, {"audio", audio}, {"mask", mask}}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 6}));
  for (int64_t i : {0, 1, 2}) {
    const int64_t n = mask[i].sum().item<int64_t>();
    torch::Tensor alone =
        net->forward(ModelInput({{"rgb", rgb.slice(0, i, i + 1).slice(1, 0, n)},
                                 {"audio", audio.slice(0, i, i + 1).slice(1, 0, n)}}));
    EXPECT_TRUE(torch::allclose(y[i], alone[0], 1e-4, 1e-5)) << "video " << i;
  }
}

TEST(NextVlad, TrainingBatchNormSeesRealFramesOnly) {
  torch::manual_seed(6);
  NextVlad a(small().dropout(0.0)), b(small().dropout(0.0)), c(small().dropout(0.0));
  for (auto* other : {&b, &c}) {
    for (auto& p : (*other)->named_parameters())
      p.value().detach().copy_(a->named_parameters()[p.key()]);
  }
  a->train();
  b->train();
  c->train();
  torch::Tensor rgb = raw(2, 5, 1024), audio = raw(2, 5, 128);
  torch::Tensor mask = torch::ones({2, 5});
  mask[1].slice(0, 2).zero_();  // video 1: 2 real frames
  // Padded to 5 and to 9 (more padding, garbage in it): same logits and running statistics.
  torch::Tensor rgb9 = torch::cat({rgb, raw(2, 4, 1024)}, 1),
                audio9 = torch::cat({audio, raw(2, 4, 128)}, 1);
  torch::Tensor mask9 = torch::cat({mask, torch::zeros({2, 4})}, 1);
  rgb.slice(0, 1, 2).slice(1, 2).fill_(77);
  torch::Tensor ya = a->forward(ModelInput({{"rgb", rgb}, {"audio", audio}, {"mask", mask}}));
  torch::Tensor yb = b->forward(ModelInput({{"rgb", rgb9}, {"audio", audio9}, {"mask", mask9}}));
  EXPECT_TRUE(torch::allclose(ya, yb, 1e-4, 1e-5));
  EXPECT_TRUE(
      torch::allclose(a->video->cluster_bn->running_mean, b->video->cluster_bn->running_mean));
  EXPECT_TRUE(
      torch::allclose(a->audio->cluster_bn->running_var, b->audio->cluster_bn->running_var));
  // The frame-level statistics are those of the 7 real frames (any batch holding exactly them).
  torch::Tensor real_rgb = torch::cat({rgb[0], rgb[1].slice(0, 0, 2)}).unsqueeze(0);
  torch::Tensor real_audio = torch::cat({audio[0], audio[1].slice(0, 0, 2)}).unsqueeze(0);
  torch::Tensor both_rgb = torch::cat({real_rgb, real_rgb}),
                both_audio = torch::cat({real_audio, real_audio});
  c->forward(ModelInput({{"rgb", both_rgb}, {"audio", both_audio}}));
  // c saw the 7 frames twice: the same mean and (biased) variance; the unbiased running
  // variance differs by the factor (14/13) / (7/6) on the batch part only, so compare means.
  EXPECT_TRUE(torch::allclose(a->video->cluster_bn->running_mean,
                              c->video->cluster_bn->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a->audio->cluster_bn->running_mean,
                              c->audio->cluster_bn->running_mean, 1e-5, 1e-6));
}

TEST(NextVlad, BadInputsAreErrors) {
  NextVlad net(small());
  EXPECT_THROW(net->forward(ModelInput({{"rgb", raw(2, 5, 1024)}, {"audio", raw(2, 4, 128)}})),
               std::invalid_argument);
  EXPECT_THROW(
      net->forward(ModelInput(
          {{"rgb", raw(2, 5, 1024)}, {"audio", raw(2, 5, 128)}, {"mask", torch::ones({2})}})),
      std::invalid_argument);
  EXPECT_THROW(NextVlad(small().groups(3)), std::invalid_argument);
  EXPECT_THROW(NextVlad(small().hidden_size(2).gating_reduction(4)), std::invalid_argument);
}

}  // namespace
}  // namespace vc::models
