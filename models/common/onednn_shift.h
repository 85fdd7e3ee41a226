// TSM's temporal shift on a oneDNN (MKLDNN-layout) tensor, in its own blocked layout: the fast
// inference path keeps the whole ResNet trunk in oneDNN's layouts, and without this kernel each
// of the 16 shifts costs two full layout conversions (blocked -> plain for the shift, plain ->
// blocked for the next convolution) plus a third for the block's shortcut.
//
// In oneDNN's activation layouts on this class of CPU (nChw8c / nChw16c, or plain nchw) the
// channels of one frame are stored block after block, so channels [b, e) of a frame with b and e
// on block boundaries are one contiguous run of memory: the shift is one memcpy per frame and
// channel range. Other layouts, or ranges that cut a block, are copied element by element (still
// in place, still correct).
//
// Only compiled when the LibTorch in use links the system oneDNN that the build's <dnnl.hpp>
// describes (Debian's LibTorch 1.13.1 links libdnnl.so.2 from libdnnl2): the layout is read
// through oneDNN's C API from the tensor LibTorch holds. Elsewhere onednn_shift_available() is
// false and the fast path converts layouts around the shift as before.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "models/common/temporal_shift.h"

namespace vc::models {

/// True when this build can shift oneDNN tensors in place (see the header comment).
bool onednn_shift_available();

/// x: a MKLDNN-layout float tensor [N*T, C, H, W]; returns the shifted tensor in the same oneDNN
/// layout (one new buffer). `r` from shift_ranges(C, ...). Returns an undefined tensor when the
/// layout is not one it understands (the caller falls back to a dense shift); throws
/// std::invalid_argument for a wrong shape.
torch::Tensor onednn_temporal_shift(const torch::Tensor& x, int64_t seg_num, const ShiftRanges& r);

/// How many (frame, channel range) copies so far went element by element because the layout
/// cuts the range or is not channel-blocked (the slow path; for tests and diagnostics).
int64_t onednn_shift_elementwise_copies();

/// The oneDNN layout of a MKLDNN-layout tensor, e.g. "f32 [8,64,56,56] blocked strides
/// [200704,25088,448,8] inner 8@1" (for tests and logs); "" when unavailable.
std::string onednn_layout(const torch::Tensor& x);

}  // namespace vc::models
