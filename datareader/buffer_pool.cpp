#include "datareader/buffer_pool.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <torch/torch.h>

namespace vc::data {
namespace {

constexpr std::size_t kMinPooledBytes = std::size_t{1} << 20;  // smaller: torch::empty
constexpr std::size_t kHugeBytes = std::size_t{4} << 20;       // from here: 2 MiB pages
constexpr std::size_t kHugeAlign = std::size_t{2} << 20;

class Pool {
 public:
  void* take(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (std::size_t i = free_.size(); i-- > 0;) {  // newest first: warmest pages
        if (free_[i].bytes == bytes) {
          void* p = free_[i].ptr;
          free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
          cached_ -= bytes;
          ++hits_;
          return p;
        }
      }
      ++misses_;
    }
    return allocate(bytes);
  }

  void give(void* p, std::size_t bytes) {
    std::vector<void*> release;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (bytes > limit_) {
        release.push_back(p);
      } else {
        // Make room by dropping the oldest free buffers (other shapes from an earlier phase).
        evict_to(limit_ - bytes, release);
        free_.push_back({p, bytes});
        cached_ += bytes;
      }
    }
    for (void* q : release) std::free(q);
  }

  // set: `limit` becomes the cap; else a one-off trim of the cached bytes down to `limit`.
  void shrink(std::size_t limit, bool set) {
    std::vector<void*> release;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (set) limit_ = limit;
      evict_to(limit, release);
    }
    for (void* q : release) std::free(q);
  }

  BufferPoolStats stats() const {
    std::lock_guard<std::mutex> lk(mu_);
    BufferPoolStats s;
    s.hits = hits_;
    s.misses = misses_;
    s.cached_bytes = cached_;
    s.cached_buffers = free_.size();
    s.max_cached_bytes = limit_;
    return s;
  }

 private:
  static void* allocate(std::size_t bytes) {
    const std::size_t align = bytes >= kHugeBytes ? kHugeAlign : 64;
    const std::size_t rounded = (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, rounded);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Transparent huge pages where the system allows them on request ("madvise" mode): one
    // fault per 2 MiB instead of per 4 KiB on first touch. Failure is harmless.
    if (align == kHugeAlign) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
  }

  // Drops the oldest free buffers until at most `max_bytes` are cached; the caller frees the
  // pointers collected in `release` after unlocking.
  void evict_to(std::size_t max_bytes, std::vector<void*>& release) {
    std::size_t n = 0;
    while (cached_ > max_bytes && n < free_.size()) {
      release.push_back(free_[n].ptr);
      cached_ -= free_[n].bytes;
      ++n;
    }
    free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  struct Entry {
    void* ptr;
    std::size_t bytes;
  };
  mutable std::mutex mu_;
  std::vector<Entry> free_;  // oldest first
  std::size_t cached_ = 0;
  std::size_t limit_ = std::size_t{1} << 30;
  uint64_t hits_ = 0, misses_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: tensors may die after static destructors run
  return *p;
}

}  // namespace

torch::Tensor pooled_empty(at::IntArrayRef sizes, at::ScalarType dtype) {
  int64_t numel = 1;
  for (int64_t s : sizes) {
    if (s < 0) throw std::invalid_argument("pooled_empty: negative size");
    numel *= s;
  }
  const std::size_t bytes = static_cast<std::size_t>(numel) * c10::elementSize(dtype);
  const auto options = torch::TensorOptions().dtype(dtype).device(torch::kCPU);
  if (bytes < kMinPooledBytes) return torch::empty(sizes, options);
  void* p = pool().take(bytes);
  return torch::from_blob(
      p, sizes, [bytes](void* q) { pool().give(q, bytes); }, options);
}

BufferPoolStats buffer_pool_stats() { return pool().stats(); }

void set_buffer_pool_limit(std::size_t max_cached_bytes) {
  pool().shrink(max_cached_bytes, /*set=*/true);
}

void buffer_pool_trim() { pool().shrink(0, /*set=*/false); }

}  // namespace vc::data
