#include "tools/common/runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

#include "models/common/blas_threads.h"
#include "models/common/inference.h"
#include "tools/common/checkpoint.h"
#include "tools/common/distributed.h"
#include "tools/common/errors.h"
#include "tools/common/logging.h"
#include "tools/common/state_dict.h"
#include "tools/common/weights/name_map.h"
#include "tools/common/weights/paddle.h"

namespace vc::app {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

}  // namespace

torch::Device setup_runtime(const CliOptions& opts) {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  // Data-parallel workers of one node share its cores.
  const auto per_worker = std::max<int64_t>(1, hw / dist::read_env().local_world_size);
  const int threads =
      opts.threads > 0 ? static_cast<int>(opts.threads) : static_cast<int>(per_worker);
  torch::set_num_threads(threads);
  const bool blas_sized = models::set_blas_threads(threads);  // OpenBLAS's own pool likewise
  torch::manual_seed(opts.seed);
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(opts.device);
  } catch (const std::exception&) {
    throw ConfigError("--device: expected cpu, cuda or cuda:K, got '" + opts.device + "'");
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw ConfigError("--device=" + opts.device +
                      ": CUDA is not available (this LibTorch build or machine has no GPU); "
                      "use --device=cpu or --use_gpu=false");
  }
  device = dist::init(opts, device);  // no-op without WORLD_SIZE > 1
  log_info(fmt::format("runtime: device {}, {} intra-op threads{}, seed {}", device.str(), threads,
                       blas_sized ? " (OpenBLAS's pool too)" : "", opts.seed));
  return device;
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create folder '" + dir + "': " + ec.message());
}

std::string require_list(const SectionConfig& s, Mode mode) {
  const std::string& list = s.s("filelist");
  if (list.empty()) {
    throw ConfigError(
        fmt::format("{0}.filelist is empty: set it in the config or with --set {0}.filelist=PATH",
                    mode_name(mode)));
  }
  if (!fs::is_regular_file(list)) {
    throw IoError(fmt::format("{}.filelist: list file not found: '{}'", mode_name(mode), list));
  }
  return list;
}

std::shared_ptr<const data::Dataset> build_dataset(const ModelEntry& entry, const Config& cfg,
                                                   Mode mode) {
  const std::string list = require_list(cfg.section(mode), mode);
  auto ds = entry.make_dataset(cfg, mode, list);
  for (const auto& msg : ds->skipped_lines()) log_warn("skipped list line " + msg);
  if (!ds->skipped_lines().empty()) {
    log_warn(fmt::format("{}: {} list line(s) skipped, {} samples kept", list,
                         ds->skipped_lines().size(), ds->size()));
  }
  if (ds->size() == 0) throw ConfigError(list + ": the list has no usable samples");
  log_info(std::string("[") + mode_name(mode) + "] " + ds->describe());
  return ds;
}

data::LoaderOptions loader_options(const SectionConfig& s, bool shuffle, uint64_t seed) {
  data::LoaderOptions o;
  o.batch_size = s.i("batch_size");
  o.num_threads = static_cast<int>(s.i("num_reader_threads"));
  o.prefetch_batches = static_cast<int>(std::min<int64_t>(s.i("buf_size"), 64));
  o.shuffle = shuffle;
  o.seed = seed;
  o.drop_last = false;
  o.warn = [](const std::string& m) { log_warn("skipped sample: " + m); };
  if (shuffle) {
    dist::shard_train(o, s.section + ".batch_size");  // no-op for a single process
  } else {
    dist::shard_eval(o);
  }
  return o;
}

void log_skips(const data::Loader& loader, const std::string& what) {
  const auto r = loader.epoch_skips();
  if (r.skipped == 0) return;
  std::string reasons;
  for (const auto& [why, n] : r.by_reason) {
    reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : ", ", why, n);
  }
  log_warn(fmt::format("{}: skipped {} sample(s) ({})", what, r.skipped, reasons));
}

namespace {

bool is_paddle_weights(const std::string& path) {
  const bool pdparams = path.size() > 9 && path.compare(path.size() - 9, 9, ".pdparams") == 0;
  return fs::is_directory(path) || pdparams || fs::is_regular_file(path + ".pdparams");
}

// The original's released weights: Paddle names, mapped by the row's "paddle" map.
void load_paddle_weights(models::VideoModelImpl& model, const ModelEntry& entry, const Config& cfg,
                         const std::string& path) {
  auto it = entry.name_maps.find("paddle");
  if (it == entry.name_maps.end()) {
    throw ConfigError("--weights " + path + " holds Paddle weights, but " + entry.id +
                      " has no Paddle name map");
  }
  NameMapReport report;
  const StateDict ours = it->second(cfg).apply(read_paddle_weights(path), path, &report);
  if (!report.unmapped.empty()) {
    std::string names;
    for (const auto& n : report.unmapped) names += "\n  " + n;
    throw StateDictError(fmt::format(
        "{}: {} Paddle variable(s) are not part of {} (num_layers / num_classes / network "
        "right?):{}",
        path, report.unmapped.size(), entry.id, names));
  }
  load_state_dict(model, ours, LoadOptions{}, path);
  log_info(
      fmt::format("loaded Paddle weights from {}: {} variables mapped, {} optimizer/state "
                  "variables ignored",
                  path, report.mapped.size(), report.ignored.size()));
}

}  // namespace

WeightsFile read_weights(const ModelEntry& entry, const std::string& path) {
  if (path.empty()) {
    throw ConfigError("--weights is required (a checkpoint written by train, or a state dict)");
  }
  WeightsFile w;
  w.path = path;
  if (is_paddle_weights(path)) {
    w.paddle = true;
    return w;
  }
  if (!fs::exists(path)) throw IoError("weights not found: '" + path + "'");
  if (!fs::is_regular_file(path)) throw IoError("weights '" + path + "' is not a file");
  w.tensors = read_state_dict(path);
  std::vector<std::string> keys;
  keys.reserve(w.tensors.size());
  for (const auto& kv : w.tensors) keys.push_back(kv.first);
  for (const WeightFamily& f : entry.weight_families) {
    if (f.detect && f.detect(keys)) {
      w.family = &f;
      log_info(fmt::format("weights {}: recognised as {} ({})", path, f.name, f.what));
      break;
    }
  }
  return w;
}

Config config_for_weights(const CliOptions& opts, const Registry& registry,
                          const WeightsFile& weights, Config cfg) {
  if (!weights.family || weights.family->sets.empty()) return cfg;
  const WeightFamily& f = *weights.family;
  CliOptions o = opts;
  o.sets.insert(o.sets.begin(), f.sets.begin(), f.sets.end());
  Config resolved = resolve_config(o, registry);
  std::string applied;
  for (const std::string& set : f.sets) {
    applied += (applied.empty() ? "" : ", ") + set;
    const std::string key = set.substr(0, set.find('=') + 1);  // "MODEL.shift_direction="
    for (const std::string& user : opts.sets) {
      if (user.compare(0, key.size(), key) == 0) {
        log_warn(fmt::format("--set {} overrides {}, which {} weights imply", user, set, f.name));
      }
    }
  }
  log_info(fmt::format("{} weights: config settings {} (after the YAML, before --set)", f.name,
                       applied));
  return resolved;
}

void load_weights(models::VideoModelImpl& model, const ModelEntry& entry, const Config& cfg,
                  const WeightsFile& weights) {
  const std::string& path = weights.path;
  if (weights.paddle) {
    load_paddle_weights(model, entry, cfg, path);
    return;
  }
  if (!weights.family) {
    load_state_dict(model, weights.tensors, LoadOptions{}, path);
    log_info("loaded weights from " + path);
    return;
  }
  const WeightFamily& f = *weights.family;
  NameMapReport report;
  const StateDict ours = f.name_map(cfg).apply(weights.tensors, path, &report);
  if (!report.unmapped.empty()) {
    std::string names;
    for (const auto& n : report.unmapped) names += "\n  " + n;
    throw StateDictError(fmt::format(
        "{}: {} tensor(s) of these {} weights have no place in {} (num_layers / network "
        "right?):{}",
        path, report.unmapped.size(), f.name, entry.id, names));
  }
  load_state_dict(model, ours, LoadOptions{}, path);
  log_info(fmt::format("loaded {} weights from {}: {} tensors mapped, {} ignored", f.name, path,
                       report.mapped.size(), report.ignored.size()));
}

void load_weights(models::VideoModelImpl& model, const ModelEntry& entry, const Config& cfg,
                  const std::string& path) {
  load_weights(model, entry, cfg, read_weights(entry, path));
}

models::VideoModelPtr inference_model(models::VideoModelPtr model, const SectionConfig& s,
                                      const std::string& tag) {
  if (!s.b("fast_inference")) {
    log_info(tag + " eager inference (" + s.section + ".fast_inference: false)");
    return model;
  }
  log_info(tag + " fast inference path (" + s.section +
           ".fast_inference: true; false = eager): traced per input shape, frozen, BN folded" +
           (at::hasMKLDNN() ? ", oneDNN" : ""));
  return models::make_fast_inference(std::move(model), {},
                                     [tag](const std::string& m) { log_info(tag + " " + m); });
}

void install_sigint_handler() {
  g_stop.store(false);
  std::signal(SIGINT, on_sigint);
}

void restore_sigint_handler() { std::signal(SIGINT, SIG_DFL); }

bool stop_requested() { return g_stop.load(); }

}  // namespace vc::app
