// Helpers shared by the datareader tests: temp dirs and generated fixtures.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/temp_dir.h"

namespace vc::data::testing {

namespace fs = std::filesystem;

// The one TempDir of the tests (tests/support/temp_dir.h).
using TempDir = vc::testing::TempDir;

inline void write_file(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// A deterministic synthetic BGR frame: gradients plus a moving block (frame-dependent).
inline cv::Mat synthetic_frame(int w, int h, int t, int video_id) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      cv::Vec3b& p = m.at<cv::Vec3b>(y, x);
      p[0] = static_cast<uint8_t>((x * 5 + t * 7 + video_id * 31) & 255);
      p[1] = static_cast<uint8_t>((y * 5 + t * 3) & 255);
      p[2] = static_cast<uint8_t>(((x + y) * 2 + video_id * 17) & 255);
    }
  }
  const int bx = (t * 3) % std::max(1, w - 8), by = (t * 2) % std::max(1, h - 8);
  m(cv::Rect(bx, by, std::min(8, w), std::min(8, h))).setTo(cv::Scalar(255, 255, 255));
  return m;
}

// Folder `dir` with img_00001.jpg .. img_<n>.jpg.
inline void make_frames_folder(const std::string& dir, int n, int w, int h, int video_id) {
  fs::create_directories(dir);
  for (int t = 0; t < n; ++t) {
    char name[32];
    std::snprintf(name, sizeof(name), "img_%05d.jpg", t + 1);
    cv::imwrite((fs::path(dir) / name).string(), synthetic_frame(w, h, t, video_id));
  }
}

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g() & 255);
  return s;
}

// The shared real-data dir, "" when absent.
inline std::string shared_data_dir() {
  const std::string d = VC_SOURCE_DIR "/../shared/data";
  return fs::is_directory(d) ? fs::canonical(d).string() : std::string();
}

}  // namespace vc::data::testing
