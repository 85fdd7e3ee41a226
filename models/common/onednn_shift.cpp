#include "models/common/onednn_shift.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>

#include <cstring>
#include <sstream>
#include <stdexcept>
#include <vector>

#ifdef VC_ONEDNN_SHIFT
#include <oneapi/dnnl/dnnl.hpp>

// LibTorch keeps a MKLDNN-layout tensor as an ideep::tensor, which is a dnnl::memory (its first
// and only base, no virtual functions). LibTorch exports the accessor; ideep's headers are not
// needed to call it (the return type is not part of the symbol).
namespace ideep {
class tensor;
}
namespace at::native {
ideep::tensor& itensor_from_mkldnn(const at::Tensor& mkldnn_tensor);
}
#endif

namespace vc::models {

#ifdef VC_ONEDNN_SHIFT
namespace {

// Where element (n, c, h, w) of a 4-D oneDNN blocked layout lies, in elements from the data
// handle: outer strides over idx / block plus the offset inside the innermost blocks.
struct Layout {
  float* data = nullptr;
  int64_t dims[4] = {0, 0, 0, 0};
  int64_t strides[4] = {0, 0, 0, 0};
  int64_t block[4] = {1, 1, 1, 1};         // inner block size per dimension (1 = none)
  int64_t block_stride[4] = {0, 0, 0, 0};  // stride of the index inside that block
  int64_t offset0 = 0;

  int64_t offset(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const int64_t idx[4] = {n, c, h, w};
    int64_t off = offset0;
    for (int d = 0; d < 4; ++d) {
      off += idx[d] / block[d] * strides[d] + idx[d] % block[d] * block_stride[d];
    }
    return off;
  }
  // Channels [b, e) of one frame are one contiguous run starting at offset(n, b, 0, 0): only a
  // channel block (or none), spatial dims dense inside it, and the range on block boundaries.
  bool contiguous_channels(int64_t b, int64_t e) const {
    const int64_t cb = block[1];
    return block[0] == 1 && block[2] == 1 && block[3] == 1 && b % cb == 0 && e % cb == 0 &&
           strides[3] == cb && strides[2] == dims[3] * cb && strides[1] == dims[2] * dims[3] * cb;
  }
  // Only a channel block (or none), with the spatial dims dense inside it: channels [lo, hi) of
  // one block are then a contiguous run of hi - lo floats at every pixel.
  bool channel_blocked_dense() const {
    const int64_t cb = block[1];
    return block[0] == 1 && block[2] == 1 && block[3] == 1 && strides[3] == cb &&
           strides[2] == dims[3] * cb && strides[1] == dims[2] * dims[3] * cb;
  }
  bool same_as(const Layout& o) const {
    for (int d = 0; d < 4; ++d) {
      if (dims[d] != o.dims[d] || strides[d] != o.strides[d] || block[d] != o.block[d] ||
          block_stride[d] != o.block_stride[d]) {
        return false;
      }
    }
    return offset0 == o.offset0;
  }
};

const dnnl::memory& memory_of(const torch::Tensor& t) {
  // LibTorch hands out a oneDNN tensor's storage only below autograd (where its own MKLDNN
  // kernels run).
  const at::AutoDispatchBelowADInplaceOrView below_autograd;
  return reinterpret_cast<const dnnl::memory&>(at::native::itensor_from_mkldnn(t));
}

// false when the tensor is not a 4-D f32 blocked layout whose dims match its sizes, or its inner
// blocks are not one per dimension.
bool read_layout(const torch::Tensor& t, Layout* l) {
  const dnnl_memory_t mem = memory_of(t).get(/*allow_empty=*/true);
  if (mem == nullptr) return false;
  const dnnl_memory_desc_t* md = nullptr;
  void* handle = nullptr;
  if (dnnl_memory_get_memory_desc(mem, &md) != dnnl_success || md == nullptr) return false;
  if (dnnl_memory_get_data_handle(mem, &handle) != dnnl_success || handle == nullptr) return false;
  if (md->ndims != 4 || md->data_type != dnnl_f32 || md->format_kind != dnnl_blocked) return false;
  for (int d = 0; d < 4; ++d) {
    if (md->dims[d] != t.size(d)) return false;
    l->dims[d] = md->dims[d];
    l->strides[d] = md->format_desc.blocking.strides[d];
    if (d != 1 && md->padded_dims[d] != md->dims[d]) return false;
    if (md->padded_offsets[d] != 0) return false;
  }
  const auto& b = md->format_desc.blocking;
  int64_t inner = 1;
  for (int i = b.inner_nblks - 1; i >= 0; --i) {
    const auto d = b.inner_idxs[i];
    if (d < 0 || d > 3 || l->block[d] != 1) return false;  // one block per dimension only
    l->block[d] = b.inner_blks[i];
    l->block_stride[d] = inner;
    inner *= b.inner_blks[i];
  }
  for (int d = 0; d < 4; ++d) {
    if (l->block[d] == 1) l->block_stride[d] = 0;
  }
  l->offset0 = md->offset0;
  l->data = static_cast<float*>(handle);
  return true;
}

std::string describe(const Layout& l) {
  std::ostringstream s;
  s << "f32 [" << l.dims[0] << "," << l.dims[1] << "," << l.dims[2] << "," << l.dims[3]
    << "] blocked strides [" << l.strides[0] << "," << l.strides[1] << "," << l.strides[2] << ","
    << l.strides[3] << "]";
  for (int d = 0; d < 4; ++d) {
    if (l.block[d] > 1) s << " inner " << l.block[d] << "@" << d;
  }
  return s.str();
}

std::atomic<int64_t> g_elementwise_copies{0};

// dst frame f, channels [b, e) <- src frame g (or zeros when g < 0).
void copy_channels(const Layout& src, const Layout& dst, int64_t f, int64_t g, int64_t b,
                   int64_t e) {
  if (e <= b) return;
  const int64_t h_n = dst.dims[2], w_n = dst.dims[3];
  if (dst.contiguous_channels(b, e) && (g < 0 || (src.same_as(dst)))) {
    float* d = dst.data + dst.offset(f, b, 0, 0);
    const auto bytes = static_cast<std::size_t>((e - b) * h_n * w_n) * sizeof(float);
    if (g < 0) {
      std::memset(d, 0, bytes);
    } else {
      std::memcpy(d, src.data + src.offset(g, b, 0, 0), bytes);
    }
    return;
  }
  if (dst.channel_blocked_dense() && (g < 0 || src.same_as(dst))) {
    // The range cuts a block (TSM's 1/8 of 64 channels in 16-channel blocks): block by block,
    // whole blocks as one run, partial ones as one run per pixel.
    const int64_t cb = dst.block[1], pixels = h_n * w_n;
    for (int64_t blk = b / cb * cb; blk < e; blk += cb) {
      const int64_t lo = std::max(b, blk), hi = std::min(e, blk + cb);
      float* d = dst.data + dst.offset(f, blk, 0, 0);
      const float* s = g < 0 ? nullptr : src.data + src.offset(g, blk, 0, 0);
      if (lo == blk && hi == blk + cb) {
        const auto bytes = static_cast<std::size_t>(cb * pixels) * sizeof(float);
        s == nullptr ? (void)std::memset(d, 0, bytes) : (void)std::memcpy(d, s, bytes);
        continue;
      }
      const auto run = static_cast<std::size_t>(hi - lo) * sizeof(float);
      for (int64_t px = 0; px < pixels; ++px) {
        float* dp = d + px * cb + (lo - blk);
        if (s == nullptr) {
          std::memset(dp, 0, run);
        } else {
          std::memcpy(dp, s + px * cb + (lo - blk), run);
        }
      }
    }
    return;
  }
  g_elementwise_copies.fetch_add(1, std::memory_order_relaxed);
  for (int64_t c = b; c < e; ++c) {
    for (int64_t h = 0; h < h_n; ++h) {
      for (int64_t w = 0; w < w_n; ++w) {
        dst.data[dst.offset(f, c, h, w)] = g < 0 ? 0.0f : src.data[src.offset(g, c, h, w)];
      }
    }
  }
}

}  // namespace

bool onednn_shift_available() { return at::hasMKLDNN(); }

torch::Tensor onednn_temporal_shift(const torch::Tensor& x, int64_t seg_num, const ShiftRanges& r) {
  if (!x.is_mkldnn() || x.dim() != 4 || seg_num < 1 || x.size(0) % seg_num != 0) {
    std::ostringstream msg;
    msg << "onednn_temporal_shift expects a MKLDNN-layout x [N*T, C, H, W] with T = seg_num = "
        << seg_num << " dividing the first dimension, got " << x.sizes()
        << (x.is_mkldnn() ? "" : " (not MKLDNN layout)");
    throw std::invalid_argument(msg.str());
  }
  Layout src;
  if (!read_layout(x, &src)) return {};
  // One new buffer in the same layout; the shifted channel ranges are then overwritten.
  torch::Tensor out;
  {
    const at::AutoDispatchBelowADInplaceOrView below_autograd;
    out = x.clone();
  }
  Layout dst;
  if (!read_layout(out, &dst) || dst.data == src.data) return {};
  const int64_t frames = x.size(0);
  at::parallel_for(0, frames, 1, [&](int64_t begin, int64_t end) {
    for (int64_t f = begin; f < end; ++f) {
      const int64_t t = f % seg_num;
      copy_channels(src, dst, f, t == 0 ? -1 : f - 1, r.prev_begin, r.prev_end);
      copy_channels(src, dst, f, t == seg_num - 1 ? -1 : f + 1, r.next_begin, r.next_end);
    }
  });
  return out;
}

int64_t onednn_shift_elementwise_copies() { return g_elementwise_copies.load(); }

std::string onednn_layout(const torch::Tensor& x) {
  Layout l;
  if (!x.is_mkldnn() || x.dim() != 4 || !read_layout(x, &l)) return "";
  return describe(l);
}

#else  // !VC_ONEDNN_SHIFT

bool onednn_shift_available() { return false; }

torch::Tensor onednn_temporal_shift(const torch::Tensor&, int64_t, const ShiftRanges&) {
  return {};
}

int64_t onednn_shift_elementwise_copies() { return 0; }

std::string onednn_layout(const torch::Tensor&) { return ""; }

#endif

}  // namespace vc::models
