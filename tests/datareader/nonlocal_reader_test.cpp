// The Non-local reader (spec §3.3): sampled frame indices, crop positions, normalisation,
// determinism per seed, multi-view samples, list checks and skip-and-count of bad files.
// A fake decoder whose pixels encode (frame index, x, y) makes every check exact; one test
// decodes a real video written by OpenCV.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/videoio.hpp>

#include "datareader/loader.h"
#include "datareader/nonlocal_reader.h"
#include "datareader/transforms.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {

using testing::TempDir;

// Frames of W x H whose pixel (x, y) of frame t is RGB (t, x, y) (mod 256).
class CodedSource : public VideoSource {
 public:
  CodedSource(int64_t n, cv::Size size, std::vector<int64_t>* log)
      : n_(n), size_(size), log_(log) {}
  int64_t frame_count() const override { return n_; }
  cv::Size frame_size() const override { return size_; }
  FrameReadResult read(const std::vector<int64_t>& idx) override {
    if (log_) *log_ = idx;
    FrameReadResult r;
    for (int64_t t : idx) {
      cv::Mat m(size_, CV_8UC3);
      for (int y = 0; y < size_.height; ++y) {
        for (int x = 0; x < size_.width; ++x) {
          m.at<cv::Vec3b>(y, x) =
              cv::Vec3b(static_cast<uint8_t>(t & 255), static_cast<uint8_t>(x & 255),
                        static_cast<uint8_t>(y & 255));
        }
      }
      r.frames.push_back(m);
    }
    r.frames_decoded = idx.empty() ? 0 : idx.back() + 1;
    return r;
  }

 private:
  int64_t n_;
  cv::Size size_;
  std::vector<int64_t>* log_;
};

class CodedDecoder : public VideoDecoder {
 public:
  CodedDecoder(int64_t n, cv::Size size) : n_(n), size_(size) {}
  std::unique_ptr<VideoSource> open(const std::string& path) const override {
    if (path.find("missing") != std::string::npos) throw DecodeError(path, "file not found");
    return std::make_unique<CodedSource>(n_, size_, &last_read);
  }
  std::string name() const override { return "coded"; }
  mutable std::vector<int64_t> last_read;

 private:
  int64_t n_;
  cv::Size size_;
};

std::string write_list(const TempDir& dir, const std::string& text) {
  const std::string p = dir.file("list.txt");
  testing::write_file(p, text);
  return p;
}

// Decodes the code of output pixel (c = 0 frame index, 1 x, 2 y) back to 0..255.
int64_t code(const torch::Tensor& clip, int64_t c, int64_t l, int64_t y, int64_t x) {
  const float v = clip.index({c, l, y, x}).item<float>();
  return std::lround(v * 57.375 + 114.75);
}

NonlocalReaderOptions small(Phase phase) {
  NonlocalReaderOptions o;
  o.phase = phase;
  o.crop_size = 32;
  o.sample_rate = 3;
  o.video_length = 4;
  o.jitter_min = 48;
  o.jitter_max = 48;
  o.num_classes = 10;
  return o;
}

TEST(NonlocalSampling, Rules) {
  Rng rng(1);
  // frame_cnt <= L*sr: start 0 without a draw.
  Rng before = rng;
  EXPECT_EQ(nonlocal_random_start(64, 8, 8, rng), 0);
  EXPECT_EQ(rng.next_u64(), before.next_u64());
  for (int i = 0; i < 200; ++i) {
    const int64_t s = nonlocal_random_start(70, 8, 8, rng);
    EXPECT_GE(s, 0);
    EXPECT_LE(s, 6);  // randint(0, 70 - 64) inclusive
  }
  EXPECT_EQ(nonlocal_test_start(300, 10, 0), 0);
  EXPECT_EQ(nonlocal_test_start(300, 10, 3), 90);
  EXPECT_EQ(nonlocal_test_start(25, 10, 3), 7);  // int(2.5 * 3)
  EXPECT_EQ(nonlocal_clip_indices(20, 10, 4, 3), (std::vector<int64_t>{10, 13, 16, 19}));
  EXPECT_EQ(nonlocal_clip_indices(20, 15, 4, 3), (std::vector<int64_t>{15, 18, 1, 4}));
  EXPECT_EQ(nonlocal_scale(256, 256, rng), 256);
  for (int i = 0; i < 200; ++i) {
    const int64_t s = nonlocal_scale(256, 320, rng);
    EXPECT_GE(s, 256);
    EXPECT_LE(s, 319);
  }
  // Crops of a 256 x 340 (h x w) frame, crop 256: h_off 0, so the crops move along x.
  const cv::Size wide(340, 256);
  EXPECT_EQ(nonlocal_crop_offset(wide, 256, false, -1, rng), cv::Point(42, 0));
  EXPECT_EQ(nonlocal_crop_offset(wide, 256, false, 0, rng), cv::Point(0, 0));
  EXPECT_EQ(nonlocal_crop_offset(wide, 256, false, 1, rng), cv::Point(42, 0));
  EXPECT_EQ(nonlocal_crop_offset(wide, 256, false, 2, rng), cv::Point(84, 0));
  // A tall frame (h 341): h_off = 42, so the crops move along y (84 = 2 * int(85 / 2)).
  const cv::Size tall(256, 341);
  EXPECT_EQ(nonlocal_crop_offset(tall, 256, false, 2, rng), cv::Point(0, 84));
  for (int i = 0; i < 100; ++i) {
    const cv::Point p = nonlocal_crop_offset(cv::Size(300, 260), 224, true, -1, rng);
    EXPECT_GE(p.x, 0);
    EXPECT_LE(p.x, 75);  // randint(0, 76) exclusive
    EXPECT_GE(p.y, 0);
    EXPECT_LE(p.y, 35);
  }
  EXPECT_THROW(nonlocal_crop_offset(cv::Size(100, 100), 224, false, -1, rng),
               std::invalid_argument);
}

TEST(NonlocalReader, TrainSampleDecodesItsFramesAndNormalises) {
  TempDir dir("nl_train");
  auto dec = std::make_shared<CodedDecoder>(100, cv::Size(64, 48));
  NonlocalReaderOptions o = small(Phase::kTrain);
  NonlocalDataset ds(write_list(dir, "a.mp4 3\nb.mp4 4\n"), o, dec);
  ASSERT_EQ(ds.size(), 2u);
  const Sample s = ds.get(0, 42);
  EXPECT_EQ(s.views, 1);
  EXPECT_EQ(s.target.class_index, 3);
  const torch::Tensor& v = s.inputs.at("video");
  ASSERT_EQ(v.sizes(), (std::vector<int64_t>{3, 4, 32, 32}));
  // The draws replayed: start, scale (fixed), h_off, w_off, flip.
  Rng rng(42);
  const int64_t start = nonlocal_random_start(100, 4, 3, rng);
  nonlocal_scale(48, 48, rng);
  const cv::Point off = nonlocal_crop_offset(cv::Size(64, 48), 32, true, -1, rng);
  const bool flip = draw_flip(rng);
  const auto idx = nonlocal_clip_indices(100, start, 4, 3);
  EXPECT_EQ(dec->last_read, idx);  // only the clip's frames were decoded
  for (int64_t l = 0; l < 4; ++l) {
    EXPECT_EQ(code(v, 0, l, 5, 7), idx[l]);
    EXPECT_EQ(code(v, 1, l, 5, 7), off.x + (flip ? 31 - 7 : 7));
    EXPECT_EQ(code(v, 2, l, 5, 7), off.y + 5);
  }
  // Exact normalisation of one value: (x - 114.75) / 57.375.
  EXPECT_FLOAT_EQ(v.index({0, 0, 0, 0}).item<float>(),
                  (static_cast<float>(idx[0]) - 114.75f) / 57.375f);
  // Same seed, same sample; another seed differs somewhere.
  EXPECT_TRUE(torch::equal(ds.get(0, 42).inputs.at("video"), v));
  bool differs = false;
  for (uint64_t seed = 1; seed < 6 && !differs; ++seed) {
    differs = !torch::equal(ds.get(0, seed).inputs.at("video"), v);
  }
  EXPECT_TRUE(differs);
}

TEST(NonlocalReader, ValidCentreCropsWithoutMirror) {
  TempDir dir("nl_valid");
  auto dec = std::make_shared<CodedDecoder>(10, cv::Size(64, 48));  // 10 <= L*sr: start 0
  NonlocalDataset ds(write_list(dir, "a.mp4 1\n"), small(Phase::kValid), dec);
  const torch::Tensor v = ds.get(0, 7).inputs.at("video");
  const std::vector<int64_t> want{0, 3, 6, 9};
  for (int64_t l = 0; l < 4; ++l) {
    EXPECT_EQ(code(v, 0, l, 0, 0), want[l]);
    EXPECT_EQ(code(v, 1, l, 0, 0), 16);  // int((64 - 32) / 2)
    EXPECT_EQ(code(v, 2, l, 0, 0), 8);   // int((48 - 32) / 2)
    EXPECT_EQ(code(v, 1, l, 0, 31), 16 + 31);
  }
}

TEST(NonlocalReader, TestViewsAreClipsTimesCrops) {
  TempDir dir("nl_test");
  auto dec = std::make_shared<CodedDecoder>(50, cv::Size(80, 48));  // short side 48 = scale
  NonlocalReaderOptions o = small(Phase::kTest);
  o.crop_size = 48;
  o.num_clips = 5;
  o.num_crops = 3;
  NonlocalDataset ds(write_list(dir, "a.mp4 2\n"), o, dec);
  EXPECT_EQ(ds.views(), 15);
  EXPECT_EQ(ds.view_info().views, 15);  // what test / infer report
  EXPECT_EQ(ds.view_info().layout, "5x3 (clips x crops)");
  const Sample s = ds.get(0, 1);
  EXPECT_EQ(s.views, 15);
  const torch::Tensor& v = s.inputs.at("video");
  ASSERT_EQ(v.sizes(), (std::vector<int64_t>{15, 3, 4, 48, 48}));
  std::vector<int64_t> all;
  for (int64_t j = 0; j < 5; ++j) {
    const auto idx = nonlocal_clip_indices(50, nonlocal_test_start(50, 5, j), 4, 3);
    all.insert(all.end(), idx.begin(), idx.end());
    for (int64_t k = 0; k < 3; ++k) {
      const torch::Tensor view = v[j * 3 + k];
      for (int64_t l = 0; l < 4; ++l) {
        EXPECT_EQ(code(view, 0, l, 0, 0), idx[l]) << "clip " << j << " frame " << l;
      }
      EXPECT_EQ(code(view, 1, 0, 0, 0), 16 * k) << "crop " << k;  // centre offset 16 x k
      EXPECT_EQ(code(view, 2, 0, 0, 0), 0);
    }
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(dec->last_read, all);  // the union of the views' frames, decoded once
  // Deterministic: the seed does not matter at test time.
  EXPECT_TRUE(torch::equal(ds.get(0, 99).inputs.at("video"), v));
  // One view per video in TRAIN / VALID whatever num_clips says.
  o.phase = Phase::kValid;
  o.jitter_max = 60;
  NonlocalDataset valid(dir.file("list.txt"), o, dec);
  EXPECT_EQ(valid.get(0, 1).views, 1);
  EXPECT_EQ(valid.view_info().views, 1);
}

TEST(NonlocalReader, ScalesTheShortSide) {
  TempDir dir("nl_scale");
  auto dec = std::make_shared<CodedDecoder>(20, cv::Size(40, 30));
  NonlocalReaderOptions o = small(Phase::kValid);
  o.crop_size = 60;
  o.jitter_min = 60;
  o.jitter_max = 60;  // 30 -> 60: the frames are scaled by 2 (80 x 60)
  NonlocalDataset ds(write_list(dir, "a.mp4 1\n"), o, dec);
  const torch::Tensor v = ds.get(0, 3).inputs.at("video");
  ASSERT_EQ(v.sizes(), (std::vector<int64_t>{3, 4, 60, 60}));
  // Centre crop x offset int((80 - 60) / 2) = 10 on the scaled frame = 5 in the source.
  EXPECT_NEAR(code(v, 1, 0, 30, 0), 5, 1);
  EXPECT_NEAR(code(v, 1, 0, 30, 59), (10 + 59) / 2, 1);
}

TEST(NonlocalReader, ListChecksAndBadFiles) {
  TempDir dir("nl_lists");
  auto dec = std::make_shared<CodedDecoder>(20, cv::Size(64, 48));
  try {
    NonlocalDataset ds(write_list(dir, "a.mp4 0 0 0\na.mp4 0 0 1\n"), small(Phase::kTest), dec);
    FAIL() << "a 4-column test list was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("vallist.txt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("num_clips"), std::string::npos) << e.what();
  }
  NonlocalDataset ds(write_list(dir, "a.mp4 1\nbad line here\nmissing.mp4 2\nc.mp4 99\n"),
                     small(Phase::kTrain), dec);
  EXPECT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.skipped_lines().size(), 2u);  // non-integer label, label out of range
  EXPECT_THROW(ds.get(1, 0), SampleError);
  // The loader skips and counts the bad file.
  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_threads = 1;
  Loader loader(std::make_shared<NonlocalDataset>(dir.file("list.txt"), small(Phase::kTrain), dec),
                lo);
  int64_t n = 0;
  while (auto b = loader.next()) n += b->size();
  EXPECT_EQ(n, 1);
  EXPECT_EQ(loader.epoch_skips().skipped, 1);
  NonlocalReaderOptions bad = small(Phase::kTrain);
  bad.crop_size = 64;  // > jitter_min 48
  EXPECT_THROW(NonlocalDataset(dir.file("list.txt"), bad, dec), DataError);
  bad = small(Phase::kTest);
  bad.num_crops = 2;
  EXPECT_THROW(NonlocalDataset(dir.file("list.txt"), bad, dec), DataError);
}

TEST(NonlocalReader, DecodesARealVideo) {
  TempDir dir("nl_real");
  const std::string path = dir.file("clip.avi");
  {
    cv::VideoWriter w(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25, cv::Size(64, 48));
    if (!w.isOpened()) GTEST_SKIP() << "skipped: OpenCV cannot write MJPG here";
    for (int t = 0; t < 40; ++t) w.write(testing::synthetic_frame(64, 48, t, 1));
  }
  for (const char* decoder : {"ffmpeg", "opencv"}) {
    NonlocalReaderOptions o = small(Phase::kTest);
    o.decoder = decoder;
    o.num_clips = 2;
    o.num_crops = 3;
    NonlocalDataset ds(write_list(dir, "clip.avi 0\n"), o);
    const Sample s = ds.get(0, 0);
    ASSERT_EQ(s.inputs.at("video").sizes(), (std::vector<int64_t>{6, 3, 4, 32, 32})) << decoder;
    const float mx = s.inputs.at("video").abs().max().item<float>();
    EXPECT_LE(mx, 255.0f / 57.375f) << decoder;
    EXPECT_GT(s.inputs.at("video").std().item<float>(), 0.1f) << decoder;
  }
}

}  // namespace
}  // namespace vc::data
