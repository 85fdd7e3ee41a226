// Tests of the reader's one resize (datareader/resize.h):
//  - parity with PIL's Image.resize(size, Image.BILINEAR) (python3-pil through
//    tests/datareader/pil_resize.py) on generated frames and on real frames of
//    ../shared/data/videos: 2x-5x downscales, the group_scale sizes, odd and portrait sizes,
//    upscales; the mean |difference| per case is printed (the contract: < 1 grey level);
//  - it smooths when shrinking (unlike cv::INTER_LINEAR) and matches it when enlarging;
//  - ROI input, identity, errors, and the same pixels from several threads at once.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include <opencv2/imgproc.hpp>

#include "datareader/ffmpeg_decoder.h"
#include "datareader/resize.h"
#include "datareader/video_decoder.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

bool have_pil() {
  return std::system("/usr/bin/python3 -c 'from PIL import Image' >/dev/null 2>&1") == 0;
}

// A smooth RGB gradient with fine detail (stripes, noise) and a marker: resampling-sensitive.
cv::Mat test_image(int w, int h, unsigned seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::Mat noise(h, w, CV_8UC3);
  cv::theRNG().state = seed;
  cv::randu(noise, 0, 40);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      cv::Vec3b& p = m.at<cv::Vec3b>(y, x);
      p[0] = static_cast<uint8_t>(255 * x / std::max(1, w - 1));
      p[1] = static_cast<uint8_t>(255 * y / std::max(1, h - 1));
      p[2] = static_cast<uint8_t>(((x / 3 + y / 2) % 2) * 200);
    }
  }
  m += noise;
  m(cv::Rect(0, 0, std::max(1, w / 8), std::max(1, h / 8))).setTo(cv::Scalar(255, 0, 0));
  return m;
}

void write_raw(const std::string& path, const cv::Mat& m) {
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(c.data), static_cast<std::streamsize>(c.total() * 3));
}

cv::Mat read_raw(const std::string& path, cv::Size s) {
  cv::Mat m(s, CV_8UC3);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(m.data), static_cast<std::streamsize>(m.total() * 3));
  EXPECT_EQ(in.gcount(), static_cast<std::streamsize>(m.total() * 3)) << path;
  return m;
}

struct Case {
  std::string name;
  cv::Mat img;
  cv::Size out;
};

// Resizes every case with PIL in one Python run; returns the PIL outputs in order.
std::vector<cv::Mat> pil_resize(const std::vector<Case>& cases, const TempDir& tmp) {
  const std::string manifest = tmp.file("manifest.txt");
  std::ofstream mf(manifest);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string in = tmp.file("in" + std::to_string(i) + ".rgb");
    write_raw(in, cases[i].img);
    mf << in << ' ' << cases[i].img.cols << ' ' << cases[i].img.rows << ' '
       << tmp.file("out" + std::to_string(i) + ".rgb") << ' ' << cases[i].out.width << ' '
       << cases[i].out.height << '\n';
  }
  mf.close();
  const std::string cmd =
      "/usr/bin/python3 " VC_SOURCE_DIR "/tests/datareader/pil_resize.py '" + manifest + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::vector<cv::Mat> out;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    out.push_back(read_raw(tmp.file("out" + std::to_string(i) + ".rgb"), cases[i].out));
  }
  return out;
}

void expect_pil_parity(const std::vector<Case>& cases) {
  TempDir tmp;
  const std::vector<cv::Mat> ref = pil_resize(cases, tmp);
  ASSERT_EQ(ref.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const cv::Mat ours = resize_bilinear(c.img, c.out);
    ASSERT_EQ(ours.size(), c.out);
    cv::Mat d;
    cv::absdiff(ours, ref[i], d);
    const double mean = cv::mean(d.reshape(1))[0], worst = cv::norm(d, cv::NORM_INF);
    std::printf("[PIL parity] %-36s %4dx%-4d -> %4dx%-4d mean |diff| %.4f, max %.0f\n",
                c.name.c_str(), c.img.cols, c.img.rows, c.out.width, c.out.height, mean, worst);
    EXPECT_LT(mean, 1.0) << c.name;  // the contract; in practice bit-exact (0)
  }
}

// Downscales by 2, 3, 4 and 5, the group_scale sizes (short side 256 / 128), upscales.
std::vector<cv::Size> targets_for(cv::Size s) {
  std::vector<cv::Size> t;
  for (int f : {2, 3, 4, 5}) t.emplace_back(std::max(1, s.width / f), std::max(1, s.height / f));
  const bool portrait = s.width < s.height;
  t.push_back(portrait ? cv::Size(256, 341) : cv::Size(341, 256));
  t.push_back(portrait ? cv::Size(128, s.height * 128 / s.width)
                       : cv::Size(s.width * 128 / s.height, 128));
  t.emplace_back(s.width * 3 / 2 + 1, s.height * 4 / 3);  // upscale, aspect changed
  t.emplace_back(s.width * 2, s.height * 2);
  return t;
}

TEST(ResizePil, GeneratedFramesMatchPil) {
  if (!have_pil()) GTEST_SKIP() << "/usr/bin/python3 with PIL (python3-pil) not found; skipping";
  std::vector<Case> cases;
  unsigned seed = 1;
  for (cv::Size s : {cv::Size(568, 320), cv::Size(1080, 1920), cv::Size(340, 256),
                     cv::Size(320, 240), cv::Size(426, 240), cv::Size(171, 97)}) {
    const cv::Mat img = test_image(s.width, s.height, seed++);
    for (cv::Size t : targets_for(s)) {
      cases.push_back(
          {"generated " + std::to_string(s.width) + "x" + std::to_string(s.height), img, t});
    }
  }
  // Tiny and degenerate shapes: 1-pixel rows / columns, shrinking to 1, one axis only.
  const cv::Mat small = test_image(7, 5, 99);
  for (cv::Size t : {cv::Size(20, 13), cv::Size(1, 1), cv::Size(3, 5), cv::Size(7, 2)}) {
    cases.push_back({"generated 7x5", small, t});
  }
  expect_pil_parity(cases);
}

TEST(ResizePil, RealFramesMatchPil) {
  if (!have_pil()) GTEST_SKIP() << "/usr/bin/python3 with PIL (python3-pil) not found; skipping";
  const std::string vids = VC_SOURCE_DIR "/../shared/data/videos";
  if (!fs::is_directory(vids)) {
    GTEST_SKIP() << "real test videos not found at " << vids
                 << " (see ../shared/data/README.md); skipping";
  }
  std::vector<Case> cases;
  auto dec = ffmpeg_video_decoder();
  for (const char* name : {"arm_wrestling.mp4", "eye_makeup.avi", "flipping_pancake.mkv",
                           "keyboard_3f.mov", "tree_cinepak.avi", "rawframes_eye_makeup"}) {
    auto src = dec->open(vids + "/" + name);
    const int64_t n = src->frame_count();
    const FrameReadResult r = src->read({n / 2});
    ASSERT_EQ(r.frames.size(), 1u) << name;
    for (cv::Size t : targets_for(r.frames[0].size())) cases.push_back({name, r.frames[0], t});
  }
  expect_pil_parity(cases);
}

TEST(Resize, SmoothsWhenShrinkingInterpolatesWhenEnlarging) {
  // A 1-pixel checkerboard shrunk 4x: PIL's bilinear averages it to grey; cv::INTER_LINEAR
  // samples 2 of the 8x8 source pixels around each output and keeps most of the contrast.
  cv::Mat board(64, 64, CV_8UC3);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) board.at<cv::Vec3b>(y, x) = cv::Vec3b::all((x + y) % 2 ? 255 : 0);
  }
  const cv::Mat ours = resize_bilinear(board, {16, 16});
  cv::Mat inner = ours(cv::Rect(2, 2, 12, 12)), dev;
  cv::absdiff(inner, cv::Scalar::all(127.5), dev);
  EXPECT_LT(cv::norm(dev, cv::NORM_INF), 2.0);
  // Enlarging: the same interpolation as cv::INTER_LINEAR, up to rounding.
  const cv::Mat img = test_image(120, 90, 3);
  cv::Mat cvr, d;
  cv::resize(img, cvr, {200, 150}, 0, 0, cv::INTER_LINEAR);
  cv::absdiff(resize_bilinear(img, {200, 150}), cvr, d);
  EXPECT_LT(cv::mean(d.reshape(1))[0], 0.5);
}

TEST(Resize, RoiIdentityChannelsAndErrors) {
  const cv::Mat img = test_image(200, 150, 5);
  const cv::Rect roi(13, 7, 120, 101);
  const cv::Mat a = resize_bilinear(img(roi), {256, 256});
  const cv::Mat b = resize_bilinear(img(roi).clone(), {256, 256});
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_TRUE(a.isContinuous());
  const cv::Mat same = resize_bilinear(img, img.size());
  EXPECT_EQ(cv::norm(same, img, cv::NORM_INF), 0.0);
  EXPECT_NE(same.data, img.data);  // a copy, as PIL
  // 1 and 4 channels: each channel as a 3-channel frame's.
  std::vector<cv::Mat> planes;
  cv::split(img, planes);
  const cv::Mat rgb = resize_bilinear(img, {77, 41});
  std::vector<cv::Mat> rgb_planes;
  cv::split(rgb, rgb_planes);
  EXPECT_EQ(cv::norm(resize_bilinear(planes[1], {77, 41}), rgb_planes[1], cv::NORM_INF), 0.0);
  cv::Mat rgba;
  cv::cvtColor(img, rgba, cv::COLOR_RGB2RGBA);
  cv::Mat back;
  cv::cvtColor(resize_bilinear(rgba, {77, 41}), back, cv::COLOR_RGBA2RGB);
  EXPECT_EQ(cv::norm(back, rgb, cv::NORM_INF), 0.0);
  EXPECT_THROW(BilinearResizer({0, 4}, {4, 4}), std::invalid_argument);
  EXPECT_THROW(BilinearResizer({4, 4}, {4, 0}), std::invalid_argument);
  const BilinearResizer rz({200, 150}, {100, 75});
  EXPECT_THROW(rz.resize(img(roi)), std::invalid_argument);  // wrong size
  cv::Mat f32;
  img.convertTo(f32, CV_32FC3);
  EXPECT_THROW(rz.resize(f32), std::invalid_argument);
}

TEST(Resize, SameResizerFromManyThreadsIsDeterministic) {
  const cv::Mat img = test_image(568, 320, 8);
  const BilinearResizer down(img.size(), {171, 97}), up(img.size(), {700, 400});
  const cv::Mat ref_down = down.resize(img), ref_up = up.resize(img);
  std::vector<std::thread> ts;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      bool good = true;
      for (int i = 0; i < 20; ++i) {
        good = good && cv::norm(down.resize(img), ref_down, cv::NORM_INF) == 0.0 &&
               cv::norm(up.resize(img), ref_up, cv::NORM_INF) == 0.0;
      }
      ok[static_cast<std::size_t>(t)] = good ? 1 : 0;
    });
  }
  for (auto& t : ts) t.join();
  for (int v : ok) EXPECT_EQ(v, 1);
}

}  // namespace
}  // namespace vc::data
