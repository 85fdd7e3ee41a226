// What the three run loops share: threads / seed / device, folders, datasets and loaders from a
// registry row, skip reports, weights, and the SIGINT flag.
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "datareader/loader.h"
#include "models/video_model.h"
#include "tools/common/cli.h"
#include "tools/common/config.h"
#include "tools/common/registry.h"

namespace vc::app {

/// Sets intra-op threads (all cores unless --threads), the torch seed and returns the device
/// (ConfigError for an unknown or unavailable one).
torch::Device setup_runtime(const CliOptions& opts);

/// Creates `dir` and its parents; IoError naming it on failure.
void make_dir(const std::string& dir);

/// The mode's filelist, checked to exist (ConfigError / IoError naming the key and path).
std::string require_list(const SectionConfig& s, Mode mode);

/// The row's dataset for `mode`; logs the list lines it skipped.
std::shared_ptr<const data::Dataset> build_dataset(const ModelEntry& entry, const Config& cfg,
                                                   Mode mode);

/// Loader options of a mode's section (batch_size, num_reader_threads, buf_size). Among
/// data-parallel workers (dist::active()) the shuffled (training) loader reads this worker's
/// slice of every global batch (dist::shard_train: batch_size / workers), the others a
/// contiguous block of the list (dist::shard_eval).
data::LoaderOptions loader_options(const SectionConfig& s, bool shuffle, uint64_t seed);

/// Logs "<what>: skipped N sample(s) (reason: count, ...)" when the epoch skipped any.
void log_skips(const data::Loader& loader, const std::string& what);

/// --weights, read before the model is built so that the settings a foreign weight family
/// implies can shape it (ModelEntry::weight_families).
struct WeightsFile {
  std::string path;
  /// The original's Paddle weights (a Fluid per-variable directory or .pdparams): read by
  /// load_weights through the row's "paddle" name map.
  bool paddle = false;
  /// A torch.save state dict (or a checkpoint nesting one), in file order; empty when paddle.
  StateDict tensors;
  /// The row's foreign family these keys were recognised as; null = our own names.
  const WeightFamily* family = nullptr;
};

/// Reads `path` (ConfigError when empty, IoError when missing) and recognises the row's weight
/// families by the keys; logs the family found.
WeightsFile read_weights(const ModelEntry& entry, const std::string& path);

/// The config of a run on `weights`: `cfg` when no family was recognised or it implies no
/// settings; otherwise `opts` resolved again with the family's settings between the YAML and
/// the user's --set (precedence: defaults < YAML < the weights' family < --set < flags), and
/// the settings logged (a --set of the same key wins, with a warning).
Config config_for_weights(const CliOptions& opts, const Registry& registry,
                          const WeightsFile& weights, Config cfg);

/// Loads weights read by read_weights into the model: a foreign family's tensors through its
/// name map (a name it does not map is an error listing them), else as load_weights(path).
void load_weights(models::VideoModelImpl& model, const ModelEntry& entry, const Config& cfg,
                  const WeightsFile& weights);

/// Loads `path` into the model: a videocls checkpoint, a state dict written by torch.save, or
/// the original's Paddle weights (a Fluid per-variable directory or a .pdparams file, renamed by
/// the row's "paddle" name map; optimizer state in them is ignored, any other variable that
/// does not map is an error naming it), or a foreign family of the row (see WeightsFile; the
/// family's settings are NOT applied here: the model is built already). Throws ConfigError /
/// IoError / StateDictError naming the file and what does not fit.
void load_weights(models::VideoModelImpl& model, const ModelEntry& entry, const Config& cfg,
                  const std::string& path);

/// The model test / infer run: wrapped in the fast inference path (models/common/inference.h)
/// when the mode's section has fast_inference: true (the default), else `model` itself. Logs
/// with `tag` which path runs. Call after loading the weights.
models::VideoModelPtr inference_model(models::VideoModelPtr model, const SectionConfig& s,
                                      const std::string& tag);

/// SIGINT handling of train: the first Ctrl-C sets a flag the loop polls, a second kills.
void install_sigint_handler();
void restore_sigint_handler();
bool stop_requested();

}  // namespace vc::app
