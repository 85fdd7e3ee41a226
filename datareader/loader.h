// Threaded, deterministic batch loader over any Dataset (dataset.h); batches are built with
// collate() and the dataset's collate_policy().
//
// Determinism: the epoch's order is f(seed, epoch) (identity unless shuffle) and the sample at
// dataset index i is drawn with seed f(seed, epoch, i); batches are reassembled in order, so the
// same seed gives bit-identical batches in the same order whatever num_threads is.
// Samples whose get() throws DataError are skipped with a warning and the batch is filled from
// the following samples (batches stay full except the last). If every sample of an epoch fails,
// next() throws DataError "all N samples of epoch E failed to load ... (<reason>: <count>, ...);
// first failure: <warning>".
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "datareader/dataset.h"  // Dataset, Sample, Batch, collate, DataError

namespace vc::data {

// Data-parallel sharding: a loader of one worker reads only its part of each epoch's order (the
// order itself, shuffle included, is the same on every worker: f(seed, epoch)). Samples keep
// their dataset-index seeds, so a sample is drawn identically whichever worker reads it.
struct Shard {
  enum class Layout {
    // Training: global batch k = order positions [k*G, (k+1)*G), G = global_batch =
    // count * batch_size; worker `index` reads positions [k*G + index*b, k*G + (index+1)*b) of
    // every global batch (b = batch_size), so its k-th batch is its slice of global batch k.
    kBatchSlices,
    // Evaluation: worker `index` reads the contiguous block [index*N/count, (index+1)*N/count),
    // so the workers' samples in rank order are the epoch's order.
    kBlocks,
  };
  int64_t index = 0;
  int64_t count = 1;  // 1 = no sharding
  Layout layout = Layout::kBlocks;
  // kBatchSlices: the global batch (count * batch_size). kBlocks: the batch of the equivalent
  // single-worker loader (informative: evaluation regroups the gathered samples by it).
  int64_t global_batch = 0;
};

struct LoaderOptions {
  int64_t batch_size = 1;
  int num_threads = 1;  // worker threads; 0 = load in the calling thread inside next()
  // At most this many batches' worth of samples are loaded (or being loaded) ahead of the
  // consumer. Decoded samples held by the loader at any time: at most
  // (prefetch_batches + 1) * batch_size (the ones ahead plus the batch being assembled), plus,
  // right after start_epoch() interrupts an epoch, the <= num_threads stale ones still loading.
  // Values < 1 count as 1. (tests/datareader/bad_input_test.cpp LoaderMemoryBound)
  int prefetch_batches = 2;
  bool shuffle = false;
  uint64_t seed = 0;
  bool drop_last = false;  // drop the final partial batch (the 2019 reader's behaviour)
  // Receives skip warnings "<path> (list line N): <reason>"; default prints to stderr.
  std::function<void(const std::string&)> warn;
  Shard shard;  // count 1 = read the whole epoch
};

struct SkipReport {
  std::size_t skipped = 0;
  std::map<std::string, std::size_t> by_reason;  // SampleError::reason() (else what()) -> count
};

// Seeds used by the loader (exposed for tests and for tools that reproduce one sample).
uint64_t loader_sample_seed(uint64_t seed, int64_t epoch, std::size_t index);
std::vector<std::size_t> loader_epoch_order(std::size_t n, bool shuffle, uint64_t seed,
                                            int64_t epoch);
// The positions of an epoch order of n samples that `shard` reads, in order (all of them when
// shard.count == 1). Throws DataError for an index outside [0, count) or, with kBatchSlices, a
// global_batch that is not count * batch_size.
std::vector<std::size_t> loader_shard_positions(std::size_t n, const Shard& shard,
                                                int64_t batch_size);

class Loader {
 public:
  // Throws DataError when ds is null, batch_size < 1, num_threads < 0, or the shard is invalid
  // (loader_shard_positions).
  Loader(std::shared_ptr<const Dataset> ds, LoaderOptions opts);
  ~Loader();  // joins worker threads
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) an epoch: order = f(seed, epoch); resets the skip report.
  void start_epoch(int64_t epoch);
  // Next batch in order; nullopt at epoch end. The final partial batch is emitted unless
  // drop_last. Calls start_epoch(0) if no epoch was started. Throws DataError if every sample of
  // the epoch failed; rethrows any non-DataError exception raised while loading.
  std::optional<Batch> next();

  const Dataset& dataset() const;

  std::size_t size() const;  // samples in the dataset
  // ceil(size/batch) (floor with drop_last), no skips. Sharded: kBatchSlices = the global
  // batches of the epoch, ceil(size/global_batch) (a worker's last ones may be short or empty);
  // kBlocks = this worker's batches, ceil(block/batch).
  std::size_t batches_per_epoch() const;
  const LoaderOptions& options() const;
  SkipReport epoch_skips() const;  // skips so far in the current epoch
  int64_t epoch() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace vc::data
