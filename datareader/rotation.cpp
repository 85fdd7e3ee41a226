#include "datareader/rotation.h"

#include <cmath>
#include <cstdlib>
#include <memory>

#include <opencv2/core.hpp>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/display.h>
}

namespace vc::data {
namespace {

// Nearest multiple of 90 in [0, 360) of a clockwise angle in degrees.
int snap90(double cw) {
  if (!std::isfinite(cw)) return 0;
  long q = std::lround(cw / 90.0) % 4;
  if (q < 0) q += 4;
  return static_cast<int>(q) * 90;
}

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};

}  // namespace

int upright_rotation(const int32_t* display_matrix, const char* rotate_tag) {
  if (display_matrix) {
    // av_display_rotation_get: counter-clockwise degrees (NaN for a degenerate matrix).
    return snap90(-av_display_rotation_get(display_matrix));
  }
  if (rotate_tag && *rotate_tag) {
    char* end = nullptr;
    const double deg = std::strtod(rotate_tag, &end);
    if (end != rotate_tag) return snap90(deg);
  }
  return 0;
}

int probe_upright_rotation(const std::string& path) {
  AVFormatContext* raw = nullptr;
  if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0) return 0;
  std::unique_ptr<AVFormatContext, FormatCloser> fmt(raw);
  // No avformat_find_stream_info: the stream types, side data and tags come from the header.
  const int s = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (s < 0) return 0;
  return stream_upright_rotation(fmt->streams[s]);
}

int stream_upright_rotation(const AVStream* st) {
  const uint8_t* sd = nullptr;
  std::size_t size = 0;
#if LIBAVFORMAT_VERSION_MAJOR >= 61  // FFmpeg 7: side data moved to the codec parameters
  const AVPacketSideData* p = av_packet_side_data_get(
      st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
  if (p) sd = p->data, size = p->size;
#else
  sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
#endif
  const AVDictionaryEntry* tag = av_dict_get(st->metadata, "rotate", nullptr, 0);
  return upright_rotation(
      sd && size >= 9 * sizeof(int32_t) ? reinterpret_cast<const int32_t*>(sd) : nullptr,
      tag ? tag->value : nullptr);
}

cv::Size rotated_size(cv::Size size, int degrees) {
  return (degrees % 180 != 0) ? cv::Size(size.height, size.width) : size;
}

cv::Mat rotate_clockwise(const cv::Mat& frame, int degrees) {
  if (degrees == 0) return frame;
  cv::Mat out;
  switch (degrees) {
    case 90:
      cv::rotate(frame, out, cv::ROTATE_90_CLOCKWISE);
      break;
    case 180:
      cv::rotate(frame, out, cv::ROTATE_180);
      break;
    case 270:
      cv::rotate(frame, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      break;
    default:
      return frame;
  }
  return out;
}

}  // namespace vc::data
