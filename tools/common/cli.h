// The one command-line option table shared by train, test and infer.
//
// Every option is declared once (flags incl. the original underscore spelling, help text, the
// tools it applies to). Dedicated flags that set config values become typed overrides applied
// after the YAML and the user's own `--set`s, so the precedence is
// defaults < YAML < --set < flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/common/config.h"

namespace vc::app {

enum class Tool { kTrain, kTest, kInfer };
const char* tool_name(Tool tool);

struct CliOptions {
  Tool tool = Tool::kTrain;
  std::string model_name;
  std::string config;
  std::vector<std::string> sets;  ///< user --set assignments, in order
  std::optional<int64_t> batch_size;
  std::optional<double> learning_rate;
  std::optional<int64_t> epoch;
  std::string pretrain;
  std::string resume;
  std::string weights;
  std::string filelist;
  std::string save_dir;
  int64_t log_interval = 10;
  int64_t valid_interval = 1;
  int64_t infer_topk = 20;
  std::string device = "cpu";
  uint64_t seed = 0;
  int64_t threads = 0;  ///< 0 = all cores (divided by LOCAL_WORLD_SIZE for workers)
  /// Data-parallel workers (docs/distributed.md): >1 spawns that many local workers.
  int64_t nproc_per_node = 1;
  std::string dist_backend = "auto";  ///< auto (nccl for CUDA, gloo for CPU), gloo, nccl
  double dist_timeout_s = 300.0;      ///< rendezvous and collective timeout, seconds
};

/// Parses argv. Returns nullopt when the program should exit with *exit_code (after --help, or
/// a usage error already printed to stderr).
std::optional<CliOptions> parse_cli(Tool tool, int argc, char** argv, int* exit_code);

/// Typed config overrides implied by the dedicated flags (TRAIN.batch_size, INFER.filelist, ...),
/// in order; a path with quotes or backslashes stays as given.
std::vector<TypedOverride> flag_overrides(const CliOptions& opts);

class Registry;
/// Loads --config with the schema of the network, applies --set then the flag overrides, and
/// checks --model-name against MODEL.name. Errors name the file / key / value. The first form
/// uses default_registry().
Config resolve_config(const CliOptions& opts);
Config resolve_config(const CliOptions& opts, const Registry& registry);

}  // namespace vc::app
