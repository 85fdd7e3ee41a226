// data::Shard: the positions a data-parallel worker reads (tools/common/distributed.*).
#include <gtest/gtest.h>

#include "datareader/loader.h"

namespace {

using vc::data::loader_shard_positions;
using vc::data::Shard;

TEST(LoaderShard, BatchSlicesAreEachWorkersPartOfEveryGlobalBatch) {
  // 10 samples, global batch 4 = 2 workers x 2: global batches [0..3] [4..7] [8, 9].
  const Shard s0{0, 2, Shard::Layout::kBatchSlices, 4};
  const Shard s1{1, 2, Shard::Layout::kBatchSlices, 4};
  EXPECT_EQ(loader_shard_positions(10, s0, 2), (std::vector<std::size_t>{0, 1, 4, 5, 8, 9}));
  EXPECT_EQ(loader_shard_positions(10, s1, 2), (std::vector<std::size_t>{2, 3, 6, 7}));
  // 3 workers x 1: every position exactly once.
  std::vector<int> seen(7, 0);
  for (int64_t r = 0; r < 3; ++r) {
    for (auto p : loader_shard_positions(7, Shard{r, 3, Shard::Layout::kBatchSlices, 3}, 1)) {
      ++seen[p];
    }
  }
  EXPECT_EQ(seen, std::vector<int>(7, 1));
}

TEST(LoaderShard, BlocksAreContiguousAndCoverTheListOnce) {
  std::vector<std::size_t> all;
  for (int64_t r = 0; r < 3; ++r) {
    auto p = loader_shard_positions(8, Shard{r, 3, Shard::Layout::kBlocks, 5}, 5);
    all.insert(all.end(), p.begin(), p.end());
  }
  EXPECT_EQ(all, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  // More workers than samples: some blocks are empty, none overlaps.
  EXPECT_TRUE(loader_shard_positions(1, Shard{0, 2, Shard::Layout::kBlocks, 1}, 1).empty());
  EXPECT_EQ(loader_shard_positions(1, Shard{1, 2, Shard::Layout::kBlocks, 1}, 1).size(), 1u);
}

TEST(LoaderShard, InvalidShardsAreErrors) {
  EXPECT_THROW(loader_shard_positions(4, Shard{2, 2, Shard::Layout::kBlocks, 1}, 1),
               vc::data::DataError);
  EXPECT_THROW(loader_shard_positions(4, Shard{0, 2, Shard::Layout::kBatchSlices, 5}, 2),
               vc::data::DataError);
}

}  // namespace
