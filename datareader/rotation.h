// Upright frames: the rotation a player applies to a video before showing it.
//
// Phones record sideways and store the display orientation as metadata: a display matrix
// (ISO-BMFF `tkhd` matrix; FFmpeg's AV_PKT_DATA_DISPLAYMATRIX stream side data) or, in files
// written by older tools, a `rotate` stream tag (degrees clockwise). Both decoders return frames
// rotated upright, the way the ffmpeg command line shows them (docs/reader.md "Rotation").
//
// The angle FFmpeg reports (av_display_rotation_get) is counter-clockwise; the clockwise turn
// that makes the frame upright is its negative, as ffmpeg's autorotate does (theta =
// -av_display_rotation_get). OpenCV 4.6's own auto-orientation (CAP_PROP_ORIENTATION_AUTO) uses
// the opposite sign and turns 90 / 270 degree videos upside down, so the OpenCV decoder turns
// it off and rotates with this module too.
//
// Angles are snapped to the nearest multiple of 90 degrees (ffmpeg's CLI turns other angles with
// its `rotate` filter, black corners included; OpenCV ignores them): a frame is never
// resampled or cropped by rotation. A mirrored matrix is read for its rotation only, as
// FFmpeg 5.1's CLI does.
#pragma once

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

struct AVStream;  // FFmpeg's (libavformat/avformat.h)

namespace vc::data {

// Clockwise degrees in {0, 90, 180, 270} that make a frame upright: from `display_matrix`
// (9 int32 in FFmpeg's layout; null when absent), else from `rotate_tag` (a decimal number of
// degrees clockwise; null or unparsable: 0).
int upright_rotation(const int32_t* display_matrix, const char* rotate_tag);

// upright_rotation() of the video stream of the file at `path` (the stream FFmpeg's
// av_find_best_stream picks), reading the container header only. 0 when the file has none or
// cannot be opened (opening errors are reported by the decoder itself).
int probe_upright_rotation(const std::string& path);

// upright_rotation() of one FFmpeg stream (an AVStream*; declared with the C type so that this
// header needs no FFmpeg header).
int stream_upright_rotation(const struct ::AVStream* stream);

// Size of a frame of `size` after a clockwise turn of `degrees` (a multiple of 90).
cv::Size rotated_size(cv::Size size, int degrees);

// `frame` turned clockwise by `degrees` (0, 90, 180, 270; cv::rotate: exact pixel moves). 0
// returns `frame` itself (no copy).
cv::Mat rotate_clockwise(const cv::Mat& frame, int degrees);

}  // namespace vc::data
