#include "datareader/transforms.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include <opencv2/core.hpp>

#include "datareader/resize.h"

namespace vc::data {
namespace {
std::string size_str(cv::Size s) {
  return std::to_string(s.width) + "x" + std::to_string(s.height);
}
}  // namespace

cv::Size group_scale_size(cv::Size in, int64_t short_size, ScaleMode mode) {
  if (short_size < 1) throw std::invalid_argument("group_scale: short_size must be >= 1");
  const int w = in.width, h = in.height;
  const int S = static_cast<int>(short_size);
  if ((w <= h && w == S) || (h <= w && h == S)) return in;
  if (mode == ScaleMode::kGroup43) {
    const int long_side = static_cast<int>(S * 4.0 / 3.0);
    return w < h ? cv::Size(S, long_side) : cv::Size(long_side, S);
  }
  // kShortSide
  if (w <= h) {
    return cv::Size(S, static_cast<int>(std::lround(static_cast<double>(h) * S / w)));
  }
  return cv::Size(static_cast<int>(std::lround(static_cast<double>(w) * S / h)), S);
}

std::vector<cv::Mat> group_scale(const std::vector<cv::Mat>& frames, int64_t short_size,
                                 ScaleMode mode) {
  std::vector<cv::Mat> out;
  out.reserve(frames.size());
  std::unique_ptr<BilinearResizer> rz;  // one per input size (a clip's frames share it)
  for (const cv::Mat& f : frames) {
    const cv::Size s = group_scale_size(f.size(), short_size, mode);
    if (s == f.size()) {
      out.push_back(f);
      continue;
    }
    if (!rz || rz->in_size() != f.size()) rz = std::make_unique<BilinearResizer>(f.size(), s);
    out.push_back(rz->resize(f));
  }
  return out;
}

std::vector<cv::Size> multi_scale_crop_sizes(cv::Size image, cv::Size output,
                                             const MultiScaleCropOptions& opts) {
  const int base = std::min(image.width, image.height);
  std::vector<int> crop_w, crop_h;
  for (double s : opts.scales) {
    const int x = static_cast<int>(base * s);
    crop_h.push_back(std::abs(x - output.height) < 3 ? output.height : x);
    crop_w.push_back(std::abs(x - output.width) < 3 ? output.width : x);
  }
  std::vector<cv::Size> pairs;
  for (std::size_t i = 0; i < crop_h.size(); ++i) {
    for (std::size_t j = 0; j < crop_w.size(); ++j) {
      if (std::abs(static_cast<int>(i) - static_cast<int>(j)) <= opts.max_distort) {
        pairs.emplace_back(crop_w[j], crop_h[i]);
      }
    }
  }
  return pairs;
}

std::vector<cv::Point> multi_scale_crop_offsets(cv::Size image, cv::Size crop, bool more_fix_crop) {
  const int ws = (image.width - crop.width) / 4;
  const int hs = (image.height - crop.height) / 4;
  std::vector<cv::Point> ret;
  ret.emplace_back(0, 0);
  if (ws != 0) ret.emplace_back(4 * ws, 0);
  if (hs != 0) ret.emplace_back(0, 4 * hs);
  if (hs != 0 && ws != 0) ret.emplace_back(4 * ws, 4 * hs);
  if (hs != 0 || ws != 0) ret.emplace_back(2 * ws, 2 * hs);
  if (more_fix_crop) {
    ret.emplace_back(0, 2 * hs);
    ret.emplace_back(4 * ws, 2 * hs);
    ret.emplace_back(2 * ws, 4 * hs);
    ret.emplace_back(2 * ws, 0);
    ret.emplace_back(1 * ws, 1 * hs);
    ret.emplace_back(3 * ws, 1 * hs);
    ret.emplace_back(1 * ws, 3 * hs);
    ret.emplace_back(3 * ws, 3 * hs);
  }
  return ret;
}

cv::Rect sample_multi_scale_crop(cv::Size image, cv::Size output, const MultiScaleCropOptions& opts,
                                 Rng& rng) {
  const std::vector<cv::Size> sizes = multi_scale_crop_sizes(image, output, opts);
  if (sizes.empty()) throw std::invalid_argument("multi_scale_crop: no candidate crop sizes");
  cv::Size crop =
      sizes[static_cast<std::size_t>(rng.randint(0, static_cast<int64_t>(sizes.size()) - 1))];
  crop.width = std::min(crop.width, image.width);
  crop.height = std::min(crop.height, image.height);
  if (crop.width < 1 || crop.height < 1) {
    throw std::invalid_argument("multi_scale_crop: image " + size_str(image) + " too small");
  }
  cv::Point off;
  if (opts.fix_crop) {
    const std::vector<cv::Point> offs = multi_scale_crop_offsets(image, crop, opts.more_fix_crop);
    off = offs[static_cast<std::size_t>(rng.randint(0, static_cast<int64_t>(offs.size()) - 1))];
  } else {
    off.x = static_cast<int>(rng.randint(0, image.width - crop.width));
    off.y = static_cast<int>(rng.randint(0, image.height - crop.height));
  }
  return cv::Rect(off, crop);
}

std::vector<cv::Mat> group_multi_scale_crop(const std::vector<cv::Mat>& frames, cv::Size output,
                                            const MultiScaleCropOptions& opts, Rng& rng) {
  if (frames.empty()) return {};
  const cv::Rect rect = sample_multi_scale_crop(frames[0].size(), output, opts, rng);
  std::vector<cv::Mat> out;
  out.reserve(frames.size());
  const BilinearResizer rz(rect.size(), output);
  for (const cv::Mat& f : frames) {
    if ((rect & cv::Rect(0, 0, f.cols, f.rows)) != rect) {
      throw std::invalid_argument("multi_scale_crop: frames of different sizes in one clip");
    }
    out.push_back(rz.resize(f(rect)));  // a crop of the output size is copied as it is
  }
  return out;
}

cv::Rect random_crop_rect(cv::Size image, cv::Size target, Rng& rng) {
  if (image.width < target.width || image.height < target.height) {
    throw std::invalid_argument("random crop " + size_str(target) + " larger than frame " +
                                size_str(image));
  }
  const int x1 = static_cast<int>(rng.randint(0, image.width - target.width));
  const int y1 = static_cast<int>(rng.randint(0, image.height - target.height));
  return cv::Rect(x1, y1, target.width, target.height);
}

cv::Rect center_crop_rect(cv::Size image, cv::Size target) {
  if (image.width < target.width || image.height < target.height) {
    throw std::invalid_argument("center crop " + size_str(target) + " larger than frame " +
                                size_str(image));
  }
  const int x1 = static_cast<int>(std::round((image.width - target.width) / 2.0));
  const int y1 = static_cast<int>(std::round((image.height - target.height) / 2.0));
  return cv::Rect(x1, y1, target.width, target.height);
}

std::vector<cv::Rect> view_crop_rects(cv::Size image, cv::Size target, int64_t num_crops) {
  const cv::Rect centre = center_crop_rect(image, target);  // checks the sizes
  if (num_crops == 1) return {centre};
  if (num_crops != 3) {
    throw std::invalid_argument("view crops: num_crops must be 1 or 3, got " +
                                std::to_string(num_crops));
  }
  cv::Rect first = centre, last = centre;
  if (image.width > image.height) {  // landscape: left / centre / right
    first.x = 0;
    last.x = image.width - target.width;
  } else {  // portrait or square: top / centre / bottom
    first.y = 0;
    last.y = image.height - target.height;
  }
  return {first, centre, last};
}

std::vector<cv::Mat> group_crop(const std::vector<cv::Mat>& frames, const cv::Rect& rect) {
  std::vector<cv::Mat> out;
  out.reserve(frames.size());
  for (const cv::Mat& f : frames) {
    if ((rect & cv::Rect(0, 0, f.cols, f.rows)) != rect) {
      throw std::invalid_argument("crop rect outside frame " + size_str(f.size()));
    }
    out.push_back(f(rect).clone());
  }
  return out;
}

bool draw_flip(Rng& rng) { return rng.uniform() < 0.5; }

std::vector<cv::Mat> group_hflip(const std::vector<cv::Mat>& frames) {
  std::vector<cv::Mat> out;
  out.reserve(frames.size());
  for (const cv::Mat& f : frames) {
    cv::Mat r;
    cv::flip(f, r, 1);
    out.push_back(r);
  }
  return out;
}

void normalize_to_chw(const std::vector<cv::Mat>& frames, const std::array<float, 3>& mean,
                      const std::array<float, 3>& stdev, float* out) {
  if (frames.empty()) return;
  const cv::Size size = frames[0].size();
  const std::size_t plane = static_cast<std::size_t>(size.area());
  for (int c = 0; c < 3; ++c) {
    if (!(stdev[c] != 0.0f)) throw std::invalid_argument("normalize: image_std must be non-zero");
  }
  // One table per channel, computed with the reference's float32 operation order
  // (x/255, -= mean, /= std), so the result is bit-identical to computing it per pixel.
  std::array<std::array<float, 256>, 3> lut;
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v) / 255.0f;
      x -= mean[c];
      x /= stdev[c];
      lut[c][v] = x;
    }
  }
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const cv::Mat& m = frames[f];
    if (m.type() != CV_8UC3) {
      throw std::invalid_argument("normalize: frame " + std::to_string(f) + " is not CV_8UC3");
    }
    if (m.size() != size) {
      throw std::invalid_argument("normalize: frame " + std::to_string(f) + " is " +
                                  size_str(m.size()) + ", frame 0 is " + size_str(size));
    }
    float* dst = out + f * 3 * plane;
    for (int y = 0; y < size.height; ++y) {
      const uint8_t* row = m.ptr<uint8_t>(y);
      const std::size_t o = static_cast<std::size_t>(y) * size.width;
      for (int c = 0; c < 3; ++c) {
        const float* t = lut[c].data();
        float* d = dst + c * plane + o;
        for (int x = 0; x < size.width; ++x) d[x] = t[row[3 * x + c]];
      }
    }
  }
}

}  // namespace vc::data
