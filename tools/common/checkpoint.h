// Training checkpoints: one file that Python's torch.load reads as a plain dict.
//
// Format version 2 (see docs/checkpoints.md):
//   {"format": "videocls-checkpoint", "version": 2, "model_name": str,
//    "epoch": int (completed epochs), "step_in_epoch": int (iterations done in the next epoch,
//    > 0 only for a checkpoint written on SIGINT), "global_step": int,
//    "best_metric": {"name": str, "value": float} (value -1 before any validation),
//    "seed": int, "config": str (resolved YAML),
//    "model": {name: Tensor} (parameters and buffers, torchvision-style names),
//    "optimizer": {"type": str, "state": {slot: {param name: Tensor}}},
//    "rng": {"torch_cpu": uint8 Tensor}}
// Version 1 files (written before the generic core: "best_top1" and
// "optimizer": {"momentum_buffer": {...}}) load as version 2 with best_metric {"top1", value}
// and the "velocity" slot.
// Files are written to <path>.tmp and renamed, so a crash never leaves a half-written file.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tools/common/state_dict.h"

namespace vc::app {

using NamedTensors = StateDict;

struct Checkpoint {
  std::string model_name;
  int64_t epoch = 0;
  int64_t step_in_epoch = 0;
  int64_t global_step = 0;
  std::string best_metric_name = "";  ///< the task's primary metric, e.g. "top1"
  double best_metric_value = -1.0;    ///< -1 before any validation
  int64_t seed = 0;
  std::string config_yaml;
  NamedTensors model;
  std::string optimizer_type;  ///< "momentum", "adam", "rmsprop" ("" in version 1 files)
  /// slot -> parameter -> tensor (the same shape as OptimizerState of optimizer.h).
  std::map<std::string, NamedTensors> optimizer_state;
  torch::Tensor torch_rng_state;
  int64_t version = 2;  ///< of the file read (writing always writes the current one)
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
/// Throws IoError naming the file when it is missing or not a videocls checkpoint.
Checkpoint load_checkpoint(const std::string& path);
/// Copies `from` to `to` atomically (temporary file + rename).
void copy_file_atomic(const std::string& from, const std::string& to);
/// Writes `bytes` to `path` atomically (temporary file + rename).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace vc::app
