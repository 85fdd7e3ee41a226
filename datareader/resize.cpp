#include "datareader/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
// AVX2 and baseline versions of a function, picked at load time (GCC / Clang ifunc).
#define VC_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VC_AVX2_CLONES
#endif

namespace vc::data {
namespace {

// Pillow: PRECISION_BITS = 32 - 8 - 2 (libImaging/Resample.c).
constexpr int kBits = 22;
constexpr int32_t kHalf = 1 << (kBits - 1);

inline uint8_t clip8(int32_t v) {
  // Pillow's clip8: >= 255.5 -> 255, <= 0 -> 0, else v >> kBits.
  v >>= kBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

double triangle(double x) {  // Pillow's bilinear_filter, support 1
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

std::string size_str(cv::Size s) {
  return std::to_string(s.width) + "x" + std::to_string(s.height);
}

// Horizontal pass over rows [y0, y1) of src into dst (out width, y1 - y0 rows). K > 0: every
// output reads exactly K inputs from first[x] (coefficient rows padded with zeros, a compile-time
// loop); K == 0: count[x] inputs.
template <int C, int K>
void horizontal(const cv::Mat& src, int y0, int y1, cv::Mat& dst, const int* first,
                const int* count, const int32_t* coeff, int ksize, int x_begin = 0) {
  const int ow = dst.cols;
  for (int y = y0; y < y1; ++y) {
    const uint8_t* in = src.ptr<uint8_t>(y);
    uint8_t* out = dst.ptr<uint8_t>(y - y0);
    for (int x = x_begin; x < ow; ++x) {
      const uint8_t* p = in + first[x] * C;
      const int32_t* k = coeff + static_cast<std::size_t>(x) * ksize;
      const int n = K > 0 ? K : (count ? count[x] : ksize);
      int32_t s[C];
      for (int c = 0; c < C; ++c) s[c] = kHalf;
      for (int t = 0; t < n; ++t) {
        const int32_t w = k[t];
        for (int c = 0; c < C; ++c) s[c] += p[t * C + c] * w;
      }
      for (int c = 0; c < C; ++c) out[x * C + c] = clip8(s[c]);
    }
  }
}

#if defined(__x86_64__)
// The horizontal pass of 3- and 4-channel frames with SSE4.1 (checked at run time): one output
// pixel per step, its channels in the lanes of one register; the same integer sums as
// horizontal(). Outputs whose window reaches the last input pixel (a 4-byte load would read past
// the row) are left to the caller (returns how many were done).
template <int C, int K>
__attribute__((target("sse4.1"))) int horizontal_sse41(const cv::Mat& src, int y0, int y1,
                                                       cv::Mat& dst, const int* first,
                                                       const int32_t* coeff, int ksize) {
  const int ow = dst.cols, iw = src.cols;
  const int n = K > 0 ? K : ksize;
  int safe = ow;
  if (C == 3) {
    while (safe > 0 && first[safe - 1] + n >= iw) --safe;
  }
  const __m128i half = _mm_set1_epi32(kHalf);
  for (int y = y0; y < y1; ++y) {
    const uint8_t* in = src.ptr<uint8_t>(y);
    uint8_t* out = dst.ptr<uint8_t>(y - y0);
    for (int x = 0; x < safe; ++x) {
      const uint8_t* p = in + first[x] * C;
      const int32_t* k = coeff + static_cast<std::size_t>(x) * ksize;
      __m128i acc = half;
      for (int t = 0; t < n; ++t) {
        int32_t v;
        std::memcpy(&v, p + t * C, 4);
        const __m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
        acc = _mm_add_epi32(acc, _mm_mullo_epi32(px, _mm_set1_epi32(k[t])));
      }
      acc = _mm_srai_epi32(acc, kBits);
      const __m128i w16 = _mm_packs_epi32(acc, acc);  // saturating: < 0 -> 0, > 255 -> 255 below
      const uint32_t o = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_packus_epi16(w16, w16)));
      if (C == 4) {
        std::memcpy(out + x * 4, &o, 4);
      } else {
        out[x * 3] = static_cast<uint8_t>(o);
        out[x * 3 + 1] = static_cast<uint8_t>(o >> 8);
        out[x * 3 + 2] = static_cast<uint8_t>(o >> 16);
      }
    }
  }
  return safe;
}
bool have_sse41() {
  static const bool yes = __builtin_cpu_supports("sse4.1");
  return yes;
}
#endif

// acc[i] += in[i] * w over one row (the hot loop: vectorised, AVX2 where the CPU has it).
VC_AVX2_CLONES void accumulate_row(int32_t* acc, const uint8_t* in, int32_t w, int n) {
  for (int i = 0; i < n; ++i) acc[i] += in[i] * w;
}

VC_AVX2_CLONES void clip_row(uint8_t* out, const int32_t* acc, int n) {
  for (int i = 0; i < n; ++i) out[i] = clip8(acc[i]);
}

// Vertical pass: output row i = sum over src rows first[i] .. first[i] + count[i] - 1.
void vertical(const cv::Mat& src, cv::Mat& dst, const int* first, const int* count,
              const int32_t* coeff, int ksize) {
  const int row_len = dst.cols * dst.channels();
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<std::size_t>(row_len));
  for (int y = 0; y < dst.rows; ++y) {
    const int32_t* k = coeff + static_cast<std::size_t>(y) * ksize;
    std::fill(acc.begin(), acc.begin() + row_len, kHalf);
    for (int t = 0; t < count[y]; ++t) {
      if (k[t] != 0) accumulate_row(acc.data(), src.ptr<uint8_t>(first[y] + t), k[t], row_len);
    }
    clip_row(dst.ptr<uint8_t>(y), acc.data(), row_len);
  }
}

}  // namespace

BilinearResizer::Axis BilinearResizer::make_axis(int in, int out) {
  // Pillow's precompute_coeffs + normalize_coeffs_8bpc, box (0, in), same double arithmetic.
  Axis a;
  const double scale = static_cast<double>(in) / out;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  a.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  a.first.resize(static_cast<std::size_t>(out));
  a.count.resize(static_cast<std::size_t>(out));
  a.coeff.assign(static_cast<std::size_t>(out) * a.ksize, 0);
  std::vector<double> k(static_cast<std::size_t>(a.ksize));
  for (int xx = 0; xx < out; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in) xmax = in;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = triangle((x + xmin - center + 0.5) * ss);
      k[static_cast<std::size_t>(x)] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      double v = k[static_cast<std::size_t>(x)];
      if (ww != 0.0) v /= ww;
      a.coeff[static_cast<std::size_t>(xx) * a.ksize + x] =
          v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kBits))
                : static_cast<int32_t>(0.5 + v * (1 << kBits));
    }
    a.first[static_cast<std::size_t>(xx)] = xmin;
    a.count[static_cast<std::size_t>(xx)] = xmax;
  }
  return a;
}

BilinearResizer::BilinearResizer(cv::Size in, cv::Size out) : in_(in), out_(out) {
  if (in.width < 1 || in.height < 1 || out.width < 1 || out.height < 1) {
    throw std::invalid_argument("resize: empty size (" + size_str(in) + " -> " + size_str(out) +
                                ")");
  }
  h_ = make_axis(in.width, out.width);
  v_ = make_axis(in.height, out.height);
  // The horizontal pass reads a fixed number of inputs per output, hk_ = the largest count
  // (2 when enlarging): windows are moved inside the row and padded with zero weights, which
  // leaves every sum unchanged.
  hk_ = *std::max_element(h_.count.begin(), h_.count.end());
  hfirst_.resize(h_.first.size());
  hcoeff_.assign(h_.first.size() * hk_, 0);
  for (std::size_t x = 0; x < h_.first.size(); ++x) {
    const int f = std::max(0, std::min(h_.first[x], in.width - hk_));
    hfirst_[x] = f;
    const int shift = h_.first[x] - f;
    for (int t = 0; t < h_.count[x]; ++t) {
      hcoeff_[x * hk_ + shift + t] = h_.coeff[x * h_.ksize + t];
    }
  }
}

namespace {
// Horizontal pass with windows of k inputs (padded), SIMD where available.
template <int C, int K>
void horizontal_fixed(const cv::Mat& src, int y0, int y1, cv::Mat& dst, const int* first,
                      const int32_t* coeff, int k) {
  int done = 0;
#if defined(__x86_64__)
  if (C > 1 && have_sse41()) done = horizontal_sse41<C, K>(src, y0, y1, dst, first, coeff, k);
#endif
  if (done < dst.cols) horizontal<C, K>(src, y0, y1, dst, first, nullptr, coeff, k, done);
}

template <int C>
void horizontal_k(const cv::Mat& src, int y0, int y1, cv::Mat& dst, const int* first,
                  const int32_t* coeff, int k) {
  switch (k) {
    case 1:
      return horizontal_fixed<C, 1>(src, y0, y1, dst, first, coeff, 1);
    case 2:
      return horizontal_fixed<C, 2>(src, y0, y1, dst, first, coeff, 2);
    case 3:
      return horizontal_fixed<C, 3>(src, y0, y1, dst, first, coeff, 3);
    case 4:
      return horizontal_fixed<C, 4>(src, y0, y1, dst, first, coeff, 4);
    case 5:
      return horizontal_fixed<C, 5>(src, y0, y1, dst, first, coeff, 5);
    case 6:
      return horizontal_fixed<C, 6>(src, y0, y1, dst, first, coeff, 6);
    default:
      // Wider windows (shrinking more than ~2.5x): a run-time count.
      return horizontal_fixed<C, 0>(src, y0, y1, dst, first, coeff, k);
  }
}
}  // namespace

cv::Mat BilinearResizer::resize(const cv::Mat& src) const {
  if (src.size() != in_) {
    throw std::invalid_argument("resize: frame is " + size_str(src.size()) + ", resizer expects " +
                                size_str(in_));
  }
  const int type = src.type();
  if (type != CV_8UC1 && type != CV_8UC3 && type != CV_8UC4) {
    throw std::invalid_argument("resize: expects 8-bit 1/3/4-channel frames, got OpenCV type " +
                                std::to_string(type));
  }
  if (in_ == out_) return src.clone();
  const bool need_h = in_.width != out_.width, need_v = in_.height != out_.height;
  cv::Mat out(out_, type);
  auto run_h = [&](int y0, int y1, cv::Mat& dst) {
    switch (src.channels()) {
      case 1:
        return horizontal_k<1>(src, y0, y1, dst, hfirst_.data(), hcoeff_.data(), hk_);
      case 3:
        return horizontal_k<3>(src, y0, y1, dst, hfirst_.data(), hcoeff_.data(), hk_);
      default:
        return horizontal_k<4>(src, y0, y1, dst, hfirst_.data(), hcoeff_.data(), hk_);
    }
  };
  if (!need_v) {
    run_h(0, in_.height, out);
    return out;
  }
  if (!need_h) {
    vertical(src, out, v_.first.data(), v_.count.data(), v_.coeff.data(), v_.ksize);
    return out;
  }
  // Horizontal pass over the input rows the vertical pass reads, into an 8-bit intermediate
  // (as Pillow), then the vertical pass with its row bounds shifted to that intermediate.
  const int y0 = v_.first.front();
  const int y1 = v_.first.back() + v_.count.back();
  // Per-thread scratch, reused: a fresh buffer of this size would be new mmap'ed pages (one
  // fault per 4 KiB) at every call.
  thread_local std::vector<uint8_t> scratch;
  const std::size_t need = static_cast<std::size_t>(y1 - y0) * out_.width * src.channels();
  if (scratch.size() < need) scratch.resize(need);
  cv::Mat tmp(y1 - y0, out_.width, type, scratch.data());
  run_h(y0, y1, tmp);
  std::vector<int> shifted(v_.first);
  for (int& f : shifted) f -= y0;
  vertical(tmp, out, shifted.data(), v_.count.data(), v_.coeff.data(), v_.ksize);
  return out;
}

cv::Mat resize_bilinear(const cv::Mat& src, cv::Size out) {
  return BilinearResizer(src.size(), out).resize(src);
}

}  // namespace vc::data
