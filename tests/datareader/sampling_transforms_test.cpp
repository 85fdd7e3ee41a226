// Unit tests: RNG, segment sampling (spec §3.2) and the clip transforms.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>
#include <set>

#include "datareader/kinetics_reader.h"
#include "datareader/resize.h"
#include "datareader/rng.h"
#include "datareader/sampling.h"
#include "datareader/transforms.h"

namespace vc::data {
namespace {

using V = std::vector<int64_t>;

TEST(Rng, ReproducibleAndInclusiveRange) {
  Rng a(123), b(123), c(124);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const int64_t x = a.randint(0, 9);
    EXPECT_EQ(x, b.randint(0, 9));
    differs |= (x != c.randint(0, 9));
  }
  EXPECT_TRUE(differs);
  std::set<int64_t> seen;
  Rng r(7);
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = r.randint(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 5u);  // both ends inclusive
  EXPECT_EQ(r.randint(4, 4), 4);
  EXPECT_THROW(r.randint(5, 4), std::invalid_argument);
  const double u = r.uniform();
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
}

TEST(Sampling, EvalCenteredHandWorked) {
  Rng rng(0);
  // L=300, 3 segments of 1: avg=100, start=(100-1)/2 + 100i = 49, 149, 249.
  EXPECT_EQ(segment_indices(300, 3, 1, false, rng), (V{49, 149, 249}));
  // L=32, 8 x 1 (TSM): avg=4, start = 3/2 + 4i = 1 + 4i.
  EXPECT_EQ(segment_indices(32, 8, 1, false, rng), (V{1, 5, 9, 13, 17, 21, 25, 29}));
  // L=280, 7 x 5 (StNet-like): avg=40, start = 35/2 + 40i = 17 + 40i.
  V expect;
  for (int64_t i = 0; i < 7; ++i) {
    for (int64_t j = 0; j < 5; ++j) expect.push_back(17 + 40 * i + j);
  }
  EXPECT_EQ(segment_indices(280, 7, 5, false, rng), expect);
  // L=10, 3 x 5: avg=3 < seglen -> start=3i, wrap modulo 10.
  EXPECT_EQ(segment_indices(10, 3, 5, false, rng),
            (V{0, 1, 2, 3, 4, 3, 4, 5, 6, 7, 6, 7, 8, 9, 0}));
  // L=2, 3 x 1: avg=0 -> start=i, modulo 2.
  EXPECT_EQ(segment_indices(2, 3, 1, false, rng), (V{0, 1, 0}));
  // L=3, 3 x 2: avg=1 < 2 -> start=i; 0,1 | 1,2 | 2,0.
  EXPECT_EQ(segment_indices(3, 3, 2, false, rng), (V{0, 1, 1, 2, 2, 0}));
  // L=1: everything is frame 0.
  EXPECT_EQ(segment_indices(1, 4, 2, false, rng), (V(8, 0)));
  // avg == seglen: offset 0.
  EXPECT_EQ(segment_indices(6, 3, 2, false, rng), (V{0, 1, 2, 3, 4, 5}));
}

TEST(Sampling, EvalDoesNotConsumeRng) {
  Rng a(5), b(5);
  segment_indices(300, 3, 1, false, a);
  EXPECT_EQ(a.randint(0, 1000000), b.randint(0, 1000000));
}

TEST(Sampling, TrainRandomOffsetPerSegment) {
  // L=300, 3 x 1: avg=100, start = randint(0, 99) + 100i, one draw per segment in order.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Rng rng(seed), replay(seed);
    const V got = segment_indices(300, 3, 1, true, rng);
    ASSERT_EQ(got.size(), 3u);
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_EQ(got[i], replay.randint(0, 99) + 100 * i);
      EXPECT_GE(got[i], 100 * i);
      EXPECT_LE(got[i], 100 * i + 99);
    }
  }
  // L=9, 3 x 2: avg=3, start = randint(0, 1) + 3i; both offsets occur (inclusive upper end).
  std::set<int64_t> offsets;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    const V got = segment_indices(9, 3, 2, true, rng);
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t off = got[2 * i] - 3 * i;
      ASSERT_TRUE(off == 0 || off == 1) << off;
      EXPECT_EQ(got[2 * i + 1], got[2 * i] + 1);
      offsets.insert(off);
    }
  }
  EXPECT_EQ(offsets, (std::set<int64_t>{0, 1}));
  // avg < seglen: no randomness, same as eval.
  Rng rng(3);
  EXPECT_EQ(segment_indices(10, 3, 5, true, rng), (V{0, 1, 2, 3, 4, 3, 4, 5, 6, 7, 6, 7, 8, 9, 0}));
  EXPECT_EQ(segment_indices(2, 3, 1, true, rng), (V{0, 1, 0}));
}

TEST(Sampling, RejectsBadArguments) {
  Rng rng(0);
  EXPECT_THROW(segment_indices(0, 3, 1, false, rng), std::invalid_argument);
  EXPECT_THROW(segment_indices(10, 0, 1, false, rng), std::invalid_argument);
  EXPECT_THROW(segment_indices(10, 3, 0, true, rng), std::invalid_argument);
  EXPECT_EQ(unique_sorted({5, 1, 5, 0, 1}), (V{0, 1, 5}));
}

// ---------------------------------------------------------------------------------------------

TEST(Transforms, GroupScaleSizes) {
  const auto g43 = ScaleMode::kGroup43;
  EXPECT_EQ(group_scale_size({340, 256}, 256, g43), cv::Size(340, 256));  // short side == S
  EXPECT_EQ(group_scale_size({320, 240}, 256, g43), cv::Size(341, 256));
  EXPECT_EQ(group_scale_size({240, 320}, 256, g43), cv::Size(256, 341));  // portrait
  EXPECT_EQ(group_scale_size({426, 240}, 256, g43), cv::Size(341, 256));  // aspect NOT kept
  EXPECT_EQ(group_scale_size({256, 256}, 256, g43), cv::Size(256, 256));
  EXPECT_EQ(group_scale_size({300, 300}, 256, g43), cv::Size(341, 256));  // square -> landscape
  EXPECT_EQ(group_scale_size({256, 400}, 256, g43), cv::Size(256, 400));
  EXPECT_EQ(group_scale_size({320, 240}, 128, g43), cv::Size(170, 128));
  const auto ss = ScaleMode::kShortSide;
  EXPECT_EQ(group_scale_size({340, 256}, 256, ss), cv::Size(340, 256));
  EXPECT_EQ(group_scale_size({320, 240}, 256, ss), cv::Size(341, 256));  // 341.33
  EXPECT_EQ(group_scale_size({426, 240}, 256, ss), cv::Size(454, 256));  // 454.4
  EXPECT_EQ(group_scale_size({568, 320}, 256, ss), cv::Size(454, 256));  // 454.4
  EXPECT_EQ(group_scale_size({240, 427}, 256, ss), cv::Size(256, 455));  // 455.47
  EXPECT_EQ(group_scale_size({100, 150}, 256, ss), cv::Size(256, 384));
}

TEST(Transforms, GroupScaleIsTheReadersResize) {
  cv::Mat f(240, 320, CV_8UC3);
  cv::randu(f, 0, 255);
  const auto out = group_scale({f, f}, 256, ScaleMode::kGroup43);
  ASSERT_EQ(out.size(), 2u);
  const cv::Mat ref = resize_bilinear(f, cv::Size(341, 256));  // PIL's bilinear
  EXPECT_EQ(cv::norm(out[0], ref, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(out[1], ref, cv::NORM_INF), 0.0);
  // Shrinking (short side 128): antialiased, not cv::INTER_LINEAR.
  const auto down = group_scale({f}, 128, ScaleMode::kShortSide);
  EXPECT_EQ(cv::norm(down[0], resize_bilinear(f, cv::Size(171, 128)), cv::NORM_INF), 0.0);
  // A frame already at the size is passed through (shared pixels).
  const cv::Mat g(256, 340, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_EQ(group_scale({g}, 256, ScaleMode::kGroup43)[0].data, g.data);
}

TEST(Transforms, CenterCropOffsets) {
  EXPECT_EQ(center_crop_rect({341, 256}, {224, 224}), cv::Rect(59, 16, 224, 224));  // 58.5 -> 59
  EXPECT_EQ(center_crop_rect({340, 256}, {224, 224}), cv::Rect(58, 16, 224, 224));
  EXPECT_EQ(center_crop_rect({256, 341}, {224, 224}), cv::Rect(16, 59, 224, 224));
  EXPECT_EQ(center_crop_rect({224, 224}, {224, 224}), cv::Rect(0, 0, 224, 224));
  EXPECT_THROW(center_crop_rect({200, 256}, {224, 224}), std::invalid_argument);
}

TEST(Transforms, RandomCropRangeAndDrawOrder) {
  std::set<int> xs, ys;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    Rng rng(seed), replay(seed);
    const cv::Rect r = random_crop_rect({230, 226}, {224, 224}, rng);
    EXPECT_EQ(r.x, replay.randint(0, 6));  // x first
    EXPECT_EQ(r.y, replay.randint(0, 2));  // then y
    EXPECT_EQ(r.size(), cv::Size(224, 224));
    xs.insert(r.x);
    ys.insert(r.y);
  }
  EXPECT_EQ(xs.size(), 7u);  // 0..6 inclusive
  EXPECT_EQ(ys.size(), 3u);
  Rng rng(0);
  EXPECT_THROW(random_crop_rect({200, 300}, {224, 224}, rng), std::invalid_argument);
}

TEST(Transforms, FlipIsOneDrawPerClipAndConsistent) {
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 4; ++i) {
    cv::Mat f(6, 9, CV_8UC3);
    cv::randu(f, 0, 255);
    frames.push_back(f);
  }
  const auto flipped = group_hflip(frames);
  for (int i = 0; i < 4; ++i) {
    cv::Mat ref;
    cv::flip(frames[i], ref, 1);
    EXPECT_EQ(cv::norm(flipped[i], ref, cv::NORM_INF), 0.0);
    EXPECT_EQ(flipped[i].at<cv::Vec3b>(2, 0), frames[i].at<cv::Vec3b>(2, 8));
  }
  int heads = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed), replay(seed);
    const bool f = draw_flip(rng);
    EXPECT_EQ(f, replay.uniform() < 0.5);
    heads += f;
  }
  EXPECT_GT(heads, 60);
  EXPECT_LT(heads, 140);

  // Through transform_clip: all frames of a clip flip together (or none does).
  KineticsReaderOptions o;
  o.phase = Phase::kTrain;
  o.seg_num = 4;
  o.short_size = 6;
  o.target_size = 6;
  o.image_mean = {0, 0, 0};
  o.image_std = {1, 1, 1};
  std::vector<cv::Mat> asym;
  for (int i = 0; i < 4; ++i) {
    cv::Mat f(6, 6, CV_8UC3, cv::Scalar(0, 0, 0));
    f.at<cv::Vec3b>(0, 0) = cv::Vec3b(255, 255, 255);  // marker top-left
    asym.push_back(f);
  }
  int flipped_clips = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Rng rng(seed);
    const torch::Tensor clip = transform_clip(asym, o, rng);  // [4, 3, 6, 6]
    const bool left = clip[0][0][0][0].item<float>() == 1.0f;
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(clip[i][0][0][0].item<float>() == 1.0f, left);
      EXPECT_EQ(clip[i][0][0][5].item<float>() == 1.0f, !left);
    }
    flipped_clips += !left;
  }
  EXPECT_GT(flipped_clips, 0);
  EXPECT_LT(flipped_clips, 40);
}

TEST(Transforms, MultiScaleCropCandidateSizes) {
  const auto sizes = multi_scale_crop_sizes({341, 256}, {256, 256});
  const std::vector<cv::Size> expect = {{256, 256}, {224, 256},              // i=0
                                        {256, 224}, {224, 224}, {192, 224},  // i=1
                                        {224, 192}, {192, 192}, {168, 192},  // i=2
                                        {192, 168}, {168, 168}};             // i=3
  EXPECT_EQ(sizes, expect);
  // Snapping: base 254 -> int(254*1)=254 is within 3 px of the output side 256 -> 256;
  // int(254*.875)=222 is compared with the output side (256) only, so it stays 222.
  const auto snapped = multi_scale_crop_sizes({300, 254}, {256, 256});
  EXPECT_EQ(snapped[0], cv::Size(256, 256));
  EXPECT_EQ(snapped[3], cv::Size(222, 222));
  // A crop snapped above the image side is clamped to the image.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Rng rng(seed);
    const cv::Rect r = sample_multi_scale_crop({300, 254}, {256, 256}, {}, rng);
    EXPECT_LE(r.br().y, 254);
    EXPECT_LE(r.br().x, 300);
  }
  // max_distort 0: the diagonal only.
  MultiScaleCropOptions o;
  o.max_distort = 0;
  EXPECT_EQ(multi_scale_crop_sizes({341, 256}, {256, 256}, o),
            (std::vector<cv::Size>{{256, 256}, {224, 224}, {192, 192}, {168, 168}}));
}

TEST(Transforms, MultiScaleCropOffsets) {
  // 341x256, crop 224: w_step = 117/4 = 29, h_step = 32/4 = 8 (integer division).
  const std::vector<cv::Point> a = multi_scale_crop_offsets({341, 256}, {224, 224});
  const std::vector<cv::Point> ea = {{0, 0},  {116, 0},  {0, 32},  {116, 32}, {58, 16},
                                     {0, 16}, {116, 16}, {58, 32}, {58, 0},   {29, 8},
                                     {87, 8}, {29, 24},  {87, 24}};
  EXPECT_EQ(a, ea);
  // crop 256x256: w_step = 85/4 = 21, h_step = 0 -> no (0,4h) / (4w,4h) entries.
  const std::vector<cv::Point> b = multi_scale_crop_offsets({341, 256}, {256, 256});
  const std::vector<cv::Point> eb = {{0, 0},  {84, 0}, {42, 0}, {0, 0},  {84, 0}, {42, 0},
                                     {42, 0}, {21, 0}, {63, 0}, {21, 0}, {63, 0}};
  EXPECT_EQ(b, eb);
  // Same size: only (0,0) plus the 8 "more" entries (all (0,0)).
  EXPECT_EQ(multi_scale_crop_offsets({256, 256}, {256, 256}).size(), 9u);
  EXPECT_EQ(multi_scale_crop_offsets({256, 256}, {256, 256}, false).size(), 1u);
}

TEST(Transforms, MultiScaleCropDrawsFromCandidatesAndResizes) {
  const cv::Size img(341, 256), out(256, 256);
  const auto sizes = multi_scale_crop_sizes(img, out);
  std::set<std::pair<int, int>> seen_sizes;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Rng rng(seed);
    const cv::Rect r = sample_multi_scale_crop(img, out, {}, rng);
    ASSERT_NE(std::find(sizes.begin(), sizes.end(), r.size()), sizes.end());
    const auto offs = multi_scale_crop_offsets(img, r.size());
    ASSERT_NE(std::find(offs.begin(), offs.end(), r.tl()), offs.end());
    ASSERT_LE(r.br().x, img.width);
    ASSERT_LE(r.br().y, img.height);
    seen_sizes.insert({r.width, r.height});
  }
  EXPECT_EQ(seen_sizes.size(), 10u);
  cv::Mat f(256, 341, CV_8UC3);
  cv::randu(f, 0, 255);
  Rng rng(11), replay(11);
  const auto res = group_multi_scale_crop({f, f.clone()}, out, {}, rng);
  const cv::Rect r = sample_multi_scale_crop(img, out, {}, replay);
  const cv::Mat ref = resize_bilinear(f(r), out);
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].size(), out);
  EXPECT_EQ(cv::norm(res[0], ref, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(res[1], ref, cv::NORM_INF), 0.0);
}

TEST(Transforms, NormalisationNumbersAndLayout) {
  // Two 2x3 frames; frame 1 = frame 0 + 10.
  cv::Mat f0(2, 3, CV_8UC3), f1;
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) f0.at<cv::Vec3b>(y, x) = cv::Vec3b(255, 0, 128);  // R,G,B
  }
  f0.at<cv::Vec3b>(1, 2) = cv::Vec3b(10, 20, 30);
  f1 = f0 + cv::Scalar(10, 10, 10);
  const std::array<float, 3> mean{0.485f, 0.456f, 0.406f}, stdv{0.229f, 0.224f, 0.225f};
  std::vector<float> out(2 * 3 * 2 * 3);
  normalize_to_chw({f0, f1}, mean, stdv, out.data());  // [F=2, 3, H=2, W=3]
  auto at = [&](int f, int c, int y, int x) { return out[((f * 3 + c) * 2 + y) * 3 + x]; };
  auto ref = [&](int v, int c) { return (static_cast<float>(v) / 255.0f - mean[c]) / stdv[c]; };
  EXPECT_FLOAT_EQ(at(0, 0, 0, 0), (1.0f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(at(0, 1, 0, 0), (0.0f - 0.456f) / 0.224f);
  EXPECT_NEAR(at(0, 2, 0, 0), (128.0 / 255.0 - 0.406) / 0.225, 1e-5);
  EXPECT_EQ(at(0, 0, 1, 2), ref(10, 0));
  EXPECT_EQ(at(0, 1, 1, 2), ref(20, 1));
  EXPECT_EQ(at(0, 2, 1, 2), ref(30, 2));
  EXPECT_EQ(at(1, 2, 1, 2), ref(40, 2));
  EXPECT_EQ(at(1, 0, 0, 1), ref(255, 0));  // saturated
  EXPECT_THROW(normalize_to_chw({f0, cv::Mat(3, 3, CV_8UC3)}, mean, stdv, out.data()),
               std::invalid_argument);
}

TEST(Transforms, ClipStackingSegmentMajorChannelIsFrameTimes3PlusRgb) {
  KineticsReaderOptions o;
  o.phase = Phase::kTest;
  o.seg_num = 2;
  o.seglen = 3;
  o.short_size = 8;
  o.target_size = 4;
  o.image_mean = {0, 0, 0};
  o.image_std = {1, 1, 1};
  std::vector<cv::Mat> frames;  // frame f has RGB = (f, 100+f, 200+f)
  for (int f = 0; f < 6; ++f) {
    frames.emplace_back(8, 10, CV_8UC3, cv::Scalar(f, 100 + f, 200 + f));
  }
  Rng rng(0);
  const torch::Tensor clip = transform_clip(frames, o, rng);
  ASSERT_EQ(clip.sizes(), (std::vector<int64_t>{2, 9, 4, 4}));
  EXPECT_EQ(clip.dtype(), torch::kFloat32);
  for (int s = 0; s < 2; ++s) {
    for (int j = 0; j < 3; ++j) {
      for (int c = 0; c < 3; ++c) {
        const int f = s * 3 + j;
        const float expect = static_cast<float>(100 * c + f) / 255.0f;
        EXPECT_EQ(clip[s][j * 3 + c][1][2].item<float>(), expect) << s << " " << j << " " << c;
      }
    }
  }
  // Group43 scale 10x8 -> 10x8 (short side 8 == S), center crop offsets (3, 2).
  std::vector<cv::Mat> grad;
  for (int f = 0; f < 6; ++f) {
    cv::Mat m(8, 10, CV_8UC3);
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 10; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(x, y, 0);
    }
    grad.push_back(m);
  }
  const torch::Tensor g = transform_clip(grad, o, rng);
  EXPECT_EQ(g[0][0][0][0].item<float>(), 3.0f / 255.0f);  // x offset round(6/2)=3
  EXPECT_EQ(g[0][1][0][0].item<float>(), 2.0f / 255.0f);  // y offset round(4/2)=2
}

}  // namespace
}  // namespace vc::data
