// TSM's temporal shift (spec §1.14): part of the channels of each frame is replaced by the same
// channels of the previous or the next frame of its clip; the rest pass unchanged. No
// parameters, no FLOPs: one output buffer, filled by slice copies.
//
// Two conventions exist and released weights depend on which one they were trained with:
// - kPaddle, Fluid's `temporal_shift` op (operators/temporal_shift_op.h), the original's:
//   c1 = int(C * ratio), c2 = int(2 * C * ratio); channels [0, c1) take frame t-1 (zero at
//   t = 0), [c1, c2) take frame t+1 (zero at t = T-1), [c2, C) are unchanged.
// - kTorch, the official PyTorch TSM (mit-han-lab/temporal-shift-module ops/temporal_shift.py,
//   `TemporalShift.shift`) and mmaction2's `TemporalShift`: fold = C / n_div (integer division,
//   n_div = round(1 / ratio), 8 for ratio 1/8); channels [0, fold) take frame t+1 ("shift
//   left", zero at t = T-1), [fold, 2*fold) take frame t-1 (zero at t = 0), the rest unchanged.
// The two differ in which half moves which way (and in rounding for C not divisible by 8).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace vc::models {

enum class ShiftDirection {
  kPaddle,  ///< [0, c1) from t-1, [c1, c2) from t+1 (Fluid; the original's weights)
  kTorch,   ///< [0, fold) from t+1, [fold, 2 fold) from t-1 (official PyTorch TSM, mmaction2)
};

/// "paddle" / "torch".
std::string shift_direction_name(ShiftDirection direction);
/// Parses "paddle" / "torch"; throws std::invalid_argument naming the value otherwise.
ShiftDirection parse_shift_direction(const std::string& name);

/// The channel ranges a shift moves: [prev_begin, prev_end) take frame t-1 and
/// [next_begin, next_end) take frame t+1.
struct ShiftRanges {
  int64_t prev_begin = 0, prev_end = 0, next_begin = 0, next_end = 0;
};
/// The ranges for C channels (see the header comment for each direction). Throws
/// std::invalid_argument for ratio outside (0, 0.5] or channels < 0.
ShiftRanges shift_ranges(int64_t channels, double ratio, ShiftDirection direction);

/// x [N*T, C, H, W] (T = seg_num consecutive frames per clip, clip-major) -> the shifted
/// [N*T, C, H, W] in x's memory layout (channels-last stays channels-last). Differentiable: one
/// autograd node whose backward is the adjoint shift (one pass). While traced (the fast inference
/// path), and for a MKLDNN-layout x, it runs as one op, videocls::temporal_shift (x, seg_num,
/// ratio, direction 0 = paddle / 1 = torch; not differentiable), which shifts oneDNN tensors in
/// their own layout (onednn_shift.h). Throws std::invalid_argument when x is not 4-D, seg_num < 1,
/// x.size(0) is not a multiple of seg_num, or ratio is outside (0, 0.5].
torch::Tensor temporal_shift(const torch::Tensor& x, int64_t seg_num, double ratio = 0.125,
                             ShiftDirection direction = ShiftDirection::kPaddle);

}  // namespace vc::models
