#include "models/common/temporal_shift.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/library.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "models/common/onednn_shift.h"

namespace vc::models {

std::string shift_direction_name(ShiftDirection direction) {
  return direction == ShiftDirection::kPaddle ? "paddle" : "torch";
}

ShiftDirection parse_shift_direction(const std::string& name) {
  if (name == "paddle") return ShiftDirection::kPaddle;
  if (name == "torch") return ShiftDirection::kTorch;
  throw std::invalid_argument("temporal shift direction must be 'paddle' or 'torch', got '" + name +
                              "'");
}

ShiftRanges shift_ranges(int64_t channels, double ratio, ShiftDirection direction) {
  if (!(ratio > 0.0 && ratio <= 0.5)) {
    throw std::invalid_argument("temporal shift ratio must be in (0, 0.5], got " +
                                std::to_string(ratio));
  }
  if (channels < 0) {
    throw std::invalid_argument("temporal shift: negative channel count " +
                                std::to_string(channels));
  }
  ShiftRanges r;
  if (direction == ShiftDirection::kPaddle) {
    // Fluid: c1 = int(C * ratio), c2 = int(2 * C * ratio) (truncation, as the C++ op's casts).
    const auto c1 = static_cast<int64_t>(static_cast<double>(channels) * ratio);
    const auto c2 = static_cast<int64_t>(2.0 * static_cast<double>(channels) * ratio);
    r.prev_begin = 0;
    r.prev_end = c1;
    r.next_begin = c1;
    r.next_end = c2;
  } else {
    // PyTorch TSM: fold = c // fold_div.
    const auto n_div = static_cast<int64_t>(std::llround(1.0 / ratio));
    const int64_t fold = channels / n_div;
    r.next_begin = 0;
    r.next_end = fold;
    r.prev_begin = fold;
    r.prev_end = 2 * fold;
  }
  return r;
}

namespace {

void check_shift_input(const torch::Tensor& x, int64_t seg_num) {
  if (x.dim() != 4 || seg_num < 1 || x.size(0) % seg_num != 0) {
    std::ostringstream msg;
    msg << "temporal_shift expects x [N*T, C, H, W] with T = seg_num = " << seg_num
        << " dividing the first dimension, got " << x.sizes();
    throw std::invalid_argument(msg.str());
  }
}

// The shift with ranges r: channels [prev_begin, prev_end) of frame t take frame t-1's and
// [next_begin, next_end) frame t+1's, zeros where the source lies outside the clip. `adjoint`
// runs the transposed map instead (prev range from t+1, next range from t-1): the gradient.
// Not recorded by autograd (TemporalShiftFunction below is). The result has x's memory layout
// (a channels-last x stays channels-last: no conversion in front of the next convolution).
torch::Tensor shift_dense(const torch::Tensor& x, int64_t seg_num, const ShiftRanges& r,
                          bool adjoint) {
  const int64_t t = seg_num;
  const int64_t n = x.size(0) / t;
  const int64_t c = x.size(1);
  const torch::Tensor in = x.reshape({n, t, c, x.size(2), x.size(3)});  // [N, T, C, H, W]
  torch::Tensor out = torch::empty_like(in);

  // Channels [begin, end) of frame t take frame t + step (step -1 or +1); the frame whose
  // source lies outside the clip gets zeros.
  const auto shifted = [&](int64_t begin, int64_t end, int64_t step) {
    const int64_t width = end - begin;
    if (width <= 0) return;
    torch::Tensor dst = out.narrow(2, begin, width);  // [N, T, width, H, W]
    const torch::Tensor src = in.narrow(2, begin, width);
    if (step < 0) {  // from t-1: frames 1..T-1 <- 0..T-2, frame 0 <- 0
      dst.narrow(1, 1, t - 1).copy_(src.narrow(1, 0, t - 1));
      dst.narrow(1, 0, 1).zero_();
    } else {  // from t+1: frames 0..T-2 <- 1..T-1, frame T-1 <- 0
      dst.narrow(1, 0, t - 1).copy_(src.narrow(1, 1, t - 1));
      dst.narrow(1, t - 1, 1).zero_();
    }
  };
  shifted(r.prev_begin, r.prev_end, adjoint ? +1 : -1);
  shifted(r.next_begin, r.next_end, adjoint ? -1 : +1);
  // The unshifted channels: everything from the end of the second range on (both directions
  // place the two ranges back to back from channel 0).
  const int64_t kept = std::max(r.prev_end, r.next_end);
  if (kept < c) out.narrow(2, kept, c - kept).copy_(in.narrow(2, kept, c - kept));
  return out.view(x.sizes());  // [N*T, C, H, W]
}

// The shift as one autograd node: its backward is the adjoint shift, one pass over the gradient.
// (Recorded slice by slice instead, the backward ran a CopySlices node per slice, each cloning
// the whole gradient: 14 % of a TSM-50 training step on one core.)
struct TemporalShiftFunction : public torch::autograd::Function<TemporalShiftFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               int64_t seg_num, const ShiftRanges& r) {
    ctx->saved_data["seg_num"] = seg_num;
    ctx->saved_data["ranges"] =
        std::vector<int64_t>{r.prev_begin, r.prev_end, r.next_begin, r.next_end};
    return shift_dense(x, seg_num, r, /*adjoint=*/false);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto v = ctx->saved_data["ranges"].toIntVector();
    const ShiftRanges r{v[0], v[1], v[2], v[3]};
    return {shift_dense(grads[0], ctx->saved_data["seg_num"].toInt(), r, /*adjoint=*/true),
            torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor temporal_shift_dense(const torch::Tensor& x, int64_t seg_num, double ratio,
                                   ShiftDirection direction) {
  check_shift_input(x, seg_num);
  const ShiftRanges r = shift_ranges(x.size(1), ratio, direction);
  if (torch::GradMode::is_enabled() && x.requires_grad()) {
    return TemporalShiftFunction::apply(x, seg_num, r);
  }
  return shift_dense(x, seg_num, r, /*adjoint=*/false);
}

ShiftDirection direction_of(int64_t code) {
  if (code != 0 && code != 1) {
    throw std::invalid_argument(
        "videocls::temporal_shift: direction must be 0 (paddle) or 1 "
        "(torch), got " +
        std::to_string(code));
  }
  return code == 0 ? ShiftDirection::kPaddle : ShiftDirection::kTorch;
}

// The kernels of the videocls::temporal_shift op (below): dense tensors, and MKLDNN-layout
// tensors shifted in their own oneDNN layout when this build can (onednn_shift.h), otherwise
// through a dense copy.
torch::Tensor shift_op_dense(const torch::Tensor& x, int64_t seg_num, double ratio,
                             int64_t direction) {
  return temporal_shift_dense(x, seg_num, ratio, direction_of(direction));
}

torch::Tensor shift_op_mkldnn(const torch::Tensor& x, int64_t seg_num, double ratio,
                              int64_t direction) {
  const ShiftDirection dir = direction_of(direction);
  if (x.dim() == 4) {
    torch::Tensor out = onednn_temporal_shift(x, seg_num, shift_ranges(x.size(1), ratio, dir));
    if (out.defined()) return out;
  }
  return temporal_shift_dense(x.to_dense(), seg_num, ratio, dir).to_mkldnn();
}

}  // namespace

// One graph node for the whole shift when the fast inference path traces a network: the
// optimised graph then hands it the oneDNN tensor directly (models/common/inference.cpp)
// instead of converting layouts around a dozen slice copies.
TORCH_LIBRARY(videocls, m) {
  m.def("temporal_shift(Tensor x, int seg_num, float ratio, int direction) -> Tensor");
}
TORCH_LIBRARY_IMPL(videocls, CPU, m) { m.impl("temporal_shift", &shift_op_dense); }
TORCH_LIBRARY_IMPL(videocls, MkldnnCPU, m) { m.impl("temporal_shift", &shift_op_mkldnn); }

torch::Tensor temporal_shift(const torch::Tensor& x, int64_t seg_num, double ratio,
                             ShiftDirection direction) {
  if (torch::jit::tracer::isTracing() || x.is_mkldnn()) {
    static const auto op =
        c10::Dispatcher::singleton()
            .findSchemaOrThrow("videocls::temporal_shift", "")
            .typed<torch::Tensor(const torch::Tensor&, int64_t, double, int64_t)>();
    return op.call(x, seg_num, ratio, direction == ShiftDirection::kPaddle ? 0 : 1);
  }
  return temporal_shift_dense(x, seg_num, ratio, direction);
}

}  // namespace vc::models
