// The one image resize of the reader: bilinear exactly as PIL's
// `Image.resize(size, Image.BILINEAR)` (Pillow's ImagingResample), which the 2019 reader used.
//
// PIL's bilinear is a triangle filter whose support is widened by the downscale factor: when
// shrinking by f, each output pixel averages ~2f input pixels (antialiased), unlike
// cv::INTER_LINEAR, which always interpolates between the 2 nearest and aliases. When enlarging
// both are the same interpolation (they differ only by rounding).
//
// Bit-exact with Pillow (tests/datareader/resize_test.cpp against python3-pil): the same double
// coefficients per output column and row, rounded to 22-bit fixed point, a horizontal pass into
// an 8-bit intermediate over the input rows the vertical pass uses, then the vertical pass; each
// sum starts at 1 << 21 (rounding) and is clipped to [0, 255].
//
// Every path that changes a frame's size uses it: the FFmpeg and OpenCV decoders' read_scaled,
// group_scale and the TSM multi-scale crop (docs/reader.md "Resize").
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace vc::data {

// Coefficients for one (input size -> output size) pair; resize() is const and thread-safe, so
// one resizer can serve every frame of a clip (and every thread).
class BilinearResizer {
 public:
  // Throws std::invalid_argument on an empty size.
  BilinearResizer(cv::Size in, cv::Size out);

  cv::Size in_size() const { return in_; }
  cv::Size out_size() const { return out_; }

  // src: CV_8UC1, CV_8UC3 or CV_8UC4 of in_size() (any row step: a ROI is fine). Returns a new
  // continuous Mat of out_size() (a copy when the sizes are equal, as PIL).
  // Throws std::invalid_argument on a wrong size or type.
  cv::Mat resize(const cv::Mat& src) const;

 private:
  // One axis: output i reads inputs [first[i], first[i] + count[i]) with weights
  // coeff[i * ksize + k] (22-bit fixed point).
  struct Axis {
    int ksize = 0;
    std::vector<int> first, count;
    std::vector<int32_t> coeff;
  };
  static Axis make_axis(int in, int out);

  cv::Size in_, out_;
  Axis h_, v_;
  // The horizontal pass with windows of a fixed width hk_ (see the constructor).
  int hk_ = 0;
  std::vector<int> hfirst_;
  std::vector<int32_t> hcoeff_;
};

// One-off resize of `src` (see BilinearResizer) to `out`.
cv::Mat resize_bilinear(const cv::Mat& src, cv::Size out);

}  // namespace vc::data
