// temporal_shift (models/common/temporal_shift.h) against a naive per-element loop, both
// directions, odd channel counts, T = 1; its gradient against the loop's adjoint.
#include "models/common/temporal_shift.h"

#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "models/common/onednn_shift.h"

namespace vc::models {
namespace {

// For each output element of [N, T, C, H, W] (flat index), the flat index of the input
// element it copies, or -1 for zero. Written per element from the two conventions' own words:
// Paddle (spec §1.14): c < int(C*r) from t-1, c < int(2*C*r) from t+1; torch
// (ops/temporal_shift.py): fold = C // round(1/r); c < fold from t+1, c < 2 fold from t-1.
std::vector<int64_t> naive_sources(int64_t n, int64_t t, int64_t c, int64_t hw, double ratio,
                                   ShiftDirection dir) {
  std::vector<int64_t> src(static_cast<size_t>(n * t * c * hw));
  const auto c1 = static_cast<int64_t>(c * ratio);
  const auto c2 = static_cast<int64_t>(2 * c * ratio);
  const int64_t fold = c / static_cast<int64_t>(std::llround(1.0 / ratio));
  for (int64_t in = 0; in < n; ++in)
    for (int64_t it = 0; it < t; ++it)
      for (int64_t ic = 0; ic < c; ++ic)
        for (int64_t p = 0; p < hw; ++p) {
          int64_t from_t = it;
          if (dir == ShiftDirection::kPaddle) {
            if (ic < c1) {
              from_t = it - 1;
            } else if (ic < c2) {
              from_t = it + 1;
            }
          } else {
            if (ic < fold) {
              from_t = it + 1;
            } else if (ic < 2 * fold) {
              from_t = it - 1;
            }
          }
          const int64_t out = ((in * t + it) * c + ic) * hw + p;
          src[static_cast<size_t>(out)] =
              (from_t < 0 || from_t >= t) ? -1 : ((in * t + from_t) * c + ic) * hw + p;
        }
  return src;
}

torch::Tensor naive_shift(const torch::Tensor& x, int64_t t, double ratio, ShiftDirection dir) {
  const int64_t n = x.size(0) / t, c = x.size(1), hw = x.size(2) * x.size(3);
  const auto src = naive_sources(n, t, c, hw, ratio, dir);
  const torch::Tensor flat = x.contiguous().view(-1);
  torch::Tensor out = torch::zeros_like(flat);
  auto o = out.accessor<float, 1>();
  auto i = flat.accessor<float, 1>();
  for (size_t k = 0; k < src.size(); ++k)
    if (src[k] >= 0) o[static_cast<int64_t>(k)] = i[src[k]];
  return out.view(x.sizes());
}

// The adjoint of the shift applied to g: d(sum(shift(x) * g)) / dx.
torch::Tensor naive_adjoint(const torch::Tensor& g, int64_t t, double ratio, ShiftDirection dir) {
  const int64_t n = g.size(0) / t, c = g.size(1), hw = g.size(2) * g.size(3);
  const auto src = naive_sources(n, t, c, hw, ratio, dir);
  const torch::Tensor flat = g.contiguous().view(-1);
  torch::Tensor out = torch::zeros_like(flat);
  auto o = out.accessor<float, 1>();
  auto gi = flat.accessor<float, 1>();
  for (size_t k = 0; k < src.size(); ++k)
    if (src[k] >= 0) o[src[k]] += gi[static_cast<int64_t>(k)];
  return out.view(g.sizes());
}

struct ShiftCase {
  int64_t n, t, c;
  double ratio;
  ShiftDirection dir;
};

class TemporalShiftVsLoop : public ::testing::TestWithParam<ShiftCase> {};

TEST_P(TemporalShiftVsLoop, ForwardAndGradient) {
  const ShiftCase p = GetParam();
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({p.n * p.t, p.c, 3, 2}, torch::requires_grad());
  torch::Tensor y = temporal_shift(x, p.t, p.ratio, p.dir);
  ASSERT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(y.detach(), naive_shift(x.detach(), p.t, p.ratio, p.dir)));
  torch::Tensor g = torch::randn_like(y);
  (y * g).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), naive_adjoint(g, p.t, p.ratio, p.dir)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TemporalShiftVsLoop,
    ::testing::Values(ShiftCase{2, 4, 16, 0.125, ShiftDirection::kPaddle},
                      ShiftCase{2, 4, 16, 0.125, ShiftDirection::kTorch},
                      // odd C: Paddle c1 = int(2.125) = 2, c2 = int(4.25) = 4; torch fold = 2
                      ShiftCase{2, 3, 17, 0.125, ShiftDirection::kPaddle},
                      ShiftCase{2, 3, 17, 0.125, ShiftDirection::kTorch},
                      // C = 12: Paddle c1 = int(1.5) = 1, c2 = int(3.0) = 3 (unequal halves)
                      ShiftCase{1, 5, 12, 0.125, ShiftDirection::kPaddle},
                      ShiftCase{1, 5, 12, 0.125, ShiftDirection::kTorch},
                      // C < 8: nothing moves in either convention
                      ShiftCase{2, 3, 7, 0.125, ShiftDirection::kPaddle},
                      ShiftCase{2, 3, 7, 0.125, ShiftDirection::kTorch},
                      // T = 1: the shifted channels are all zero
                      ShiftCase{3, 1, 16, 0.125, ShiftDirection::kPaddle},
                      ShiftCase{3, 1, 16, 0.125, ShiftDirection::kTorch},
                      // other ratios (1/4: half the channels move)
                      ShiftCase{2, 4, 10, 0.25, ShiftDirection::kPaddle},
                      ShiftCase{2, 4, 10, 0.25, ShiftDirection::kTorch}),
    [](const auto& info) {
      const ShiftCase& p = info.param;
      return std::string(p.dir == ShiftDirection::kPaddle ? "paddle" : "torch") + "_N" +
             std::to_string(p.n) + "_T" + std::to_string(p.t) + "_C" + std::to_string(p.c) + "_r" +
             std::to_string(static_cast<int>(1.0 / p.ratio));
    });

TEST(TemporalShift, DirectionsMoveOppositeWays) {
  // One clip of 3 frames, 8 channels, frame t filled with t+1: channel 0 of frame 1 holds
  // frame 0's value (1) in Paddle's convention and frame 2's (3) in torch's.
  torch::Tensor x = torch::arange(1, 4, torch::kFloat).view({3, 1, 1, 1}).expand({3, 8, 1, 1});
  const torch::Tensor p = temporal_shift(x, 3, 0.125, ShiftDirection::kPaddle);
  const torch::Tensor t = temporal_shift(x, 3, 0.125, ShiftDirection::kTorch);
  EXPECT_EQ(p[1][0].item<float>(), 1.0f);  // from t-1
  EXPECT_EQ(p[1][1].item<float>(), 3.0f);  // from t+1
  EXPECT_EQ(t[1][0].item<float>(), 3.0f);  // from t+1
  EXPECT_EQ(t[1][1].item<float>(), 1.0f);  // from t-1
  EXPECT_EQ(p[0][0].item<float>(), 0.0f);  // clip start: no previous frame
  EXPECT_EQ(t[2][0].item<float>(), 0.0f);  // clip end: no next frame
  EXPECT_TRUE(torch::equal(p.narrow(1, 2, 6), x.narrow(1, 2, 6)));
}

// Channels-last input (TRAIN.channels_last): a channels-last result, the same values, and the
// gradient (also channels-last) equal to the loop's adjoint.
TEST(TemporalShift, ChannelsLastInputAndGradient) {
  for (const auto dir : {ShiftDirection::kPaddle, ShiftDirection::kTorch}) {
    const torch::Tensor x0 = torch::randn({2 * 4, 16, 3, 5});
    const torch::Tensor x = x0.contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_(true);
    const torch::Tensor y = temporal_shift(x, 4, 0.125, dir);
    EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(torch::equal(y.detach(), naive_shift(x0, 4, 0.125, dir)));
    const torch::Tensor g = torch::randn_like(y).contiguous(torch::MemoryFormat::ChannelsLast);
    (y * g).sum().backward();
    EXPECT_TRUE(torch::allclose(x.grad(), naive_adjoint(g, 4, 0.125, dir)));
  }
}

TEST(TemporalShift, NonContiguousInput) {
  torch::manual_seed(4);
  torch::Tensor base = torch::randn({16, 6, 4, 8});
  torch::Tensor x = base.transpose(1, 3);  // [16, 8, 4, 6], not contiguous
  EXPECT_TRUE(torch::equal(temporal_shift(x, 4, 0.125, ShiftDirection::kTorch),
                           naive_shift(x.contiguous(), 4, 0.125, ShiftDirection::kTorch)));
}

TEST(TemporalShift, Ranges) {
  const ShiftRanges p = shift_ranges(2048, 0.125, ShiftDirection::kPaddle);
  EXPECT_EQ(p.prev_begin, 0);
  EXPECT_EQ(p.prev_end, 256);
  EXPECT_EQ(p.next_begin, 256);
  EXPECT_EQ(p.next_end, 512);
  const ShiftRanges t = shift_ranges(2048, 0.125, ShiftDirection::kTorch);
  EXPECT_EQ(t.next_begin, 0);
  EXPECT_EQ(t.next_end, 256);
  EXPECT_EQ(t.prev_begin, 256);
  EXPECT_EQ(t.prev_end, 512);
  EXPECT_EQ(parse_shift_direction("torch"), ShiftDirection::kTorch);
  EXPECT_EQ(shift_direction_name(ShiftDirection::kPaddle), "paddle");
}

TEST(TemporalShift, BadInputsAreErrors) {
  EXPECT_THROW(temporal_shift(torch::randn({6, 8, 2, 2}), 4), std::invalid_argument);  // 6 % 4
  EXPECT_THROW(temporal_shift(torch::randn({8, 8, 2}), 4), std::invalid_argument);     // 3-D
  EXPECT_THROW(temporal_shift(torch::randn({8, 8, 2, 2}), 0), std::invalid_argument);
  EXPECT_THROW(temporal_shift(torch::randn({8, 8, 2, 2}), 4, 0.0), std::invalid_argument);
  EXPECT_THROW(temporal_shift(torch::randn({8, 8, 2, 2}), 4, 0.75), std::invalid_argument);
  EXPECT_THROW(parse_shift_direction("left"), std::invalid_argument);
}

// A oneDNN tensor in the blocked layout a oneDNN convolution writes (nChw8c on AVX2, nChw16c on
// AVX-512): x through an identity 1x1 convolution.
torch::Tensor blocked_copy(const torch::Tensor& x) {
  const int64_t c = x.size(1);
  const torch::Tensor eye = torch::eye(c).view({c, c, 1, 1});
  return at::mkldnn_convolution(x.to_mkldnn(), eye.to_mkldnn(), {}, {0, 0}, {1, 1}, {1, 1}, 1);
}

// The shift of a MKLDNN-layout tensor (the fast inference path's) equals the dense shift
// element for element: in oneDNN's blocked layout (block-aligned ranges: one copy per frame; C =
// 12 / 20 cut blocks: per element), in the plain layout of to_mkldnn(), both directions, T = 1.
TEST(TemporalShift, OneDnnTensorsMatchDense) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "LibTorch without MKLDNN";
  torch::manual_seed(5);
  int64_t blocked_layouts = 0;
  for (const int64_t c : {64, 256, 12, 20}) {
    for (const int64_t t : {1, 3, 8}) {
      for (const auto dir : {ShiftDirection::kPaddle, ShiftDirection::kTorch}) {
        const torch::Tensor x = torch::randn({2 * t, c, 5, 7});
        const torch::Tensor want = naive_shift(x, t, 0.125, dir);
        const torch::Tensor blocked = blocked_copy(x);
        ASSERT_TRUE(torch::allclose(blocked.to_dense(), x, 0, 1e-6));
        const std::string layout = onednn_layout(blocked);
        if (onednn_shift_available()) {
          ASSERT_FALSE(layout.empty());
          blocked_layouts += layout.find(" inner ") != std::string::npos ? 1 : 0;
        }
        for (const torch::Tensor& in : {blocked, x.to_mkldnn()}) {
          const torch::Tensor y = temporal_shift(in, t, 0.125, dir);
          ASSERT_TRUE(y.is_mkldnn());
          EXPECT_TRUE(torch::allclose(y.to_dense(), want, 0, 1e-6))
              << "C " << c << " T " << t << " " << shift_direction_name(dir) << " " << layout;
          if (onednn_shift_available()) {
            EXPECT_EQ(onednn_layout(y), onednn_layout(in));
          }
        }
        // The input is left as it was.
        EXPECT_TRUE(torch::allclose(blocked.to_dense(), x, 0, 1e-6));
      }
    }
  }
  if (onednn_shift_available()) {
    EXPECT_GT(blocked_layouts, 0);  // the blocked path was exercised
  }
  EXPECT_THROW(temporal_shift(blocked_copy(torch::randn({6, 8, 2, 2})), 4), std::invalid_argument);
}

}  // namespace
}  // namespace vc::models
