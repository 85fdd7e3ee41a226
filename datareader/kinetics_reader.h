// Kinetics reader for TSN / TSM / StNet (spec §3.2): list of videos (or frame folders) ->
// clips float32 [seg_num, 3*seglen, H, W].
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "datareader/dataset.h"
#include "datareader/file_list.h"
#include "datareader/rng.h"
#include "datareader/transforms.h"  // ScaleMode, MultiScaleCropOptions
#include "datareader/video_decoder.h"

namespace vc::data {

struct KineticsReaderOptions {
  Phase phase = Phase::kTrain;
  int64_t seg_num = 3;        // segments per clip
  int64_t seglen = 1;         // consecutive frames per segment
  int64_t short_size = 256;   // group_scale target S
  int64_t target_size = 224;  // crop side
  int64_t num_classes = 400;  // labels must be in [0, num_classes) (<= 0: unchecked)
  ScaleMode scale_mode = ScaleMode::kGroup43;
  bool multi_scale_crop = false;  // TSM train: group_multi_scale_crop before the random crop
  std::array<float, 3> image_mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> image_std{0.229f, 0.224f, 0.225f};
  bool require_label = true;  // false for infer
  // Decoder of video files: "ffmpeg" (FFmpeg's libraries directly: seeks to the sampled
  // segments, decodes only what they need) or "opencv" (cv::VideoCapture, walks the stream).
  // Frame folders are read with cv::imread either way.
  std::string decoder = "ffmpeg";
  // ffmpeg: wall-clock bound of opening + decoding one video (DecodeError "decode timeout",
  // the sample is skipped); <= 0: none.
  double decode_timeout_s = 30.0;
  // Ask the decoder for frames already at the group_scale size: each kept frame is resized by
  // the reader's one resize (datareader/resize.h, PIL's bilinear) right after decoding, the same
  // pixels as group_scale after decoding; group_scale is then a no-op.
  bool decode_to_scale = true;
  // Multi-view testing (non-train phases only; docs/reader.md "Views"): temporal clips per video
  // (clip_indices: evenly spaced start offsets within the segments) and spatial crops per clip
  // (view_crop_rects: 1 = centre, 3 = along the long side). With num_clips * num_crops = V > 1
  // a sample holds all V views, decoded in one pass: "video" [V, seg_num, 3*seglen, H, W], view
  // v = clip v / num_crops, crop v % num_crops. 1 x 1 is the single centre view.
  int64_t num_clips = 1;
  int64_t num_crops = 1;
  int64_t views() const { return num_clips * num_crops; }
};

// Applies the clip transform of `opts.phase` to RGB frames in segment-major order
// (seg_num*seglen frames) and returns float32 [seg_num, 3*seglen, H, W]:
//   group_scale(short_size) -> train: [multi_scale_crop to short_size^2] -> random crop
//   target_size -> flip p=0.5 ; other phases: center crop target_size -> normalise.
// Randomness is drawn from `rng` in that order. Throws std::invalid_argument on bad sizes.
torch::Tensor transform_clip(const std::vector<cv::Mat>& frames, const KineticsReaderOptions& opts,
                             Rng& rng);

// Multi-view testing (non-train phases): the views of one video from its clips (one group of
// seg_num*seglen frames per temporal clip, segment-major), float32
// [V, seg_num, 3*seglen, H, W] with V = clips.size() * opts.num_crops and view v = clip
// v / num_crops, crop v % num_crops: group_scale(short_size) -> the crops of view_crop_rects
// (num_crops) of target_size -> normalise. Each view is exactly transform_clip's tensor for
// that clip when the crop is the centre one. Throws std::invalid_argument on bad sizes or in
// the train phase.
torch::Tensor transform_views(const std::vector<std::vector<cv::Mat>>& clips,
                              const KineticsReaderOptions& opts);

// Optional output-size request of load_clip_frames: frames come back at
// group_scale_size(native size, short_size, mode) when the source knows its native size.
struct ClipScale {
  int64_t short_size = 256;
  ScaleMode mode = ScaleMode::kGroup43;
};

// Decodes the sampled frames of `path` (segment-major, RGB) using `decoder`. If the container's
// frame count lies (the stream ends before a needed index), the number of frames actually
// decoded becomes the frame count and the indices are resampled from it, replaying `rng` from
// its state at entry (so the result depends only on that state). Throws DecodeError (naming the
// path) on failure; `out_num_frames` receives the frame count used.
std::vector<cv::Mat> load_clip_frames(const VideoDecoder& decoder, const std::string& path,
                                      int64_t seg_num, int64_t seglen, bool train, Rng& rng,
                                      int64_t* out_num_frames = nullptr,
                                      const ClipScale* scale = nullptr);

// Multi-view testing: the frames of `num_clips` temporal clips of `path` (clip_indices), one
// group of seg_num*seglen frames per clip (segment-major, RGB). The union of all clips' frame
// indices is read in ONE decoder pass (open + read_scaled once; a frame shared by clips is
// decoded once and its pixels shared). A lying frame count is handled as in load_clip_frames
// (the clips are resampled from the frames actually decoded, a second pass).
std::vector<std::vector<cv::Mat>> load_view_clips(const VideoDecoder& decoder,
                                                  const std::string& path, int64_t seg_num,
                                                  int64_t seglen, int64_t num_clips,
                                                  int64_t* out_num_frames = nullptr,
                                                  const ClipScale* scale = nullptr);

class KineticsDataset : public Dataset {
 public:
  // Parses the list (throws DataError when missing or when no line is usable) and validates the
  // options (throws DataError naming the option and value). The first form decodes with
  // make_video_decoder(opts.decoder, opts.decode_timeout_s); the second with `decoder`.
  KineticsDataset(const std::string& list_path, KineticsReaderOptions opts);
  KineticsDataset(const std::string& list_path, KineticsReaderOptions opts,
                  std::shared_ptr<const VideoDecoder> decoder);

  std::size_t size() const override { return entries_.size(); }
  // Sample `index` with randomness from `seed`: inputs {"video": float32 [seg_num, 3*seglen,
  // target_size, target_size]}, or with opts.views() = V > 1 all views of the video
  // [V, seg_num, 3*seglen, target_size, target_size] (Sample::views = V), a class target;
  // throws SampleError (a DataError) on a bad file.
  Sample get(std::size_t index, uint64_t seed) const override;
  // opts.views() and "<num_clips>x<num_crops> (clips x crops)".
  ViewInfo view_info() const override;
  SampleRef ref(std::size_t index) const override;
  const std::vector<std::string>& skipped_lines() const override { return skipped_; }
  std::string describe() const override;

  const ListEntry& entry(std::size_t index) const;
  const KineticsReaderOptions& options() const { return opts_; }
  const std::string& list_path() const { return list_path_; }

 private:
  std::string list_path_;
  KineticsReaderOptions opts_;
  std::shared_ptr<const VideoDecoder> decoder_;
  std::vector<ListEntry> entries_;
  std::vector<std::string> skipped_;
};

}  // namespace vc::data
