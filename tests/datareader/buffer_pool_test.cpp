// Unit tests: the recycled tensor memory of datareader/buffer_pool.h, and the loader's batches
// built in it (values equal to stacking the dataset's clips, with clips large enough to be
// pooled).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "datareader/buffer_pool.h"
#include "datareader/kinetics_reader.h"
#include "datareader/loader.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// Restores the default limit and empties the pool around each test.
struct PoolGuard {
  std::size_t limit = buffer_pool_stats().max_cached_bytes;
  PoolGuard() { buffer_pool_trim(); }
  ~PoolGuard() {
    set_buffer_pool_limit(limit);
    buffer_pool_trim();
  }
};

TEST(BufferPool, FreedBufferIsReusedForTheSameSize) {
  PoolGuard g;
  const BufferPoolStats s0 = buffer_pool_stats();
  void* first = nullptr;
  {
    torch::Tensor t = pooled_empty({kMiB / 2, 2});  // 4 MiB of float
    EXPECT_EQ(t.sizes(), (std::vector<int64_t>{kMiB / 2, 2}));
    EXPECT_EQ(t.dtype(), torch::kFloat32);
    EXPECT_TRUE(t.is_contiguous());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 64, 0u);
    t.fill_(3.0f);
    first = t.data_ptr();
  }
  EXPECT_EQ(buffer_pool_stats().cached_buffers, 1u);
  EXPECT_EQ(buffer_pool_stats().cached_bytes, static_cast<std::size_t>(4 * kMiB));
  torch::Tensor again = pooled_empty({kMiB});  // same byte size, other shape
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(buffer_pool_stats().hits, s0.hits + 1);
  EXPECT_EQ(buffer_pool_stats().misses, s0.misses + 1);
  EXPECT_EQ(buffer_pool_stats().cached_buffers, 0u);
  // Another size does not take it.
  torch::Tensor other = pooled_empty({kMiB + 16});
  EXPECT_NE(other.data_ptr(), first);
  EXPECT_EQ(buffer_pool_stats().misses, s0.misses + 2);
}

TEST(BufferPool, AViewKeepsTheBufferInUse) {
  PoolGuard g;
  torch::Tensor view;
  void* p = nullptr;
  {
    torch::Tensor t = pooled_empty({2, kMiB / 4});
    t.fill_(7.0f);
    p = t.data_ptr();
    view = t[1];
  }
  EXPECT_EQ(buffer_pool_stats().cached_buffers, 0u);  // still referenced by the view
  torch::Tensor t2 = pooled_empty({2, kMiB / 4});
  EXPECT_NE(t2.data_ptr(), p);
  t2.fill_(-1.0f);
  EXPECT_TRUE(torch::all(view == 7.0f).item<bool>());
  view = torch::Tensor();
  EXPECT_EQ(buffer_pool_stats().cached_buffers, 1u);
}

TEST(BufferPool, CachedBytesStayUnderTheLimit) {
  PoolGuard g;
  set_buffer_pool_limit(static_cast<std::size_t>(5 * kMiB));
  {
    torch::Tensor a = pooled_empty({kMiB / 2});  // 2 MiB each
    torch::Tensor b = pooled_empty({kMiB / 2});
    torch::Tensor c = pooled_empty({kMiB / 2});
  }
  BufferPoolStats s = buffer_pool_stats();
  EXPECT_EQ(s.cached_buffers, 2u);
  EXPECT_EQ(s.cached_bytes, static_cast<std::size_t>(4 * kMiB));
  { torch::Tensor big = pooled_empty({2 * kMiB}); }  // 8 MiB > limit: released at once
  EXPECT_EQ(buffer_pool_stats().cached_bytes, static_cast<std::size_t>(4 * kMiB));
  { torch::Tensor d = pooled_empty({kMiB}); }  // 4 MiB: evicts the oldest 2 MiB buffers
  s = buffer_pool_stats();
  EXPECT_EQ(s.cached_buffers, 1u);
  EXPECT_EQ(s.cached_bytes, static_cast<std::size_t>(4 * kMiB));
  set_buffer_pool_limit(0);
  EXPECT_EQ(buffer_pool_stats().cached_bytes, 0u);
  { torch::Tensor e = pooled_empty({kMiB}); }
  EXPECT_EQ(buffer_pool_stats().cached_buffers, 0u);
}

TEST(BufferPool, SmallTensorsAndOtherTypesAndZeroSizes) {
  PoolGuard g;
  const BufferPoolStats s0 = buffer_pool_stats();
  torch::Tensor small = pooled_empty({16, 16});
  EXPECT_EQ(small.numel(), 256);
  torch::Tensor bytes = pooled_empty({3 * kMiB}, torch::kUInt8);
  EXPECT_EQ(bytes.dtype(), torch::kUInt8);
  EXPECT_EQ(bytes.numel(), 3 * kMiB);
  torch::Tensor empty = pooled_empty({0, 5});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(buffer_pool_stats().misses, s0.misses + 1);  // only the 3 MiB one was pooled
  EXPECT_THROW(pooled_empty({-1, 4}), std::invalid_argument);
}

TEST(BufferPool, ConcurrentUseNeverSharesALiveBuffer) {
  PoolGuard g;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int id = 0; id < 4; ++id) {
    threads.emplace_back([id, &bad] {
      for (int it = 0; it < 40; ++it) {
        torch::Tensor t = pooled_empty({kMiB / 4 + (it % 2)}, torch::kInt32);
        t.fill_(id * 1000 + it);
        std::this_thread::yield();
        if (!torch::all(t == id * 1000 + it).item<bool>()) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(buffer_pool_stats().hits, 0u);
}

TEST(Loader, PooledBatchesEqualTheStackedClips) {
  PoolGuard g;
  testing::TempDir tmp;
  std::string text;
  for (int v = 0; v < 5; ++v) {
    testing::make_frames_folder(tmp.file("f" + std::to_string(v)), 10, 150, 120, v);
    text += tmp.file("f" + std::to_string(v)) + " " + std::to_string(v % 3) + "\n";
  }
  const std::string list = tmp.file("train.list");
  testing::write_file(list, text);
  KineticsReaderOptions o;
  o.phase = Phase::kTrain;
  o.seg_num = 4;
  o.seglen = 2;
  o.short_size = 120;
  o.target_size = 112;  // 4 x 6 x 112 x 112 floats = 1.2 MiB per clip: pooled
  o.num_classes = 3;
  auto ds = std::make_shared<KineticsDataset>(list, o);
  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_threads = 2;
  lo.seed = 99;
  Loader loader(ds, lo);
  const uint64_t misses0 = buffer_pool_stats().misses;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    while (auto b = loader.next()) {
      ASSERT_EQ(b->input("video").dim(), 5);
      std::vector<torch::Tensor> clips;
      for (std::size_t k = 0; k < b->indices.size(); ++k) {
        clips.push_back(ds->get(b->indices[k], loader_sample_seed(99, epoch, b->indices[k]))
                            .inputs.at("video"));
      }
      EXPECT_TRUE(torch::equal(b->input("video"), torch::stack(clips, 0))) << "epoch " << epoch;
    }
  }
  // 9 batches of up to 2 clips, plus the checks' own clips: the buffers were recycled.
  const BufferPoolStats s = buffer_pool_stats();
  EXPECT_GT(s.hits, 0u);
  EXPECT_LT(s.misses - misses0, 20u);
}

}  // namespace
}  // namespace vc::data
