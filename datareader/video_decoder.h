// Video decoding behind an interface. Backends: FFmpeg's libraries directly
// (datareader/ffmpeg_decoder.h: seeks, decodes only what is sampled; the Kinetics reader's
// default), OpenCV VideoCapture (FFmpeg backend; walks the stream forward), and a folder of
// frames named img_00001.jpg, img_00002.jpg, ... (the "rawframes" layout, cv::imread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "datareader/file_list.h"  // DataError

namespace vc::data {

// A decoding failure. what() = "<path>: <reason>[ (<detail>)]"; reason() is a short category
// ("file not found", "empty file", "cannot open video", "no decodable frames", ...).
class DecodeError : public DataError {
 public:
  DecodeError(const std::string& path, const std::string& reason, const std::string& detail = "");
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }
  const std::string& detail() const { return detail_; }

 private:
  std::string path_, reason_, detail_;
};

struct FrameReadResult {
  // RGB CV_8UC3 frames, upright (rotated as the video's metadata asks); frames[k] is frame
  // sorted_indices[k]. When the stream ended early only
  // the frames for the leading indices that exist are present (frames.size() < indices.size()).
  std::vector<cv::Mat> frames;
  bool ended_early = false;    // the stream ended before the largest requested index
  int64_t frames_decoded = 0;  // frames walked through; the true frame count when ended_early
  // Statistics (FFmpeg decoder; others leave them 0): pictures the codec produced, packets sent
  // to it, seeks done, and requested frames that could not be decoded and were replaced by the
  // nearest decoded one (see docs/reader.md).
  int64_t pictures_decoded = 0;
  int64_t packets_sent = 0;
  int64_t seeks = 0;
  int64_t substituted = 0;
};

// One opened video. Not thread-safe; open one per sample.
class VideoSource {
 public:
  virtual ~VideoSource() = default;
  // Frame count as declared by the container (may lie: see FrameReadResult::ended_early).
  virtual int64_t frame_count() const = 0;
  // Reads the frames at `sorted_indices` (ascending, unique, >= 0) walking the stream forward
  // once: only the requested frames are decoded to pixels. Call at most once per source.
  // Throws DecodeError (naming the file) on a hard failure.
  virtual FrameReadResult read(const std::vector<int64_t>& sorted_indices) = 0;
  // Frame size (width, height) as read() returns it -- upright, i.e. after the rotation the
  // video's metadata asks for (datareader/rotation.h) -- when the source knows it before
  // decoding, else empty.
  virtual cv::Size frame_size() const { return {}; }
  // read(), with every frame resized to `out_size` (empty: as read() returns it) by the reader's
  // one resize (datareader/resize.h: PIL's bilinear), whatever the decoder: the FFmpeg decoder,
  // the OpenCV decoder and frame folders give the same pixels for the same frame. Call at most
  // once per source, instead of read().
  virtual FrameReadResult read_scaled(const std::vector<int64_t>& sorted_indices,
                                      cv::Size out_size);
};

class VideoDecoder {
 public:
  virtual ~VideoDecoder() = default;
  // Opens `path` (a video file, or a folder of frames for decoders that support it). Throws
  // DecodeError naming the path when it is missing, empty, not decodable or has no frames.
  virtual std::unique_ptr<VideoSource> open(const std::string& path) const = 0;
  virtual std::string name() const = 0;
};

// The OpenCV decoder: a folder -> frames folder (img_%05d.jpg, cv::imread, BGR->RGB);
// a file -> cv::VideoCapture with the FFmpeg backend (grab() up to the largest needed index,
// retrieve() only the sampled frames, BGR->RGB), OpenCV's auto-orientation off and frames
// turned upright by datareader/rotation.h instead (the same rotation as the FFmpeg decoder).
// (The Kinetics reader defaults to the FFmpeg decoder instead: KineticsReaderOptions::decoder.)
std::shared_ptr<const VideoDecoder> default_video_decoder();

// Same as default_video_decoder() but with another frame-file pattern (printf-style, 1-based).
std::shared_ptr<const VideoDecoder> opencv_video_decoder(
    const std::string& frame_pattern = "img_%05d.jpg");

// Number of consecutive frame files pattern(1), pattern(2), ... in `folder` (0 when none).
int64_t count_frame_files(const std::string& folder, const std::string& frame_pattern);

// For a reader's `catch (...)` around reading list entry (`path`, list line `line_no`): rethrows
// the exception in flight as the SampleError the loader skips and counts. A DecodeError keeps its
// reason and detail; an OpenCV error becomes "opencv error", std::invalid_argument "bad frame
// geometry", any other DataError "data error"; a SampleError and every other exception propagate
// unchanged.
[[noreturn]] void rethrow_as_sample_error(const std::string& path, std::size_t line_no);

}  // namespace vc::data
