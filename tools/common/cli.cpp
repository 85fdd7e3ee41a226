#include "tools/common/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>

#include "tools/common/errors.h"
#include "tools/common/registry.h"

namespace vc::app {
namespace {

constexpr unsigned kTrainBit = 1, kTestBit = 2, kInferBit = 4, kAll = 7;

unsigned bit(Tool t) {
  return t == Tool::kTrain ? kTrainBit : t == Tool::kTest ? kTestBit : kInferBit;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

bool parse_bool_text(const std::string& v, bool* out) {
  const std::string u = upper(v);
  if (u == "1" || u == "TRUE" || u == "YES" || u == "ON") return *out = true, true;
  if (u == "0" || u == "FALSE" || u == "NO" || u == "OFF") return *out = false, true;
  return false;
}

// The option table: each row = flags, help, tools, and how it is added to the CLI11 app.
struct OptionRow {
  const char* flags;
  const char* help;
  unsigned tools;
  std::function<CLI::Option*(CLI::App&, const char*, const char*, CliOptions&)> add;
};

template <typename T>
OptionRow value_row(const char* flags, const char* help, unsigned tools, T CliOptions::*m) {
  return {flags, help, tools, [m](CLI::App& app, const char* f, const char* h, CliOptions& o) {
            return app.add_option(f, o.*m, h);
          }};
}

std::vector<OptionRow> option_table() {
  std::vector<OptionRow> rows = {
      value_row("--model-name,--model_name",
                "network id, case-insensitive (must agree with MODEL.name)", kAll,
                &CliOptions::model_name),
      value_row("--config", "YAML config file (configs/<model>.yaml)", kAll, &CliOptions::config),
      value_row("--set", "override a config key: --set SECTION.key=value (repeatable)", kAll,
                &CliOptions::sets),
      value_row("--batch-size,--batch_size",
                "batch size (train: TRAIN and VALID; test: TEST; infer: INFER)", kAll,
                &CliOptions::batch_size),
      value_row("--learning-rate,--learning_rate", "TRAIN.learning_rate", kTrainBit,
                &CliOptions::learning_rate),
      value_row("--epoch", "epochs to train (default: TRAIN.epoch of the config)", kTrainBit,
                &CliOptions::epoch),
      value_row("--pretrain",
                "ImageNet ResNet state dict (file written by torch.save(model.state_dict()))",
                kTrainBit, &CliOptions::pretrain),
      value_row("--resume", "checkpoint to resume from (model, optimizer, LR position, epoch, RNG)",
                kTrainBit, &CliOptions::resume),
      value_row("--weights", "checkpoint or state dict to evaluate", kTestBit | kInferBit,
                &CliOptions::weights),
      value_row("--filelist",
                "list of videos, one `<path> [label]` per line (overrides INFER.filelist)",
                kInferBit, &CliOptions::filelist),
      value_row("--infer-topk,--infer_topk", "classes kept per video", kInferBit,
                &CliOptions::infer_topk),
      value_row("--save-dir,--save_dir", "output folder (train: checkpoints; test/infer: results)",
                kAll, &CliOptions::save_dir),
      value_row("--log-interval,--log_interval", "log every N iterations", kTrainBit | kTestBit,
                &CliOptions::log_interval),
      value_row("--valid-interval,--valid_interval", "validate every N epochs (0 = never)",
                kTrainBit, &CliOptions::valid_interval),
      value_row("--device", "cpu, cuda or cuda:K", kAll, &CliOptions::device),
      value_row("--seed", "random seed (data order, augmentation, init, dropout)", kAll,
                &CliOptions::seed),
      value_row("--threads",
                "intra-op CPU threads, LibTorch's team and OpenBLAS's pool alike (0 = all "
                "cores, shared among the workers of a node)",
                kAll, &CliOptions::threads),
      value_row("--nproc-per-node,--nproc_per_node",
                "run N data-parallel worker processes on this machine (docs/distributed.md; "
                "ignored under torchrun, which sets RANK)",
                kAll, &CliOptions::nproc_per_node),
      value_row("--dist-backend,--dist_backend",
                "collectives of data-parallel workers: auto (nccl on CUDA, gloo on the CPU), "
                "gloo or nccl",
                kAll, &CliOptions::dist_backend),
      value_row("--dist-timeout,--dist_timeout",
                "seconds a data-parallel worker waits for the rendezvous or a collective before "
                "it fails (a worker died or hangs)",
                kAll, &CliOptions::dist_timeout_s),
  };
  rows.push_back({"--use_gpu,--use-gpu",
                  "original flag: true selects --device=cuda, false --device=cpu", kAll,
                  [](CLI::App& app, const char* f, const char* h, CliOptions& o) {
                    return app
                        .add_option_function<std::string>(
                            f,
                            [&o](const std::string& v) {
                              bool on = true;
                              if (!v.empty() && !parse_bool_text(v, &on)) {
                                throw CLI::ValidationError(
                                    "--use_gpu", "expected true or false, got '" + v + "'");
                              }
                              o.device = on ? "cuda" : "cpu";
                            },
                            h)
                        ->expected(0, 1)
                        ->default_str("true");
                  }});
  return rows;
}

}  // namespace

const char* tool_name(Tool tool) {
  return tool == Tool::kTrain ? "train" : tool == Tool::kTest ? "test" : "infer";
}

std::optional<CliOptions> parse_cli(Tool tool, int argc, char** argv, int* exit_code) {
  CliOptions opts;
  opts.tool = tool;
  opts.log_interval = tool == Tool::kTrain ? 10 : 1;
  opts.save_dir = tool == Tool::kTrain ? "checkpoints" : "output";
  CLI::App app{std::string("videocls ") + tool_name(tool) +
               " — see README.md; config precedence: defaults < YAML < --set < flags"};
  // A flag given twice: the later one wins (scripts pass defaults, users append overrides).
  app.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  for (const auto& row : option_table()) {
    if (!(row.tools & bit(tool))) continue;
    CLI::Option* o = row.add(app, row.flags, row.help, opts);
    if (std::string(row.flags) == "--set") o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e);
    if (*exit_code == 0) return std::nullopt;  // --help
    if (*exit_code < 2) *exit_code = 2;
    return std::nullopt;
  }
  if (opts.model_name.empty()) {
    std::cerr << "error: --model-name is required (known: " << default_registry().known_names()
              << ")\n";
    *exit_code = 2;
    return std::nullopt;
  }
  if (opts.config.empty()) {
    std::cerr << "error: --config is required (e.g. configs/tsn.yaml)\n";
    *exit_code = 2;
    return std::nullopt;
  }
  return opts;
}

std::vector<TypedOverride> flag_overrides(const CliOptions& o) {
  std::vector<TypedOverride> out;
  if (o.batch_size) {
    if (o.tool == Tool::kTrain) {
      out.push_back({"TRAIN", "batch_size", *o.batch_size, "--batch-size"});
      out.push_back({"VALID", "batch_size", *o.batch_size, "--batch-size"});
    } else {
      out.push_back(
          {o.tool == Tool::kTest ? "TEST" : "INFER", "batch_size", *o.batch_size, "--batch-size"});
    }
  }
  if (o.learning_rate)
    out.push_back({"TRAIN", "learning_rate", *o.learning_rate, "--learning-rate"});
  if (o.epoch) out.push_back({"TRAIN", "epoch", *o.epoch, "--epoch"});
  if (!o.filelist.empty()) out.push_back({"INFER", "filelist", o.filelist, "--filelist"});
  return out;
}

Config resolve_config(const CliOptions& opts) { return resolve_config(opts, default_registry()); }

Config resolve_config(const CliOptions& opts, const Registry& registry) {
  if (!std::filesystem::is_regular_file(opts.config)) {
    throw IoError("config file not found: '" + opts.config + "'");
  }
  const ModelEntry& entry = registry.find(opts.model_name);  // unknown name -> lists known ones
  Config cfg =
      load_config(opts.config, opts.sets, flag_overrides(opts), registry.schema(), entry.id);
  if (upper(cfg.model.s("name")) != upper(entry.id)) {
    throw ConfigError("--model-name=" + opts.model_name + " does not agree with MODEL.name '" +
                      cfg.model.s("name") + "' in " + opts.config);
  }
  if (opts.log_interval < 1)
    throw ConfigError("--log-interval must be >= 1, got " + std::to_string(opts.log_interval));
  if (opts.valid_interval < 0)
    throw ConfigError("--valid-interval must be >= 0, got " + std::to_string(opts.valid_interval));
  if (opts.infer_topk < 1)
    throw ConfigError("--infer-topk must be >= 1, got " + std::to_string(opts.infer_topk));
  if (opts.threads < 0)
    throw ConfigError("--threads must be >= 0, got " + std::to_string(opts.threads));
  if (opts.nproc_per_node < 1)
    throw ConfigError("--nproc-per-node must be >= 1, got " + std::to_string(opts.nproc_per_node));
  if (!(opts.dist_timeout_s > 0))
    throw ConfigError("--dist-timeout must be > 0 seconds, got " +
                      std::to_string(opts.dist_timeout_s));
  if (opts.dist_backend != "auto" && opts.dist_backend != "gloo" && opts.dist_backend != "nccl")
    throw ConfigError("--dist-backend: expected auto, gloo or nccl, got '" + opts.dist_backend +
                      "'");
  return cfg;
}

}  // namespace vc::app
