// Non-local reader (spec §3.3, the original's datareader/nonlocal_reader.py): a list of
// "<video path> <label>" lines -> clips float32 [3, L, crop, crop] of L = video_length frames
// taken every sample_rate frames, (x - image_mean) / image_std on 0-255 RGB values.
//
//   TRAIN: start = randint(0, frame_cnt - L*sr) (inclusive) when frame_cnt > L*sr, else 0;
//          frames (start + i*sr) % frame_cnt; short side -> S = randint(jitter_min,
//          jitter_max - 1) (S = jitter_min when they are equal), the other side round(side *
//          S / short); random crop (h_off then w_off, each randint(0, side - crop), upper
//          exclusive); mirror with probability 0.5.
//   VALID: the same random start and scale, centre crop int((side - crop) / 2), no mirror.
//   TEST / INFER: num_clips x num_crops views of each video (one sample, Sample::views = V,
//          inputs [V, 3, L, crop, crop], view v = clip v / num_crops, crop v % num_crops):
//          clip j starts at int(frame_cnt / num_clips * j) % frame_cnt; crop k of 3 is the
//          centre offset multiplied by k along the long side (top/centre/bottom when the
//          height exceeds the crop, else left/centre/right), as crop_mirror_transform; one crop
//          = the centre. All frames the views need are decoded once.
// Randomness is drawn in the original's order: start, scale, crop offsets, mirror.
//
// Lists: the original's 4-column test lists ("<path> <video index> <clip> <crop>") are
// rejected with a message: pass vallist.txt and set num_clips / num_crops instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>
#include <opencv2/core.hpp>

#include "datareader/dataset.h"
#include "datareader/file_list.h"
#include "datareader/rng.h"
#include "datareader/video_decoder.h"

namespace vc::data {

struct NonlocalReaderOptions {
  Phase phase = Phase::kTrain;
  int64_t crop_size = 224;   // output side
  int64_t sample_rate = 8;   // frames between two sampled frames
  int64_t video_length = 8;  // frames per clip (L)
  int64_t jitter_min = 256;  // short side range [jitter_min, jitter_max) (equal: fixed)
  int64_t jitter_max = 320;
  float image_mean = 114.75f;  // on 0-255 values, all channels
  float image_std = 57.375f;
  int64_t num_clips = 1;           // TEST / INFER: temporal clips per video
  int64_t num_crops = 1;           // TEST / INFER: 1 (centre) or 3 spatial crops
  int64_t num_classes = 400;       // labels must be in [0, num_classes) (<= 0: unchecked)
  bool require_label = true;       // false for infer
  std::string decoder = "ffmpeg";  // "ffmpeg" or "opencv" (datareader/ffmpeg_decoder.h)
  double decode_timeout_s = 30.0;
};

// --- the sampling rules, exposed for tests ----------------------------------------------------
// Random start of a TRAIN / VALID clip: randint(0, frame_cnt - L*sr) when frame_cnt > L*sr, else
// 0 (no draw).
int64_t nonlocal_random_start(int64_t frame_cnt, int64_t video_length, int64_t sample_rate,
                              Rng& rng);
// Start of test clip j of num_clips: int(frame_cnt / num_clips * j) % frame_cnt (true division).
int64_t nonlocal_test_start(int64_t frame_cnt, int64_t num_clips, int64_t j);
// (start + i*sr) % frame_cnt for i = 0..L-1.
std::vector<int64_t> nonlocal_clip_indices(int64_t frame_cnt, int64_t start, int64_t video_length,
                                           int64_t sample_rate);
// Short side of the scaled frames: jitter_min when jitter_max <= jitter_min, else
// randint(jitter_min, jitter_max - 1).
int64_t nonlocal_scale(int64_t jitter_min, int64_t jitter_max, Rng& rng);
// Top-left corner (x = w_off, y = h_off) of the crop in an image of `size`:
// TRAIN: random (h_off drawn first); otherwise centre, and with spatial_pos k >= 0 the non-zero
// centre offset (h first) multiplied by k % 3. Throws std::invalid_argument when the image is
// smaller than the crop.
cv::Point nonlocal_crop_offset(cv::Size size, int64_t crop, bool train, int64_t spatial_pos,
                               Rng& rng);

class NonlocalDataset : public Dataset {
 public:
  // Parses the list (throws DataError when missing, when it is a 4-column test list or when no
  // line is usable) and validates the options (DataError naming the option and value).
  NonlocalDataset(const std::string& list_path, NonlocalReaderOptions opts);
  NonlocalDataset(const std::string& list_path, NonlocalReaderOptions opts,
                  std::shared_ptr<const VideoDecoder> decoder);

  std::size_t size() const override { return entries_.size(); }
  // inputs {"video": float32 [3, L, crop, crop]} or, with views V > 1 (TEST / INFER),
  // [V, 3, L, crop, crop]; a class target. Throws SampleError on a bad file.
  Sample get(std::size_t index, uint64_t seed) const override;
  SampleRef ref(std::size_t index) const override;
  const std::vector<std::string>& skipped_lines() const override { return skipped_; }
  std::string describe() const override;
  // views() and, with views, "<num_clips>x<num_crops> (clips x crops)" (for logs and results).
  ViewInfo view_info() const override;

  // Views per sample in this phase: num_clips * num_crops in TEST / INFER, else 1.
  int64_t views() const;
  const ListEntry& entry(std::size_t index) const;
  const NonlocalReaderOptions& options() const { return opts_; }

 private:
  std::string list_path_;
  NonlocalReaderOptions opts_;
  std::shared_ptr<const VideoDecoder> decoder_;
  std::vector<ListEntry> entries_;
  std::vector<std::string> skipped_;
};

}  // namespace vc::data
