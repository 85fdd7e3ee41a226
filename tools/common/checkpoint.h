// Training checkpoints: one file that Python's torch.load reads as a plain dict.
//
// Format (see docs/checkpoints.md):
//   {"format": "videocls-checkpoint", "version": 1, "model_name": str,
//    "epoch": int (completed epochs), "step_in_epoch": int (iterations done in the next epoch,
//    > 0 only for a checkpoint written on SIGINT), "global_step": int, "best_top1": float,
//    "seed": int, "config": str (resolved YAML),
//    "model": {name: Tensor} (parameters and buffers, torchvision-style names),
//    "optimizer": {"momentum_buffer": {param name: Tensor}},
//    "rng": {"torch_cpu": uint8 Tensor}}
// Files are written to <path>.tmp and renamed, so a crash never leaves a half-written file.
#pragma once

#include <torch/torch.h>

#include <cstdint>
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
  double best_top1 = -1.0;
  int64_t seed = 0;
  std::string config_yaml;
  NamedTensors model;
  NamedTensors momentum_buffer;
  torch::Tensor torch_rng_state;
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
/// Throws IoError naming the file when it is missing or not a videocls checkpoint.
Checkpoint load_checkpoint(const std::string& path);
/// Copies `from` to `to` atomically (temporary file + rename).
void copy_file_atomic(const std::string& from, const std::string& to);
/// Writes `bytes` to `path` atomically (temporary file + rename).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace vc::app
