// Multi-process data-parallel training and evaluation on LibTorch's c10d (docs/distributed.md).
//
// A worker is one process; the standard environment says which (MASTER_ADDR, MASTER_PORT, RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, as torchrun and Slurm wrappers set it). Workers
// rendezvous through c10d's TCPStore and talk through a c10d process group: Gloo on the CPU,
// NCCL on CUDA (compiled only against a CUDA LibTorch: VC_WITH_NCCL). Without WORLD_SIZE (or
// with WORLD_SIZE=1) every function here is the single-process no-op, so the run loops call
// them unconditionally. Generic: nothing here knows a network.
//
// Semantics (spec §1.9, §9.3.6): TRAIN.batch_size is the global batch, split evenly; gradients
// are averaged over the samples of the global batch (a mean of the workers' mean losses weighted
// by their sample counts, so a short or empty last slice changes nothing); parameters and buffers
// are broadcast from rank 0 at start (after --resume / --pretrain); BN statistics are per worker;
// the LR schedule counts global steps. Evaluation: each worker runs a contiguous block of the
// list, the per-sample results are gathered to rank 0, which regroups them into the batches of a
// single process and computes the metrics there.
//
// The c10d headers stay in distributed.cpp (and distributed_comm.h): this header is light.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "datareader/loader.h"
#include "tools/common/cli.h"

namespace torch::nn {
class Module;
}

namespace vc::app::dist {

/// A collective failed or timed out (a worker died or hangs), or the rendezvous did not complete.
class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The launch environment of this process. world_size 1 = single process.
struct WorldEnv {
  int64_t rank = 0;
  int64_t world_size = 1;
  bool world_set = false;  ///< WORLD_SIZE is in the environment
  int64_t local_rank = 0;
  int64_t local_world_size = 1;
  std::string master_addr;
  int port = 0;
  /// torchrun's agent hosts the TCPStore (TORCHELASTIC_USE_AGENT_STORE=True): every worker
  /// connects as a client under the prefix /worker/attempt_<TORCHELASTIC_RESTART_COUNT>.
  bool agent_store = false;
  std::string restart_count = "0";
};

/// Reads the environment. WORLD_SIZE unset = single process. Throws ConfigError naming the
/// variable and value for a non-integer or out-of-range one (RANK outside [0, WORLD_SIZE)), or
/// a missing MASTER_ADDR / MASTER_PORT / RANK when WORLD_SIZE > 1.
WorldEnv read_env();

/// Joins the process group when the environment says WORLD_SIZE > 1 (or WORLD_SIZE=1 with an
/// explicit --dist-backend: a one-worker group, the smoke run of a backend) and returns the device
/// of this worker (cuda -> cuda:LOCAL_RANK). Backend: opts.dist_backend ("auto" = nccl for CUDA,
/// gloo for the CPU); collective and rendezvous timeout opts.dist_timeout_s. Throws DistError
/// naming MASTER_ADDR:MASTER_PORT when the rendezvous does not complete in time, ConfigError for
/// an impossible backend (nccl without CUDA / this build).
torch::Device init(const CliOptions& opts, torch::Device device);

bool active();  ///< a process group of more than one worker is up
int64_t rank();
int64_t world_size();
bool is_main();          ///< rank 0 (also true for a single process)
std::string describe();  ///< "rank 1 of 2 (gloo, 127.0.0.1:29500)" or "single process"

/// Waits for every worker (no-op for a single process). `what` names the place in errors.
void barrier(const std::string& what);

/// Ends the run: `code` 0 and active -> the process group is destroyed cleanly; an error code
/// while active -> stdout/stderr flushed and the process exits at once with `code` (a
/// process group with a collective in flight would wait for its timeout in its destructor).
int finish(int code);

/// The per-worker batch of a global batch: global / world_size. ConfigError naming `key` and
/// both numbers when it does not divide evenly.
int64_t local_batch(int64_t global, const std::string& key);

/// Training loader of this worker: batch_size becomes local_batch(batch_size, key) and the
/// shard the worker's slice of every global batch (data::Shard::kBatchSlices). No-op alone.
void shard_train(data::LoaderOptions& lo, const std::string& key);
/// Evaluation loader of this worker: a contiguous block of the list (data::Shard::kBlocks),
/// batch_size unchanged. No-op alone.
void shard_eval(data::LoaderOptions& lo);

/// Copies every parameter and buffer of `module` from rank 0 to the other workers.
void broadcast_module(torch::nn::Module& module);

/// Gathers one byte string per worker to rank 0: rank 0 gets them in rank order, the others an
/// empty vector. Alone: {mine}. `what` names the collective in errors.
std::vector<std::string> gather_bytes(const std::string& mine, const std::string& what);

/// The gradient averaging of one training step, after backward and before the optimizer step.
class GradientSync {
 public:
  /// `params`: the trainable parameters, in the same order on every worker. Buckets of at most
  /// `bucket_bytes` are all-reduced concurrently. `loss_sums_batch`: the task's loss is a sum
  /// over the batch (Task::loss_sums_batch), so gradients and losses are summed, not averaged.
  explicit GradientSync(std::vector<torch::Tensor> params, bool loss_sums_batch = false,
                        int64_t bucket_bytes = 25 << 20);

  struct Step {
    int64_t samples = 0;  ///< in the global batch (0: every worker's slice was empty)
    double loss = 0.0;    ///< the global batch's mean loss (its sum with loss_sums_batch)
    bool stop = false;    ///< some worker asked to stop (SIGINT): all stop at this step
  };
  /// Alone: {local_samples, local_loss, stop}, gradients untouched. Distributed: every
  /// parameter's gradient becomes sum_r(n_r * g_r) / sum_r(n_r) (g_r the worker's gradient of
  /// its mean loss over n_r samples; an empty slice contributes nothing), identical on every
  /// worker; a gradient undefined on every worker stays undefined. Call it on every worker every
  /// step, with local_samples 0 when the worker had no batch. With loss_sums_batch the
  /// gradient becomes sum_r g_r (each g_r the gradient of the worker's summed loss).
  Step all_reduce(int64_t local_samples, double local_loss, bool stop);

  /// Seconds spent in all_reduce since the last call (and resets the count).
  double take_seconds();

 private:
  std::vector<torch::Tensor> params_;
  bool loss_sums_batch_ = false;
  std::vector<std::vector<std::size_t>> buckets_;  // parameter indices
  double seconds_ = 0.0;
};

/// --nproc-per-node N > 1 and no RANK in the environment: runs N workers of this program
/// (/proc/self/exe with the same argv and MASTER_ADDR=127.0.0.1, a free MASTER_PORT unless set,
/// RANK = LOCAL_RANK = i, WORLD_SIZE = LOCAL_WORLD_SIZE = N), waits for them and returns the exit
/// code: 0 when all succeed; when one fails (non-zero exit or a signal), the others are stopped
/// (SIGTERM, SIGKILL after 10 s) and its code returned. SIGINT / SIGTERM to the launcher are
/// passed on. nullopt: this process is a worker (or N <= 1), carry on.
std::optional<int> launch_local_workers(int64_t nproc, int argc, char** argv);

}  // namespace vc::app::dist
