// run_test and run_infer (run_train is in train_loop.cpp), and the guarded main of the tools.
#include "tools/common/runner.h"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "tools/common/checkpoint.h"
#include "tools/common/distributed.h"
#include "tools/common/errors.h"
#include "tools/common/evaluation.h"
#include "tools/common/label_map.h"
#include "tools/common/logging.h"
#include "tools/common/malloc_tuning.h"
#include "tools/common/outputs.h"
#include "tools/common/registry.h"
#include "tools/common/runtime.h"

namespace vc::app {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> label_names(const Config& cfg) {
  const std::string& path = cfg.model.s("label_map");
  if (path.empty()) return {};
  return read_label_map(path);
}

}  // namespace

int run_test(const CliOptions& opts) { return run_test(opts, default_registry()); }
int run_infer(const CliOptions& opts) { return run_infer(opts, default_registry()); }

int run_test(const CliOptions& opts, const Registry& registry) {
  Config cfg = resolve_config(opts, registry);
  const ModelEntry& entry = registry.find(cfg.model.s("name"));
  const torch::Device device = setup_runtime(opts);
  require_list(cfg.section(Mode::kTest), Mode::kTest);  // fail on a wrong path before the slow work
  const auto names = label_names(cfg);
  const WeightsFile weights = read_weights(entry, opts.weights);
  cfg = config_for_weights(opts, registry, weights, std::move(cfg));  // before the model
  const SectionConfig& ts = cfg.section(Mode::kTest);
  auto model = entry.make_model(cfg, Mode::kTest);
  load_weights(*model, entry, cfg, weights);
  model->to(device);
  model = inference_model(model, ts, "[TEST]");
  auto ds = build_dataset(entry, cfg, Mode::kTest);
  data::Loader loader(ds, loader_options(ts, false, opts.seed));
  auto meter = entry.task.make_meter(cfg);
  std::vector<EvalRow> rows;
  const ViewOptions view_opts = view_options(ts);
  std::string views = views_summary(ds->view_info(), entry.task, view_opts);
  log_info(fmt::format("[TEST] {} on {}: {} samples, {}", entry.id, ts.s("filelist"), ds->size(),
                       views));
  evaluate(*model, loader, device, entry.task, meter.get(), &rows, entry.task.result_topk,
           opts.log_interval, "TEST", view_opts);
  views = views_done(views, ds->view_info(), rows, entry.task, view_opts, "TEST");
  log_skips(loader, "[TEST]");
  log_info(fmt::format("[TEST] finished: {} ({} of {} samples evaluated, {})", meter->summary(),
                       meter->count(), ds->size(), views));
  if (!dist::is_main()) return 0;  // rank 0 holds the gathered results and writes them

  make_dir(opts.save_dir);
  const bool multi = entry.task.target == data::TargetKind::kMultiHot;
  const std::string results = (fs::path(opts.save_dir) / "test_results.jsonl").string();
  write_results_jsonl(results, rows, multi, names);
  std::string written = results;
  for (const auto& [file, content] : meter->reports(names)) {
    const std::string p = (fs::path(opts.save_dir) / file).string();
    write_file_atomic(p, content);
    written += ", " + p;
  }
  const std::string metrics_path = (fs::path(opts.save_dir) / "test_metrics.json").string();
  write_metrics_json(metrics_path, entry.id, opts.weights, *meter, views);
  log_info("wrote " + written + ", " + metrics_path);
  return 0;
}

int run_infer(const CliOptions& opts, const Registry& registry) {
  Config cfg = resolve_config(opts, registry);
  const ModelEntry& entry = registry.find(cfg.model.s("name"));
  const torch::Device device = setup_runtime(opts);
  require_list(cfg.section(Mode::kInfer), Mode::kInfer);
  const auto names = label_names(cfg);
  const WeightsFile weights = read_weights(entry, opts.weights);
  cfg = config_for_weights(opts, registry, weights, std::move(cfg));  // before the model
  const SectionConfig& is = cfg.section(Mode::kInfer);
  auto model = entry.make_model(cfg, Mode::kInfer);
  load_weights(*model, entry, cfg, weights);
  model->to(device);
  model = inference_model(model, is, "[INFER]");
  auto ds = build_dataset(entry, cfg, Mode::kInfer);
  auto lo = loader_options(is, false, opts.seed);
  std::vector<std::string> failures = ds->skipped_lines();
  lo.warn = [&failures](const std::string& m) {
    log_warn("failed: " + m);
    failures.push_back(m);
  };
  data::Loader loader(ds, lo);
  std::vector<EvalRow> rows;
  const ViewOptions view_opts = view_options(is);
  std::string views = views_summary(ds->view_info(), entry.task, view_opts);
  log_info(fmt::format("[INFER] {} on {}: {} samples, {}", entry.id, is.s("filelist"), ds->size(),
                       views));
  evaluate(*model, loader, device, entry.task, nullptr, &rows, opts.infer_topk, opts.log_interval,
           "INFER", view_opts);
  views = views_done(views, ds->view_info(), rows, entry.task, view_opts, "INFER");
  if (dist::active()) {  // the failures of every worker, at rank 0
    std::string mine;
    for (const auto& f : failures) mine += f + '\n';
    failures.clear();
    for (const auto& part : dist::gather_bytes(mine, "the failed samples")) {
      for (std::size_t a = 0, b; a < part.size(); a = b + 1) {
        b = part.find('\n', a);
        failures.push_back(part.substr(a, b - a));
      }
    }
  }
  if (!dist::is_main()) return 0;

  make_dir(opts.save_dir);
  const std::string out = (fs::path(opts.save_dir) / (entry.id + "_infer.jsonl")).string();
  write_results_jsonl(out, rows, entry.task.target == data::TargetKind::kMultiHot, names, failures);
  std::cout << results_table(rows, names);
  log_info(fmt::format("[INFER] {} sample(s) predicted ({}), {} failed; wrote {}", rows.size(),
                       views, failures.size(), out));
  return 0;
}

int guarded_main(int (*body)(const CliOptions&), Tool tool, int argc, char** argv) {
  const int code = run_guarded([&] {
    set_log_rank(static_cast<long>(dist::read_env().rank));
    int code = 0;
    auto opts = parse_cli(tool, argc, argv, &code);
    if (!opts) return code;
    if (const std::string m = tune_malloc(); !m.empty()) log_info(m);
    // --nproc-per-node N: this process becomes the launcher of N workers.
    if (auto launched = dist::launch_local_workers(opts->nproc_per_node, argc, argv)) {
      return *launched;
    }
    const int rc = body(*opts);
    dist::barrier("end of the run");
    return rc;
  });
  return dist::finish(code);
}

int run_guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    std::cout.flush();
    std::cerr << log_rank_prefix() << "error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << log_rank_prefix() << "error: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace vc::app
