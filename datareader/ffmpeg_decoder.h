// A VideoDecoder on FFmpeg's libraries directly (libavformat / libavcodec / libswscale), built to
// decode only what is sampled:
//   - open() runs a demux-only pass over the video stream (no decoding) and builds a packet
//     index: decode order, pts/dts, keyframe flag, byte position. Its length is the frame count
//     (see docs/reader.md "Frame counts" for how it is decided against the container's count).
//   - read() seeks to the keyframe before each needed run of frames and decodes forward, tells
//     the codec to discard non-reference frames that no sampled frame needs (AVDISCARD_NONREF),
//     converts only the kept frames (YUV->RGB at the decoded size), turns them upright
//     (display matrix / rotate tag: datareader/rotation.h) and resizes them with the reader's
//     one resize (datareader/resize.h) when a target size is asked for.
//   - every call is bounded by a timeout (AVIOInterruptCB + checks in the decode loop).
// Frame folders are delegated to the OpenCV frames-folder reader (cv::imread).
#pragma once

#include <memory>
#include <string>

#include "datareader/video_decoder.h"

namespace vc::data {

struct FfmpegDecoderOptions {
  // Wall-clock bound of each open() and each read() of one video; on expiry the call throws
  // DecodeError with reason "decode timeout". <= 0 disables it.
  double timeout_s = 30.0;
  // Codec threads per video (1: parallelism comes from the loader's reader threads).
  int threads = 1;
  // false: never seek; decode sequentially from the first packet (the reference path of the
  // tests; still skips converting frames that are not kept).
  bool allow_seek = true;
  // Discard non-reference frames that no requested frame needs (only where frames are
  // identified by their timestamps, i.e. every packet has a pts).
  bool skip_nonref = true;
  // Frame-file pattern of frame folders (printf-style, 1-based).
  std::string frame_pattern = "img_%05d.jpg";
};

std::shared_ptr<const VideoDecoder> ffmpeg_video_decoder(const FfmpegDecoderOptions& opts = {});

// "ffmpeg" -> ffmpeg_video_decoder({timeout_s}), "opencv" -> opencv_video_decoder(). Throws
// DataError naming the value and the choices on anything else.
std::shared_ptr<const VideoDecoder> make_video_decoder(const std::string& name,
                                                       double timeout_s = 30.0);

}  // namespace vc::data
