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

}  // namespace
