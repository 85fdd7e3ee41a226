// Unit tests of multi-view testing in the Kinetics reader (docs/reader.md "Views"): the clips'
// frame indices, the crops' offsets for landscape / portrait / square frames, one decoder pass
// per video, the single view unchanged bit for bit, determinism.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cfenv>
#include <cmath>
#include <mutex>

#include "datareader/kinetics_reader.h"
#include "datareader/sampling.h"
#include "datareader/transforms.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {
using testing::synthetic_frame;
using testing::TempDir;
using testing::write_file;

TEST(ViewSampling, ClipOffsetsAreEvenlySpacedWithNumpyRounding) {
  // num_clips == 1 is the centred offset of segment_indices.
  for (int64_t m : {0, 1, 2, 7, 8}) EXPECT_EQ(clip_offset(m, 0, 1), m / 2) << m;
  EXPECT_EQ(clip_offset(4, 0, 2), 0);
  EXPECT_EQ(clip_offset(4, 1, 2), 4);
  EXPECT_EQ(clip_offset(5, 1, 3), 2);  // 2.5 -> 2 (halves to even, as np.round)
  EXPECT_EQ(clip_offset(3, 3, 5), 2);  // 2.25
  EXPECT_EQ(clip_offset(7, 1, 3), 4);  // 3.5 -> 4
  // Against the floating-point formula, rounded to nearest-even as numpy does.
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  for (int64_t m = 0; m <= 40; ++m) {
    for (int64_t n = 2; n <= 12; ++n) {
      for (int64_t j = 0; j < n; ++j) {
        const auto expect = static_cast<int64_t>(std::nearbyint(
            static_cast<double>(j) * static_cast<double>(m) / static_cast<double>(n - 1)));
        ASSERT_EQ(clip_offset(m, j, n), expect) << m << " " << j << " " << n;
      }
      EXPECT_EQ(clip_offset(m, 0, n), 0);
      EXPECT_EQ(clip_offset(m, n - 1, n), m);  // the first and the last possible offset
    }
  }
  EXPECT_THROW(clip_offset(-1, 0, 1), std::invalid_argument);
  EXPECT_THROW(clip_offset(3, 2, 2), std::invalid_argument);
  EXPECT_THROW(clip_offset(3, 0, 0), std::invalid_argument);
}

TEST(ViewSampling, ClipIndicesPerClip) {
  // L = 30, 3 segments of avg 10, seglen 2: offsets within a segment range over [0, 8].
  EXPECT_EQ(clip_indices(30, 3, 2, 0, 3), (std::vector<int64_t>{0, 1, 10, 11, 20, 21}));
  EXPECT_EQ(clip_indices(30, 3, 2, 1, 3), (std::vector<int64_t>{4, 5, 14, 15, 24, 25}));
  EXPECT_EQ(clip_indices(30, 3, 2, 2, 3), (std::vector<int64_t>{8, 9, 18, 19, 28, 29}));
  // One clip = the centred sampling of segment_indices, for every geometry (short videos too).
  for (int64_t L : {1, 2, 5, 7, 16, 30, 101}) {
    for (int64_t seg : {1, 3, 8}) {
      for (int64_t len : {1, 2, 5}) {
        Rng unused(1);
        EXPECT_EQ(clip_indices(L, seg, len, 0, 1), segment_indices(L, seg, len, false, unused))
            << L << " " << seg << " " << len;
      }
    }
  }
  // Segments shorter than seglen: nothing to spread, every clip is the same.
  EXPECT_EQ(clip_indices(5, 3, 2, 0, 2), clip_indices(5, 3, 2, 1, 2));
  EXPECT_EQ(clip_indices(2, 3, 1, 1, 4), (std::vector<int64_t>{0, 1, 0}));  // i modulo L
  EXPECT_THROW(clip_indices(0, 3, 1, 0, 1), std::invalid_argument);
  EXPECT_THROW(clip_indices(30, 3, 1, 3, 3), std::invalid_argument);
}

TEST(ViewCrops, LandscapePortraitSquare) {
  const cv::Size t(32, 32);
  // Landscape 53x40: left / centre / right, centred vertically; the centre crop is the
  // single-view one (round(21/2) = 11, halves away from zero).
  auto r = view_crop_rects({53, 40}, t, 3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], cv::Rect(0, 4, 32, 32));
  EXPECT_EQ(r[1], cv::Rect(11, 4, 32, 32));
  EXPECT_EQ(r[2], cv::Rect(21, 4, 32, 32));
  EXPECT_EQ(r[1], center_crop_rect({53, 40}, t));
  // Portrait 40x53: top / centre / bottom.
  r = view_crop_rects({40, 53}, t, 3);
  EXPECT_EQ(r[0], cv::Rect(4, 0, 32, 32));
  EXPECT_EQ(r[1], cv::Rect(4, 11, 32, 32));
  EXPECT_EQ(r[2], cv::Rect(4, 21, 32, 32));
  // Square: top / centre / bottom.
  r = view_crop_rects({40, 40}, t, 3);
  EXPECT_EQ(r[0], cv::Rect(4, 0, 32, 32));
  EXPECT_EQ(r[2], cv::Rect(4, 8, 32, 32));
  // The original's test crops: 256 crops of a 256-high frame, left/centre/right.
  r = view_crop_rects({341, 256}, {256, 256}, 3);
  EXPECT_EQ(r[0].x, 0);
  EXPECT_EQ(r[1].x, 43);  // round(42.5)
  EXPECT_EQ(r[2].x, 85);
  EXPECT_EQ(r[2].y, 0);
  // One crop: the centre crop.
  r = view_crop_rects({53, 40}, t, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], center_crop_rect({53, 40}, t));
  EXPECT_THROW(view_crop_rects({53, 40}, t, 2), std::invalid_argument);
  EXPECT_THROW(view_crop_rects({30, 40}, t, 3), std::invalid_argument);
}

// A decoder that counts opens and reads and records the requested indices; frame k is the
// synthetic frame k (w x h, distinct pixels everywhere) of video `id`. frame_size() is unknown
// (empty), so the reader scales after decoding.
class CountingDecoder : public VideoDecoder {
 public:
  CountingDecoder(int64_t frames, int w, int h) : frames_(frames), w_(w), h_(h) {}
  std::string name() const override { return "counting"; }
  std::unique_ptr<VideoSource> open(const std::string& path) const override {
    struct Src : VideoSource {
      const CountingDecoder* dec;
      int64_t frame_count() const override { return dec->frames_; }
      FrameReadResult read(const std::vector<int64_t>& idx) override {
        {
          std::lock_guard<std::mutex> lock(dec->mu_);
          ++dec->reads_;
          dec->requested_.push_back(idx);
        }
        FrameReadResult r;
        for (int64_t i : idx) {
          r.frames.push_back(synthetic_frame(dec->w_, dec->h_, static_cast<int>(i), 3));
        }
        r.frames_decoded = idx.empty() ? 0 : idx.back() + 1;
        return r;
      }
    };
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++opens_;
    }
    auto s = std::make_unique<Src>();
    s->dec = this;
    return s;
  }
  int opens() const { return opens_; }
  int reads() const { return reads_; }
  const std::vector<std::vector<int64_t>>& requested() const { return requested_; }
  void reset() {
    opens_ = reads_ = 0;
    requested_.clear();
  }

 private:
  int64_t frames_;
  int w_, h_;
  mutable std::mutex mu_;
  mutable int opens_ = 0, reads_ = 0;
  mutable std::vector<std::vector<int64_t>> requested_;
};

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

TEST(ViewClips, AllClipsDecodedInOnePass) {
  CountingDecoder dec(30, 24, 18);
  int64_t used = 0;
  const auto clips = load_view_clips(dec, "v.mp4", 3, 2, 3, &used);
  EXPECT_EQ(used, 30);
  EXPECT_EQ(dec.opens(), 1);
  EXPECT_EQ(dec.reads(), 1);
  std::vector<int64_t> all;
  ASSERT_EQ(clips.size(), 3u);
  for (int64_t j = 0; j < 3; ++j) {
    const auto idx = clip_indices(30, 3, 2, j, 3);
    all.insert(all.end(), idx.begin(), idx.end());
    ASSERT_EQ(clips[static_cast<std::size_t>(j)].size(), idx.size());
    for (std::size_t k = 0; k < idx.size(); ++k) {
      EXPECT_TRUE(same_pixels(clips[static_cast<std::size_t>(j)][k],
                              synthetic_frame(24, 18, static_cast<int>(idx[k]), 3)))
          << j << " " << k;
    }
  }
  EXPECT_EQ(dec.requested().at(0), unique_sorted(all));  // the union, each frame once
  // Overlapping clips (short segments): shared frames are requested once.
  dec.reset();
  const auto same = load_view_clips(dec, "v.mp4", 8, 4, 2);  // avg 3 < seglen 4
  EXPECT_EQ(dec.reads(), 1);
  EXPECT_EQ(dec.requested().at(0), unique_sorted(clip_indices(30, 8, 4, 0, 2)));
  EXPECT_THROW(load_view_clips(dec, "v.mp4", 3, 1, 0), std::invalid_argument);
}

// A list of `n` (nonexistent: the decoder is fake) videos.
std::string write_list(TempDir& tmp, int n) {
  std::string text;
  for (int v = 0; v < n; ++v)
    text += "video" + std::to_string(v) + ".mp4 " + std::to_string(v) + "\n";
  const std::string list = tmp.file("views.list");
  write_file(list, text);
  return list;
}

KineticsReaderOptions test_opts(int64_t clips, int64_t crops) {
  KineticsReaderOptions o;
  o.phase = Phase::kTest;
  o.seg_num = 3;
  o.seglen = 2;
  o.short_size = 16;
  o.target_size = 12;
  o.num_classes = 5;
  o.scale_mode = ScaleMode::kShortSide;
  o.num_clips = clips;
  o.num_crops = crops;
  return o;
}

// float32 [seg_num, 3*seglen, t, t] of frames cropped at `rect` (the reader's steps).
torch::Tensor crop_clip(const std::vector<cv::Mat>& frames, const KineticsReaderOptions& o,
                        const cv::Rect& rect) {
  const auto imgs = group_crop(group_scale(frames, o.short_size, o.scale_mode), rect);
  torch::Tensor t = torch::empty({o.seg_num, 3 * o.seglen, rect.height, rect.width});
  normalize_to_chw(imgs, o.image_mean, o.image_std, t.data_ptr<float>());
  return t;
}

std::vector<cv::Mat> frames_of(const std::vector<int64_t>& idx, int w, int h) {
  std::vector<cv::Mat> f;
  for (int64_t i : idx) f.push_back(synthetic_frame(w, h, static_cast<int>(i), 3));
  return f;
}

TEST(KineticsViews, SampleHoldsEveryViewDecodedOnce) {
  for (const cv::Size frame : {cv::Size(24, 18), cv::Size(18, 24)}) {  // landscape, portrait
    TempDir tmp;
    auto dec = std::make_shared<CountingDecoder>(40, frame.width, frame.height);
    const auto o = test_opts(2, 3);
    KineticsDataset ds(write_list(tmp, 2), o, dec);
    EXPECT_EQ(ds.view_info().views, 6);
    EXPECT_EQ(ds.view_info().layout, "2x3 (clips x crops)");
    EXPECT_NE(ds.describe().find("6 views 2x3 (clips x crops)"), std::string::npos)
        << ds.describe();
    dec->reset();
    const Sample s = ds.get(1, 99);
    EXPECT_EQ(dec->opens(), 1);
    EXPECT_EQ(dec->reads(), 1);
    EXPECT_EQ(s.views, 6);
    const torch::Tensor v = s.inputs.at("video");
    ASSERT_EQ(v.sizes(), (std::vector<int64_t>{6, 3, 6, 12, 12}));
    // Scaled frame: short side 16, the long one round(24 * 16 / 18) = 21.
    const bool landscape = frame.width > frame.height;
    for (int64_t j = 0; j < 2; ++j) {
      // L = 40, avg 13, offsets in [0, 11]: clip 0 at 0, clip 1 at 11.
      const auto idx = clip_indices(40, 3, 2, j, 2);
      EXPECT_EQ(idx[0], j == 0 ? 0 : 11);
      const auto frames = frames_of(idx, frame.width, frame.height);
      // Centre crop: exactly the single-view transform of that clip.
      Rng unused(0);
      EXPECT_TRUE(torch::equal(v[j * 3 + 1], transform_clip(frames, o, unused))) << j;
      // First and last crops along the long side (21 - 12 = 9), centred across (2).
      const cv::Rect first = landscape ? cv::Rect(0, 2, 12, 12) : cv::Rect(2, 0, 12, 12);
      const cv::Rect last = landscape ? cv::Rect(9, 2, 12, 12) : cv::Rect(2, 9, 12, 12);
      EXPECT_TRUE(torch::equal(v[j * 3 + 0], crop_clip(frames, o, first))) << j;
      EXPECT_TRUE(torch::equal(v[j * 3 + 2], crop_clip(frames, o, last))) << j;
      EXPECT_FALSE(torch::equal(v[j * 3 + 0], v[j * 3 + 2]));
    }
    EXPECT_FALSE(torch::equal(v[1], v[4]));  // the clips differ
    // Deterministic: any seed, any repeat.
    EXPECT_TRUE(torch::equal(v, ds.get(1, 5).inputs.at("video")));
  }
}

TEST(KineticsViews, OneViewIsUnchangedBitForBit) {
  TempDir tmp;
  const std::string list = write_list(tmp, 1);
  auto dec = std::make_shared<CountingDecoder>(40, 24, 18);
  const auto o1 = test_opts(1, 1);
  KineticsDataset one(list, o1, dec);
  EXPECT_EQ(one.view_info().views, 1);
  const Sample s = one.get(0, 7);
  EXPECT_EQ(s.views, 1);
  const torch::Tensor v1 = s.inputs.at("video");
  ASSERT_EQ(v1.sizes(), (std::vector<int64_t>{3, 6, 12, 12}));  // no view dim
  // What the reader did before views existed: load_clip_frames + transform_clip.
  Rng rng(7);
  const auto frames = load_clip_frames(*dec, "video0.mp4", 3, 2, false, rng);
  EXPECT_TRUE(torch::equal(v1, transform_clip(frames, o1, rng)));
  // The centre view of 1x3 is the single view.
  KineticsDataset three(list, test_opts(1, 3), dec);
  const torch::Tensor v3 = three.get(0, 7).inputs.at("video");
  ASSERT_EQ(v3.size(0), 3);
  EXPECT_TRUE(torch::equal(v3[1], v1));
}

TEST(KineticsViews, OptionsAreChecked) {
  TempDir tmp;
  const std::string list = write_list(tmp, 1);
  auto dec = std::make_shared<CountingDecoder>(40, 24, 18);
  auto o = test_opts(1, 2);
  EXPECT_THROW(KineticsDataset(list, o, dec), DataError);
  o = test_opts(0, 1);
  EXPECT_THROW(KineticsDataset(list, o, dec), DataError);
  o = test_opts(2, 1);
  o.phase = Phase::kTrain;
  try {
    KineticsDataset(list, o, dec);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("training reads one clip"), std::string::npos) << e.what();
  }
  o.phase = Phase::kInfer;
  o.require_label = false;
  EXPECT_EQ(KineticsDataset(list, o, dec).get(0, 0).views, 2);
}

TEST(KineticsViews, MultiViewSamplesCollateToRowsPerView) {
  TempDir tmp;
  auto dec = std::make_shared<CountingDecoder>(40, 24, 18);
  KineticsDataset ds(write_list(tmp, 3), test_opts(2, 3), dec);
  std::vector<Sample> samples;
  std::vector<torch::Tensor> expect;
  for (std::size_t i = 0; i < 3; ++i) {
    samples.push_back(ds.get(i, 0));
    expect.push_back(samples.back().inputs.at("video").clone());
  }
  const Batch b = collate(std::move(samples), ds.collate_policy());
  EXPECT_EQ(b.views, 6);
  EXPECT_EQ(b.size(), 3);
  const torch::Tensor v = b.input("video");
  ASSERT_EQ(v.sizes(), (std::vector<int64_t>{18, 3, 6, 12, 12}));
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::equal(v.narrow(0, i * 6, 6), expect[static_cast<std::size_t>(i)])) << i;
  }
}

}  // namespace
}  // namespace vc::data
