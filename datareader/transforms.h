// Clip transforms of the Kinetics reader (spec §3.2). Pure functions on groups of RGB frames
// (std::vector<cv::Mat>, CV_8UC3, H x W x 3); all frames of one clip share the random params.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "datareader/rng.h"

namespace vc::data {

enum class ScaleMode {
  kGroup43,    // original: resize to a fixed 4:3 shape, short side S, long side int(4S/3),
               // unless the short side already == S (then unchanged)
  kShortSide,  // aspect-preserving: short side S, other side round(side * S / short)
};

// Output size (width, height) of group_scale for one input size.
//   kGroup43:   short side == S -> unchanged; w < h -> (S, int(4S/3)); else (int(4S/3), S).
//   kShortSide: short side == S -> unchanged; else short -> S, long -> round(long * S / short).
cv::Size group_scale_size(cv::Size in, int64_t short_size, ScaleMode mode);

// Resize of every frame to group_scale_size(frame size) with the reader's one resize
// (datareader/resize.h: PIL's bilinear, antialiased when shrinking); frames already at that
// size are returned as they are (shared pixels).
std::vector<cv::Mat> group_scale(const std::vector<cv::Mat>& frames, int64_t short_size,
                                 ScaleMode mode);

// --- TSM group_multi_scale_crop -------------------------------------------------------------
struct MultiScaleCropOptions {
  std::vector<double> scales{1.0, 0.875, 0.75, 0.66};
  int max_distort = 1;
  bool fix_crop = true;
  bool more_fix_crop = true;
};

// Candidate crop sizes (w, h): base = min(W, H), sizes int(base*s), a size within 3 px (|d| < 3)
// of the output side snaps to it; pairs (crop_w[j], crop_h[i]) with |i - j| <= max_distort,
// enumerated i-major (Python order).
std::vector<cv::Size> multi_scale_crop_sizes(cv::Size image, cv::Size output,
                                             const MultiScaleCropOptions& opts = {});

// Fixed offsets (x, y) for a crop of `crop` in `image`: w_step = (W - cw)/4, h_step = (H - ch)/4
// (integer division); (0,0); (4w,0) if w_step != 0; (0,4h) if h_step != 0; (4w,4h) if both;
// (2w,2h) if either; and with more_fix_crop (0,2h), (4w,2h), (2w,4h), (2w,0), (w,h), (3w,h),
// (w,3h), (3w,3h), in units of the steps (Python order).
std::vector<cv::Point> multi_scale_crop_offsets(cv::Size image, cv::Size crop,
                                                bool more_fix_crop = true);

// Draws the crop rectangle: one uniform choice among the sizes, then (fix_crop) one among the
// offsets or (!fix_crop) x = randint(0, W-cw), y = randint(0, H-ch). Crops larger than the image
// (possible only through snapping) are clamped to the image.
cv::Rect sample_multi_scale_crop(cv::Size image, cv::Size output, const MultiScaleCropOptions& opts,
                                 Rng& rng);

// Crop every frame with the rectangle drawn from the first frame's size, then resize to `output`
// (TSM: short_size x short_size) with the reader's one resize (datareader/resize.h, PIL's
// bilinear, as the original's GroupMultiScaleCrop).
std::vector<cv::Mat> group_multi_scale_crop(const std::vector<cv::Mat>& frames, cv::Size output,
                                            const MultiScaleCropOptions& opts, Rng& rng);

// --- crops and flip -------------------------------------------------------------------------
// x1 = randint(0, W - tw), y1 = randint(0, H - th) (inclusive, drawn in that order).
// Throws std::invalid_argument when the image is smaller than the target.
cv::Rect random_crop_rect(cv::Size image, cv::Size target, Rng& rng);
// Offsets round((W - tw)/2), round((H - th)/2) (half away from zero, as Python 2's round).
cv::Rect center_crop_rect(cv::Size image, cv::Size target);
// The spatial crops of multi-view testing, in view order:
//   num_crops 1: { center_crop_rect }
//   num_crops 3: along the long side (width when W > H, else height) the first, centre and last
//                position: x (or y) = 0, round((W - tw)/2) (the centre crop's), W - tw; centred
//                across the short side as center_crop_rect. That is left/centre/right for
//                landscape frames, top/centre/bottom for portrait and square ones (mmaction2's
//                ThreeCrop positions; its ThreeCrop floors the centre offset and places the last
//                crop at 2*floor((W - tw)/2), here the centre crop is the single-view one and the
//                last crop touches the far edge).
// Throws std::invalid_argument for another num_crops or a target larger than the image.
std::vector<cv::Rect> view_crop_rects(cv::Size image, cv::Size target, int64_t num_crops);
// Crops every frame (cloned, contiguous). Throws std::invalid_argument if rect is outside a frame.
std::vector<cv::Mat> group_crop(const std::vector<cv::Mat>& frames, const cv::Rect& rect);
// One draw per clip: uniform() < 0.5.
bool draw_flip(Rng& rng);
std::vector<cv::Mat> group_hflip(const std::vector<cv::Mat>& frames);

// --- to float -------------------------------------------------------------------------------
// Writes F frames (all the same size, CV_8UC3 RGB) to `out` as float32 [F, 3, H, W]:
//   out = (pixel / 255 - mean[c]) / stdev[c]  per RGB channel c.
// With frames ordered segment-major, [F, 3, H, W] == [seg_num, seglen*3, H, W] in memory.
// Throws std::invalid_argument on mismatched sizes/types.
void normalize_to_chw(const std::vector<cv::Mat>& frames, const std::array<float, 3>& mean,
                      const std::array<float, 3>& stdev, float* out);

}  // namespace vc::data
