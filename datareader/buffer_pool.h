// Recycled tensor memory for the loader's large buffers (docs/reader.md, "Memory").
//
// Every clip (StNet 7x5 at 224 px: 21 MB of float32) and every batch (8 clips: 168 MB) is a
// large allocation. Taken from the system allocator each time, such a buffer comes as fresh
// mmap'ed pages, and the first write to each 4 KiB page faults: on a 2-core VM about 40 % of the
// reader's time went to those faults. pooled_empty() hands out a buffer freed earlier whenever
// one of the same byte size is waiting, so the pages are already resident.
//
// A buffer returns to the pool when the last tensor sharing its storage dies. At most
// max_cached_bytes of free buffers are kept (the rest go back to the system); buffers in use do
// not count. Thread-safe. The pool is process-wide and never destroyed, so tensors may outlive
// any loader.
#pragma once

#include <cstddef>
#include <cstdint>

#include <torch/types.h>

namespace vc::data {

struct BufferPoolStats {
  uint64_t hits = 0;             // requests served from a cached buffer
  uint64_t misses = 0;           // requests that allocated
  std::size_t cached_bytes = 0;  // free buffers currently kept
  std::size_t cached_buffers = 0;
  std::size_t max_cached_bytes = 0;
};

// A contiguous CPU tensor of `sizes` and `dtype`, uninitialised, 64-byte aligned. Small tensors
// (under 1 MiB) are plain torch::empty.
torch::Tensor pooled_empty(at::IntArrayRef sizes, at::ScalarType dtype = at::kFloat);

BufferPoolStats buffer_pool_stats();
// Caps the bytes of free buffers kept (default 1 GiB); lowering it releases the excess now.
// 0 disables caching.
void set_buffer_pool_limit(std::size_t max_cached_bytes);
// Releases every cached buffer (tests; memory measurements).
void buffer_pool_trim();

}  // namespace vc::data
