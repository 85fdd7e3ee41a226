// build/bin/model_info prints the parameter count of each full-size network; here each count is
// compared with the number worked out by hand from the layer lists of the spec
// (../shared/spec/reference_paddle_video.md §6.4-6.8). The formulas are written out so that a
// wrong layer shows up as a wrong count.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace {

const std::string kBin = std::string(VC_BINARY_DIR) + "/bin/";

// stdout of `model_info --total --model-name ID` run from the source dir (configs/<id>.yaml).
int64_t tool_count(const std::string& id, const std::string& extra = "") {
  const std::string cmd = "cd '" + std::string(VC_SOURCE_DIR) + "' && '" + kBin +
                          "model_info' --total --model-name " + id + " " + extra + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  EXPECT_TRUE(pipe) << cmd;
  std::string out;
  std::array<char, 256> buf{};
  while (pipe && fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  try {
    return std::stoll(out);
  } catch (const std::exception&) {
    ADD_FAILURE() << cmd << " printed: " << out;
    return -1;
  }
}

// Spec §6.4: the 2-D ResNet-50 trunk with `in` input channels, without the classifier. Each
// conv_bn_layer = conv weights (no bias) + BN scale and offset (the running mean / variance are
// not parameters).
int64_t resnet50_trunk(int64_t in) {
  int64_t n = 64 * in * 7 * 7 + 2 * 64;  // conv1 + bn_conv1
  const int64_t blocks[4] = {3, 4, 6, 3};
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t cin = 64;
  for (int s = 0; s < 4; ++s) {
    const int64_t c = widths[s];
    for (int64_t b = 0; b < blocks[s]; ++b) {
      n += c * cin + 2 * c;                      // branch2a 1x1 + BN
      n += c * c * 3 * 3 + 2 * c;                // branch2b 3x3 + BN
      n += 4 * c * c + 2 * 4 * c;                // branch2c 1x1 + BN
      if (b == 0) n += 4 * c * cin + 2 * 4 * c;  // branch1 1x1 + BN (block a only)
      cin = 4 * c;
    }
  }
  return n;
}

TEST(ModelInfo, ResNet50TrunkFormulaMatchesTorchvision) {
  // torchvision.models.resnet50(): 25,557,032 parameters, of which fc = 2048*1000 + 1000.
  EXPECT_EQ(resnet50_trunk(3), 25557032 - (2048 * 1000 + 1000));
}

TEST(ModelInfo, TsnCountMatchesTheSpec) {
  // §6.5: ResNet-50 (3 input channels) + fc_0 [2048, 400] + bias [400].
  EXPECT_EQ(tool_count("TSN"), resnet50_trunk(3) + 2048 * 400 + 400);
}

TEST(ModelInfo, TsmCountMatchesTheSpec) {
  // §6.6: TSN's network; the temporal shift and the dropout have no parameters.
  EXPECT_EQ(tool_count("TSM"), resnet50_trunk(3) + 2048 * 400 + 400);
}

TEST(ModelInfo, StnetCountMatchesTheSpec) {
  // §6.7: the trunk with conv1 [64, 15, 7, 7] (seglen 5).
  int64_t n = resnet50_trunk(3 * 5);
  // Temporal blocks after res3 / res4: conv3d C->C kernel (3,1,1) with bias + BN(C).
  for (int64_t c : {512, 1024}) n += c * c * 3 + c + 2 * c;
  // Temporal Xception block.
  n += 2 * 2048;                 // xception_bn BN(2048)
  n += 2048 * 1 * 3 * 1 + 2048;  // xception_att_conv depthwise [2048, 1, 3, 1] + bias
  n += 2048 * 1024 + 1024;       // xception_att_2 1x1 2048 -> 1024 + bias
  n += 2 * 1024;                 // xception_bndw BN(1024)
  n += 1024 * 1 * 3 * 1 + 1024;  // xception_att1 depthwise [1024, 1, 3, 1] + bias
  n += 1024 * 1024 + 1024;       // xception_att1_2 1x1 1024 -> 1024 + bias
  n += 2048 * 1024 + 1024;       // xception_dw shortcut 1x1 2048 -> 1024 + bias
  n += 2 * 1024;                 // xception_bn2 BN(1024)
  n += 1024 * 400 + 400;         // fc_0
  EXPECT_EQ(tool_count("STNET"), n);
}

TEST(ModelInfo, NonlocalCountMatchesTheSpec) {
  // §6.8: C2D ResNet-50: every kernel has temporal extent 1, so the trunk has the 2-D count.
  int64_t n = resnet50_trunk(3);
  // Non-local block on C channels, C' = C / 2: theta, phi, g (C -> C', with bias), out (C' -> C,
  // with bias), BN(C).
  auto block = [](int64_t c) {
    const int64_t ci = c / 2;
    return 3 * (c * ci + ci) + ci * c + c + 2 * c;
  };
  n += 2 * block(512) + 3 * block(1024);  // res3 blocks 1, 3; res4 blocks 1, 3, 5
  n += 2048 * 400 + 400;                  // pred
  EXPECT_EQ(tool_count("NONLOCAL"), n);
  // I3D (video_arc_choice 2): conv1 temporal kernel 5, branch2a kernel 3 where use_temp_conv.
  int64_t i3d = n + 64 * 3 * 7 * 7 * 4;  // conv1 [64, 3, 5, 7, 7]
  const int64_t widths[4] = {64, 128, 256, 512};
  const int64_t temp[4][6] = {{1, 1, 1}, {1, 0, 1, 0}, {1, 0, 1, 0, 1, 0}, {0, 1, 0}};
  const int64_t blocks[4] = {3, 4, 6, 3};
  for (int s = 0; s < 4; ++s) {
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t cin = b == 0 ? (s == 0 ? 64 : 2 * widths[s]) : 4 * widths[s];
      if (temp[s][b]) i3d += widths[s] * cin * 2;  // branch2a [C, Cin, 3, 1, 1]: 2 more taps
    }
  }
  EXPECT_EQ(tool_count("NONLOCAL", "--set MODEL.video_arc_choice=2"), i3d);
}

TEST(ModelInfo, AttentionLstmCountMatchesTheSpec) {
  // §6.2, per modality of width d: fc d -> 512, two fc 512 -> 4096 (input projections), two
  // LSTMs (w [1024, 4096], b [1, 7168] = 4 gate biases + 3 peepholes), attention fc 2048 -> 1.
  auto branch = [](int64_t d) {
    return (d * 512 + 512) + 2 * (512 * 4096 + 4096) + 2 * (1024 * 4096 + 7 * 1024) + 2048 + 1;
  };
  // Head: 4096 -> 8192 relu -> 4096 tanh -> 3862.
  const int64_t head = (4096 * 8192 + 8192) + (8192 * 4096 + 4096) + (4096 * 3862 + 3862);
  EXPECT_EQ(tool_count("AttentionLSTM"), branch(1024) + branch(128) + head);
}

TEST(ModelInfo, AttentionClusterCountMatchesTheSpec) {
  // §6.1: per modality (F, C) = (1024, 32), (128, 32): the 1x1 conv [C, F, 1, 1] + bias [C],
  // shift_w [C], shift_b [C]; head fc1 [36864, 1024] + bias, fc2 [1024, 4096] + bias,
  // logistic [4096, 3862] + bias.
  int64_t n = 0;
  for (int64_t f : {1024, 128}) n += 32 * f + 32 + 2 * 32;
  n += (32 * 1024 + 32 * 128) * 1024 + 1024;
  n += 1024 * 4096 + 4096;
  n += 4096 * 3862 + 3862;
  EXPECT_EQ(tool_count("AttentionCluster", "--config configs/attention_cluster.yaml"), n);
}

TEST(ModelInfo, NextvladCountMatchesTheSpec) {
  // §6.3 (lambda 2, G 8, K 128): per modality fc_expansion [F, 2F] + [2F], fc_group_attention
  // [2F, 8] + [8], cluster_weights [2F, 8*128], cluster_weights2 [128, 2F/8], BN(8*128) and
  // BN(128 * 2F/8) scale + offset (eigen_param and the running statistics are not trainable).
  int64_t n = 0;
  for (int64_t f : {1024, 128}) {
    const int64_t fp = 2 * f / 8;
    n +=
        f * 2 * f + 2 * f + 2 * f * 8 + 8 + 2 * f * 8 * 128 + 128 * fp + 2 * 8 * 128 + 2 * 128 * fp;
  }
  const int64_t vlad = 128 * (256 + 32);  // 36864
  n += vlad * 2048 + 2 * 2048;            // hidden1_fc (no bias) + BN
  n += 2048 * 256 + 2 * 256;              // gating_fc1 (no bias) + BN
  n += 256 * 2048;                        // gating_fc2 (no bias)
  n += 2048 * 3862 + 3862;                // logits_clf
  EXPECT_EQ(tool_count("NEXTVLAD", "--config configs/nextvlad.yaml"), n);
}

}  // namespace
