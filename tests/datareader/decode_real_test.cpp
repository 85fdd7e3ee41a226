// Integration tests on the real third-party clips in ../shared/data/videos: every clip decodes,
// frame counts are right (including containers that lie), pixels agree with Python OpenCV, and
// the Kinetics reader turns each into a clip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "datareader/kinetics_reader.h"
#include "datareader/loader.h"
#include "datareader/video_decoder.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

const std::vector<std::string> kInputs = {
    "arm_wrestling.mp4",    "pool_cleaning.mp4", "pool_cleaning_32f.mp4", "eye_makeup.avi",
    "flipping_pancake.mkv", "keyboard_3f.mov",   "tree_cinepak.avi",      "rawframes_eye_makeup"};

std::string videos_dir_or_skip() {
  const std::string d = VC_SOURCE_DIR "/../shared/data/videos";
  if (!fs::is_directory(d)) return "";
  return fs::canonical(d).string();
}

#define SKIP_IF_NO_DATA(dir)                                     \
  if ((dir).empty())                                             \
  GTEST_SKIP() << "real test videos not found at " VC_SOURCE_DIR \
                  "/../shared/data/videos"                       \
                  " (see ../shared/data/README.md); skipping"

struct PyRef {
  int64_t declared = 0, decoded = 0;
  int h = 0, w = 0;
  std::vector<int64_t> ks;
};

TEST(DecodeReal, EveryClipMatchesPythonOpenCv) {
  const std::string vids = videos_dir_or_skip();
  SKIP_IF_NO_DATA(vids);
  if (std::system("/usr/bin/python3 -c 'import cv2' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with cv2 not available; skipping the pixel comparison";
  }
  TempDir out;
  std::string cmd =
      "/usr/bin/python3 " VC_SOURCE_DIR "/tests/datareader/dump_frames.py '" + out.str() + "'";
  for (const auto& n : kInputs) cmd += " '" + vids + "/" + n + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  auto dec = default_video_decoder();
  for (const auto& name : kInputs) {
    SCOPED_TRACE(name);
    PyRef ref;
    {
      std::ifstream in(out.file(name + ".txt"));
      ASSERT_TRUE(in) << "python produced no output for " << name;
      in >> ref.declared >> ref.decoded >> ref.h >> ref.w;
      int64_t k;
      while (in >> k) ref.ks.push_back(k);
    }
    ASSERT_GT(ref.decoded, 0);
    const std::string path = vids + "/" + name;
    auto src = dec->open(path);
    if (name == "rawframes_eye_makeup") {
      EXPECT_EQ(src->frame_count(), 10);
    } else {
      EXPECT_EQ(src->frame_count(), ref.declared);  // what the container declares
    }
    // Read the reference frames in one forward pass.
    const FrameReadResult r = src->read(ref.ks);
    EXPECT_FALSE(r.ended_early);
    ASSERT_EQ(r.frames.size(), ref.ks.size());
    for (std::size_t i = 0; i < ref.ks.size(); ++i) {
      const cv::Mat& m = r.frames[i];
      ASSERT_EQ(m.type(), CV_8UC3);
      ASSERT_EQ(m.rows, ref.h);
      ASSERT_EQ(m.cols, ref.w);
      std::ifstream raw(out.file(name + "_" + std::to_string(ref.ks[i]) + ".rgb"),
                        std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(raw)), {});
      ASSERT_EQ(bytes.size(), static_cast<std::size_t>(ref.h) * ref.w * 3);
      cv::Mat py(ref.h, ref.w, CV_8UC3, bytes.data());
      EXPECT_LE(cv::norm(m, py, cv::NORM_INF), 1.0) << "frame " << ref.ks[i];
    }
    // The true count: the frame after the last decodable one is not there.
    auto src2 = dec->open(path);
    const FrameReadResult past = src2->read({ref.decoded - 1, ref.decoded});
    EXPECT_EQ(past.frames.size(), 1u);
    EXPECT_TRUE(past.ended_early);
    EXPECT_EQ(past.frames_decoded, ref.decoded);
  }
}

TEST(DecodeReal, KnownFrameCounts) {
  const std::string vids = videos_dir_or_skip();
  SKIP_IF_NO_DATA(vids);
  auto dec = default_video_decoder();
  const std::vector<std::pair<std::string, int64_t>> counts = {
      {"arm_wrestling.mp4", 280}, {"pool_cleaning.mp4", 300}, {"pool_cleaning_32f.mp4", 32},
      {"eye_makeup.avi", 164},    {"keyboard_3f.mov", 3},     {"rawframes_eye_makeup", 10}};
  for (const auto& [name, n] : counts) {
    EXPECT_EQ(dec->open(vids + "/" + name)->frame_count(), n) << name;
  }
}

TEST(DecodeReal, LyingContainersAreResampledFromDecodedFrames) {
  const std::string vids = videos_dir_or_skip();
  SKIP_IF_NO_DATA(vids);
  auto dec = default_video_decoder();
  // tree_cinepak.avi declares 444 frames but only 68 decode; the mkv declares 311, 310 decode.
  for (const auto& [name, declared, real] : std::vector<std::tuple<std::string, int64_t, int64_t>>{
           {"tree_cinepak.avi", 444, 68}, {"flipping_pancake.mkv", 311, 310}}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(dec->open(vids + "/" + name)->frame_count(), declared);
    // seg_num = declared count: avg = 1, so every declared index 0..declared-1 is needed; the
    // stream ends at `real`, and the clip is resampled from the frames actually decoded.
    Rng rng(0);
    int64_t used = 0;
    const auto frames = load_clip_frames(*dec, vids + "/" + name, declared, 1, false, rng, &used);
    EXPECT_EQ(used, real);
    ASSERT_EQ(frames.size(), static_cast<std::size_t>(declared));
    // Index `real` wraps to frame 0.
    EXPECT_EQ(cv::norm(frames[static_cast<std::size_t>(real)], frames[0], cv::NORM_INF), 0.0);
  }
}

TEST(DecodeReal, KineticsReaderOnEveryClipAllPhases) {
  const std::string vids = videos_dir_or_skip();
  SKIP_IF_NO_DATA(vids);
  TempDir tmp;
  const std::string list = tmp.file("all.list");
  {
    std::ofstream l(list);
    for (std::size_t i = 0; i < kInputs.size(); ++i)
      l << vids << "/" << kInputs[i] << " " << i << "\n";
  }
  struct Case {
    Phase phase;
    int64_t seg_num, seglen, short_size, target;
    bool msc;
    ScaleMode mode;
  };
  for (const Case& c : {Case{Phase::kTrain, 3, 1, 256, 224, false, ScaleMode::kGroup43},
                        Case{Phase::kTrain, 8, 1, 256, 224, true, ScaleMode::kGroup43},
                        Case{Phase::kTest, 4, 5, 256, 256, false, ScaleMode::kGroup43},
                        Case{Phase::kValid, 3, 1, 128, 112, false, ScaleMode::kShortSide}}) {
    KineticsReaderOptions o;
    o.phase = c.phase;
    o.seg_num = c.seg_num;
    o.seglen = c.seglen;
    o.short_size = c.short_size;
    o.target_size = c.target;
    o.multi_scale_crop = c.msc;
    o.scale_mode = c.mode;
    auto ds = std::make_shared<KineticsDataset>(list, o);
    LoaderOptions lo;
    lo.batch_size = 4;
    lo.num_threads = 2;
    lo.seed = 9;
    Loader loader(ds, lo);
    loader.start_epoch(0);
    std::size_t n = 0;
    while (auto b = loader.next()) {
      EXPECT_EQ(b->input("video").sizes(),
                (std::vector<int64_t>{b->input("video").size(0), c.seg_num, 3 * c.seglen, c.target,
                                      c.target}));
      EXPECT_TRUE(torch::isfinite(b->input("video")).all().item<bool>());
      n += b->indices.size();
    }
    EXPECT_EQ(n, kInputs.size());
    EXPECT_EQ(loader.epoch_skips().skipped, 0u);
  }
}

}  // namespace
}  // namespace vc::data
