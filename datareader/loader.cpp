#include "datareader/loader.h"

#include "datareader/rng.h"

#include <condition_variable>
#include <exception>
#include <iostream>
#include <mutex>
#include <thread>

#include <torch/torch.h>

namespace vc::data {

uint64_t loader_sample_seed(uint64_t seed, int64_t epoch, std::size_t index) {
  return derive_seed(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index));
}

std::vector<std::size_t> loader_epoch_order(std::size_t n, bool shuffle, uint64_t seed,
                                            int64_t epoch) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  if (shuffle && n > 1) {
    Rng rng(derive_seed(seed ^ 0x53485546464C45ULL /* "SHUFFLE" */, static_cast<uint64_t>(epoch)));
    for (std::size_t i = n - 1; i > 0; --i) {  // Fisher-Yates
      const auto j = static_cast<std::size_t>(rng.randint(0, static_cast<int64_t>(i)));
      std::swap(order[i], order[j]);
    }
  }
  return order;
}

std::vector<std::size_t> loader_shard_positions(std::size_t n, const Shard& shard,
                                                int64_t batch_size) {
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    throw DataError("Loader: shard index " + std::to_string(shard.index) + " of " +
                    std::to_string(shard.count) + " workers is out of range");
  }
  std::vector<std::size_t> pos;
  if (shard.count == 1) {
    pos.resize(n);
    for (std::size_t i = 0; i < n; ++i) pos[i] = i;
    return pos;
  }
  const auto count = static_cast<std::size_t>(shard.count);
  const auto index = static_cast<std::size_t>(shard.index);
  if (shard.layout == Shard::Layout::kBlocks) {
    for (std::size_t p = index * n / count; p < (index + 1) * n / count; ++p) pos.push_back(p);
    return pos;
  }
  if (batch_size < 1 || shard.global_batch != shard.count * batch_size) {
    throw DataError("Loader: a global batch of " + std::to_string(shard.global_batch) + " is not " +
                    std::to_string(shard.count) + " workers x batch " + std::to_string(batch_size));
  }
  const auto g = static_cast<std::size_t>(shard.global_batch);
  const auto b = static_cast<std::size_t>(batch_size);
  for (std::size_t start = 0; start < n; start += g) {
    for (std::size_t p = start + index * b; p < std::min(n, start + (index + 1) * b); ++p) {
      pos.push_back(p);
    }
  }
  return pos;
}

namespace {
struct Result {
  std::optional<Sample> sample;
  std::string message;  // skip warning
  std::string reason;   // counter key
  std::exception_ptr fatal;
};
}  // namespace

struct Loader::State {
  std::shared_ptr<const Dataset> ds;
  LoaderOptions opts;
  std::size_t window = 1;  // samples a worker may run ahead of the consumer

  mutable std::mutex mu;
  std::condition_variable work_cv;   // workers wait for tasks
  std::condition_variable ready_cv;  // consumer waits for results
  bool stop = false;
  bool started = false;
  uint64_t generation = 0;  // bumps each epoch; stale results are dropped
  int64_t epoch = 0;
  std::vector<std::size_t> order;
  std::size_t next_task = 0;    // next position handed to a worker
  std::size_t consume_pos = 0;  // next position the consumer reads
  std::map<std::size_t, Result> results;
  SkipReport skips;
  std::size_t good = 0;
  std::string first_error;
  std::vector<std::thread> workers;

  Result load(std::size_t index, int64_t ep) const {
    Result r;
    std::optional<SampleRef> ref;
    try {
      ref = ds->ref(index);
      r.sample = ds->get(index, loader_sample_seed(opts.seed, ep, index));
    } catch (const SampleError& ex) {
      r.message = ex.what();
      r.reason = ex.reason();
    } catch (const DataError& ex) {
      r.message = (ref ? ref->id + " (list line " + std::to_string(ref->line_no) + "): " : "") +
                  std::string(ex.what());
      r.reason = ex.what();
    } catch (...) {
      r.fatal = std::current_exception();
    }
    return r;
  }

  void worker_loop() {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      work_cv.wait(lk, [&] {
        return stop || (started && next_task < order.size() && next_task < consume_pos + window);
      });
      if (stop) return;
      const std::size_t pos = next_task++;
      const uint64_t gen = generation;
      const std::size_t index = order[pos];
      const int64_t ep = epoch;
      lk.unlock();
      Result r = load(index, ep);
      lk.lock();
      if (gen == generation) {
        results.emplace(pos, std::move(r));
        ready_cv.notify_all();
      }
    }
  }
};

Loader::Loader(std::shared_ptr<const Dataset> ds, LoaderOptions opts) : st_(new State) {
  if (!ds) throw DataError("Loader: null dataset");
  if (opts.batch_size < 1) {
    throw DataError("Loader: batch_size must be >= 1, got " + std::to_string(opts.batch_size));
  }
  if (opts.num_threads < 0) {
    throw DataError("Loader: num_threads must be >= 0, got " + std::to_string(opts.num_threads));
  }
  if (!opts.warn) {
    opts.warn = [](const std::string& m) { std::cerr << "warning: skipping sample " << m << "\n"; };
  }
  loader_shard_positions(0, opts.shard, opts.batch_size);  // validates the shard
  st_->ds = std::move(ds);
  st_->opts = std::move(opts);
  st_->window = static_cast<std::size_t>(std::max(1, st_->opts.prefetch_batches)) *
                static_cast<std::size_t>(st_->opts.batch_size);
  for (int t = 0; t < st_->opts.num_threads; ++t) {
    st_->workers.emplace_back([s = st_.get()] { s->worker_loop(); });
  }
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lk(st_->mu);
    st_->stop = true;
  }
  st_->work_cv.notify_all();
  for (auto& t : st_->workers) t.join();
}

void Loader::start_epoch(int64_t epoch) {
  std::vector<std::size_t> order =
      loader_epoch_order(st_->ds->size(), st_->opts.shuffle, st_->opts.seed, epoch);
  if (st_->opts.shard.count > 1) {
    std::vector<std::size_t> mine;
    for (std::size_t p :
         loader_shard_positions(order.size(), st_->opts.shard, st_->opts.batch_size)) {
      mine.push_back(order[p]);
    }
    order = std::move(mine);
  }
  {
    std::lock_guard<std::mutex> lk(st_->mu);
    ++st_->generation;
    st_->epoch = epoch;
    st_->order = std::move(order);
    st_->next_task = 0;
    st_->consume_pos = 0;
    st_->results.clear();
    st_->skips = SkipReport{};
    st_->good = 0;
    st_->first_error.clear();
    st_->started = true;
  }
  st_->work_cv.notify_all();
}

std::optional<Batch> Loader::next() {
  bool started;
  {
    std::lock_guard<std::mutex> lk(st_->mu);
    started = st_->started;
  }
  if (!started) start_epoch(0);

  State& s = *st_;
  const auto B = static_cast<std::size_t>(s.opts.batch_size);
  std::vector<Sample> samples;
  samples.reserve(B);
  std::unique_lock<std::mutex> lk(s.mu);
  const std::size_t N = s.order.size();
  while (samples.size() < B && s.consume_pos < N) {
    const std::size_t pos = s.consume_pos;
    Result r;
    if (s.workers.empty()) {
      const std::size_t index = s.order[pos];
      const int64_t ep = s.epoch;
      lk.unlock();
      r = s.load(index, ep);
      lk.lock();
    } else {
      s.ready_cv.wait(lk, [&] { return s.results.count(pos) != 0; });
      auto it = s.results.find(pos);
      r = std::move(it->second);
      s.results.erase(it);
    }
    ++s.consume_pos;
    s.work_cv.notify_all();  // the window moved
    if (r.fatal) std::rethrow_exception(r.fatal);
    if (r.sample) {
      ++s.good;
      samples.push_back(std::move(*r.sample));
    } else {
      ++s.skips.skipped;
      ++s.skips.by_reason[r.reason];
      if (s.first_error.empty()) s.first_error = r.message;
      auto warn = s.opts.warn;
      lk.unlock();
      warn(r.message);
      lk.lock();
    }
  }
  if (s.consume_pos >= N && s.good == 0 && N > 0) {
    std::string reasons;
    for (const auto& [why, n] : s.skips.by_reason) {
      reasons += (reasons.empty() ? "" : ", ") + why + ": " + std::to_string(n);
    }
    throw DataError("all " + std::to_string(N) + " samples of epoch " + std::to_string(s.epoch) +
                    " failed to load, nothing to train or evaluate on (" + reasons +
                    "); first failure: " + s.first_error);
  }
  lk.unlock();
  if (samples.empty() || (s.opts.drop_last && samples.size() < B)) return std::nullopt;

  return collate(std::move(samples), s.ds->collate_policy());
}

const Dataset& Loader::dataset() const { return *st_->ds; }

const LoaderOptions& Loader::options() const { return st_->opts; }

std::size_t Loader::size() const { return st_->ds->size(); }

std::size_t Loader::batches_per_epoch() const {
  const Shard& shard = st_->opts.shard;
  std::size_t n = st_->ds->size();
  auto b = static_cast<std::size_t>(st_->opts.batch_size);
  if (shard.count > 1 && shard.layout == Shard::Layout::kBatchSlices) {
    b = static_cast<std::size_t>(shard.global_batch);
  } else if (shard.count > 1) {
    n = loader_shard_positions(n, shard, st_->opts.batch_size).size();
  }
  return st_->opts.drop_last ? n / b : (n + b - 1) / b;
}

SkipReport Loader::epoch_skips() const {
  std::lock_guard<std::mutex> lk(st_->mu);
  return st_->skips;
}

int64_t Loader::epoch() const {
  std::lock_guard<std::mutex> lk(st_->mu);
  return st_->epoch;
}

}  // namespace vc::data
