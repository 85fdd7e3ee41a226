#include "datareader/video_decoder.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "datareader/resize.h"
#include "datareader/rotation.h"

namespace vc::data {
namespace fs = std::filesystem;

namespace {

std::string frame_file(const std::string& folder, const std::string& pattern, int64_t one_based) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), pattern.c_str(), static_cast<int>(one_based));
  return (fs::path(folder) / buf).string();
}

// BGR(A)/gray 8-bit -> RGB CV_8UC3.
cv::Mat to_rgb(const cv::Mat& in, const std::string& what) {
  if (in.empty()) throw DecodeError(what, "empty frame");
  if (in.depth() != CV_8U) {
    throw DecodeError(what, "unsupported pixel depth",
                      "OpenCV depth " + std::to_string(in.depth()));
  }
  cv::Mat out;
  switch (in.channels()) {
    case 3:
      cv::cvtColor(in, out, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(in, out, cv::COLOR_BGRA2RGB);
      break;
    case 1:
      cv::cvtColor(in, out, cv::COLOR_GRAY2RGB);
      break;
    default:
      throw DecodeError(what, "unsupported channel count", std::to_string(in.channels()));
  }
  return out;
}

class FramesFolderSource final : public VideoSource {
 public:
  FramesFolderSource(std::string folder, std::string pattern, int64_t count)
      : folder_(std::move(folder)), pattern_(std::move(pattern)), count_(count) {}
  int64_t frame_count() const override { return count_; }
  FrameReadResult read(const std::vector<int64_t>& sorted_indices) override {
    FrameReadResult r;
    r.frames_decoded = count_;
    for (int64_t idx : sorted_indices) {
      if (idx < 0 || idx >= count_) {
        r.ended_early = true;
        break;
      }
      const std::string file = frame_file(folder_, pattern_, idx + 1);
      cv::Mat bgr;
      try {
        bgr = cv::imread(file, cv::IMREAD_COLOR);
      } catch (const cv::Exception& e) {
        throw DecodeError(file, "cannot decode image", e.what());
      }
      if (bgr.empty()) throw DecodeError(file, "cannot decode image");
      r.frames.push_back(to_rgb(bgr, file));
    }
    return r;
  }

 private:
  std::string folder_, pattern_;
  int64_t count_;
};

// Frames come upright: OpenCV's own auto-orientation is off (open_capture) and each retrieved
// frame is turned by `rotation` degrees clockwise (datareader/rotation.h), as the FFmpeg decoder.
class CaptureSource final : public VideoSource {
 public:
  CaptureSource(std::string path, std::unique_ptr<cv::VideoCapture> cap, int64_t count,
                int rotation)
      : path_(std::move(path)), cap_(std::move(cap)), count_(count), rotation_(rotation) {
    const double w = cap_->get(cv::CAP_PROP_FRAME_WIDTH), h = cap_->get(cv::CAP_PROP_FRAME_HEIGHT);
    if (w >= 1 && h >= 1 && w < 1e5 && h < 1e5)
      size_ = rotated_size(cv::Size(static_cast<int>(w), static_cast<int>(h)), rotation_);
  }
  int64_t frame_count() const override { return count_; }
  cv::Size frame_size() const override { return size_; }
  FrameReadResult read(const std::vector<int64_t>& sorted_indices) override {
    FrameReadResult r;
    int64_t pos = -1;  // index of the last grabbed frame
    try {
      for (int64_t idx : sorted_indices) {
        while (pos < idx) {
          if (!cap_->grab()) {
            r.ended_early = true;
            break;
          }
          ++pos;
        }
        if (r.ended_early) break;
        cv::Mat bgr;
        if (!cap_->retrieve(bgr) || bgr.empty()) {
          // A grabbed frame that cannot be decoded ends the usable stream here.
          r.ended_early = true;
          pos = idx - 1;
          break;
        }
        r.frames.push_back(
            rotate_clockwise(to_rgb(bgr, path_ + " frame " + std::to_string(idx)), rotation_));
      }
    } catch (const cv::Exception& e) {
      throw DecodeError(path_, "decoding failed",
                        "near frame " + std::to_string(pos + 1) + ": " + e.what());
    }
    r.frames_decoded = pos + 1;
    return r;
  }

 private:
  std::string path_;
  std::unique_ptr<cv::VideoCapture> cap_;
  int64_t count_;
  int rotation_;
  cv::Size size_;  // upright
};

std::unique_ptr<cv::VideoCapture> open_capture(const std::string& path) {
  auto cap = std::make_unique<cv::VideoCapture>();
  bool ok = false;
  try {
    ok = cap->open(path, cv::CAP_FFMPEG);
  } catch (const cv::Exception& e) {
    throw DecodeError(path, "cannot open video", e.what());
  }
  if (!ok || !cap->isOpened()) {
    throw DecodeError(path, "cannot open video", "not a decodable container/codec");
  }
#if CV_VERSION_MAJOR > 4 || (CV_VERSION_MAJOR == 4 && CV_VERSION_MINOR >= 5)
  // OpenCV >= 4.5 turns frames itself (on by default), with the opposite sign to FFmpeg's up to
  // 4.6 (90 / 270 degree videos come out upside down): off, the decoder rotates instead.
  cap->set(cv::CAP_PROP_ORIENTATION_AUTO, 0);
#endif
  return cap;
}

class OpenCvDecoder final : public VideoDecoder {
 public:
  explicit OpenCvDecoder(std::string pattern) : pattern_(std::move(pattern)) {}
  std::string name() const override { return "opencv"; }

  std::unique_ptr<VideoSource> open(const std::string& path) const override {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw DecodeError(path, "file not found");
    if (fs::is_directory(path, ec)) {
      const int64_t n = count_frame_files(path, pattern_);
      if (n == 0) {
        throw DecodeError(path, "no decodable frames",
                          "frames folder has no " + frame_file(path, pattern_, 1));
      }
      return std::make_unique<FramesFolderSource>(path, pattern_, n);
    }
    const auto size = fs::file_size(path, ec);
    if (ec) throw DecodeError(path, "cannot stat file", ec.message());
    if (size == 0) throw DecodeError(path, "empty file", "0 bytes");

    const int rotation = probe_upright_rotation(path);
    auto cap = open_capture(path);
    double declared = cap->get(cv::CAP_PROP_FRAME_COUNT);
    int64_t count = (std::isfinite(declared) && declared > 0) ? static_cast<int64_t>(declared) : 0;
    if (count <= 0) {
      // Unknown length: count by walking the stream once, then reopen.
      int64_t n = 0;
      try {
        while (cap->grab()) ++n;
      } catch (const cv::Exception& e) {
        throw DecodeError(path, "decoding failed",
                          std::string("while counting frames: ") + e.what());
      }
      if (n == 0) throw DecodeError(path, "no decodable frames");
      count = n;
      cap = open_capture(path);
    }
#if CV_VERSION_MAJOR > 4 || (CV_VERSION_MAJOR == 4 && CV_VERSION_MINOR >= 5)
    if (rotation != 0 && cap->get(cv::CAP_PROP_ORIENTATION_AUTO) > 0) {
      throw DecodeError(path, "cannot open video",
                        "rotated video and OpenCV's auto-orientation cannot be turned off");
    }
#endif
    return std::make_unique<CaptureSource>(path, std::move(cap), count, rotation);
  }

 private:
  std::string pattern_;
};

}  // namespace

DecodeError::DecodeError(const std::string& path, const std::string& reason,
                         const std::string& detail)
    : DataError(path + ": " + reason + (detail.empty() ? "" : " (" + detail + ")")),
      path_(path),
      reason_(reason),
      detail_(detail) {}

FrameReadResult VideoSource::read_scaled(const std::vector<int64_t>& sorted_indices,
                                         cv::Size out_size) {
  FrameReadResult r = read(sorted_indices);
  if (out_size.empty()) return r;
  std::unique_ptr<BilinearResizer> rz;  // one per input size
  for (cv::Mat& f : r.frames) {
    if (f.size() == out_size) continue;
    if (!rz || rz->in_size() != f.size())
      rz = std::make_unique<BilinearResizer>(f.size(), out_size);
    f = rz->resize(f);
  }
  return r;
}

int64_t count_frame_files(const std::string& folder, const std::string& frame_pattern) {
  int64_t n = 0;
  std::error_code ec;
  while (fs::is_regular_file(frame_file(folder, frame_pattern, n + 1), ec)) ++n;
  return n;
}

std::shared_ptr<const VideoDecoder> opencv_video_decoder(const std::string& frame_pattern) {
  return std::make_shared<OpenCvDecoder>(frame_pattern);
}

std::shared_ptr<const VideoDecoder> default_video_decoder() {
  static const std::shared_ptr<const VideoDecoder> dec = opencv_video_decoder("img_%05d.jpg");
  return dec;
}

void rethrow_as_sample_error(const std::string& path, std::size_t line_no) {
  try {
    throw;
  } catch (const SampleError&) {
    throw;
  } catch (const DecodeError& ex) {
    throw SampleError(path, line_no, ex.reason(), ex.detail());
  } catch (const cv::Exception& ex) {
    throw SampleError(path, line_no, "opencv error", ex.what());
  } catch (const std::invalid_argument& ex) {
    throw SampleError(path, line_no, "bad frame geometry", ex.what());
  } catch (const DataError& ex) {
    throw SampleError(path, line_no, "data error", ex.what());
  }
}

}  // namespace vc::data
