#include "tools/common/runner.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "datareader/kinetics_reader.h"
#include "datareader/loader.h"
#include "metrics/classification.h"
#include "tools/common/checkpoint.h"
#include "tools/common/errors.h"
#include "tools/common/label_map.h"
#include "tools/common/logging.h"
#include "tools/common/optimizer.h"
#include "tools/common/registry.h"
#include "tools/common/state_dict.h"

namespace vc::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// Threads, seed and device, shared by the three tools.
torch::Device setup_runtime(const CliOptions& opts) {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const int threads = opts.threads > 0 ? static_cast<int>(opts.threads) : static_cast<int>(hw);
  torch::set_num_threads(threads);
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
  log_info(fmt("runtime: device %s, %d intra-op threads, seed %llu", device.str().c_str(), threads,
               static_cast<unsigned long long>(opts.seed)));
  return device;
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create folder '" + dir + "': " + ec.message());
}

std::string require_list(const SectionConfig& s, Mode mode) {
  if (s.filelist.empty()) {
    throw ConfigError(std::string(mode_name(mode)) +
                      ".filelist is empty: set it in the config or "
                      "with --set " +
                      mode_name(mode) + ".filelist=PATH");
  }
  if (!fs::is_regular_file(s.filelist)) {
    throw IoError(std::string(mode_name(mode)) + ".filelist: list file not found: '" + s.filelist +
                  "'");
  }
  return s.filelist;
}

std::shared_ptr<const data::Dataset> build_dataset(const ModelEntry& entry, const Config& cfg,
                                                   Mode mode) {
  const std::string list = require_list(cfg.section(mode), mode);
  auto ds = entry.make_dataset(cfg, mode, list);
  if (auto k = std::dynamic_pointer_cast<const data::KineticsDataset>(ds)) {
    for (const auto& msg : k->skipped_lines()) log_warn("skipped list line " + msg);
    if (!k->skipped_lines().empty()) {
      log_warn(fmt("%s: %zu list line(s) skipped, %zu samples kept", list.c_str(),
                   k->skipped_lines().size(), ds->size()));
    }
  }
  if (ds->size() == 0) throw ConfigError(list + ": the list has no usable samples");
  return ds;
}

data::LoaderOptions loader_options(const SectionConfig& s, bool shuffle, uint64_t seed) {
  data::LoaderOptions o;
  o.batch_size = s.batch_size;
  o.num_threads = static_cast<int>(s.num_reader_threads);
  o.prefetch_batches = static_cast<int>(std::min<int64_t>(s.buf_size, 64));
  o.shuffle = shuffle;
  o.seed = seed;
  o.drop_last = false;
  o.warn = [](const std::string& m) { log_warn("skipped sample: " + m); };
  return o;
}

void log_skips(const data::Loader& loader, const std::string& what) {
  const auto r = loader.epoch_skips();
  if (r.skipped == 0) return;
  std::string reasons;
  for (const auto& [why, n] : r.by_reason)
    reasons += fmt("%s%s: %zu", reasons.empty() ? "" : ", ", why.c_str(), n);
  log_warn(fmt("%s: skipped %zu sample(s) (%s)", what.c_str(), r.skipped, reasons.c_str()));
}

void load_weights(models::VideoModelImpl& model, const std::string& path) {
  if (path.empty()) throw ConfigError("--weights is required (a checkpoint written by train)");
  if (!fs::is_regular_file(path)) throw IoError("weights file not found: '" + path + "'");
  load_state_dict(model, read_state_dict(path), LoadOptions{}, path);
  log_info("loaded weights from " + path);
}

struct EvalRow {
  std::string id;
  std::size_t line_no;
  int64_t label;
  std::vector<int64_t> classes;
  std::vector<float> scores;
};

// Runs the model over every sample of `loader`; accumulates metrics (when labels are present)
// and, if `rows` is given, the top-k of each video.
void evaluate(models::VideoModelImpl& model, data::Loader& loader, torch::Device device,
              metrics::ClassificationMeter* meter, std::vector<EvalRow>* rows, int64_t topk,
              int64_t log_interval, const std::string& tag) {
  torch::NoGradGuard no_grad;
  model.eval();
  loader.start_epoch(0);
  const std::size_t nb = loader.batches_per_epoch();
  std::size_t it = 0;
  auto t0 = Clock::now();
  while (auto batch = loader.next()) {
    auto x = batch->data.to(device);
    auto logits = model.forward(x);  // [N, C]
    auto probs = torch::softmax(logits, /*dim=*/1).to(torch::kCPU);
    if (meter) {
      auto labels = batch->labels.to(device);
      const double loss = torch::nn::functional::cross_entropy(logits, labels).item<double>();
      meter->update(logits.to(torch::kCPU), batch->labels, loss);
      if (it % log_interval == 0) {
        metrics::ClassificationMeter bm(meter->num_classes());
        bm.update(logits.to(torch::kCPU), batch->labels, loss);
        log_info(fmt("[%s] batch %zu/%zu loss %.6f top1 %.2f top5 %.2f", tag.c_str(), it + 1, nb,
                     loss, bm.top1(), bm.top5()));
      }
    }
    if (rows) {
      const int64_t k = std::min<int64_t>(topk, probs.size(1));
      auto [vals, idx] = probs.topk(k, /*dim=*/1);  // [N, k]
      for (int64_t i = 0; i < probs.size(0); ++i) {
        EvalRow r{batch->paths[i], batch->line_nos[i], batch->labels[i].item<int64_t>(), {}, {}};
        for (int64_t j = 0; j < k; ++j) {
          r.classes.push_back(idx[i][j].item<int64_t>());
          r.scores.push_back(vals[i][j].item<float>());
        }
        rows->push_back(std::move(r));
      }
    }
    ++it;
    progress(fmt("[%s] %zu/%zu batches, %s", tag.c_str(), it, nb,
                 format_duration(seconds_since(t0)).c_str()));
  }
  progress_done();
}

std::vector<std::string> label_names(const Config& cfg) {
  if (cfg.model.label_map.empty()) return {};
  return read_label_map(cfg.model.label_map);
}

std::string topk_json(const EvalRow& r, const std::vector<std::string>& names) {
  std::string s = "[";
  for (std::size_t j = 0; j < r.classes.size(); ++j) {
    s += fmt("%s{\"class\": %lld, \"name\": \"%s\", \"score\": %.6f}", j ? ", " : "",
             static_cast<long long>(r.classes[j]),
             json_escape(class_name(names, r.classes[j])).c_str(), r.scores[j]);
  }
  return s + "]";
}

Checkpoint make_checkpoint(const ModelEntry& entry, const CliOptions& opts, const Config& cfg,
                           const models::VideoModelImpl& model, const MomentumSgd& opt,
                           int64_t epoch, int64_t step_in_epoch, int64_t global_step, double best) {
  Checkpoint c;
  c.model_name = entry.id;
  c.epoch = epoch;
  c.step_in_epoch = step_in_epoch;
  c.global_step = global_step;
  c.best_top1 = best;
  c.seed = static_cast<int64_t>(opts.seed);
  c.config_yaml = config_to_yaml(cfg);
  c.model = module_state_dict(model);
  c.momentum_buffer = opt.state();
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    c.torch_rng_state = gen.get_state();
  }
  return c;
}

}  // namespace

int run_train(const CliOptions& opts) {
  const Config cfg = resolve_config(opts);
  const ModelEntry& entry = find_model(cfg.model.name);
  make_dir(opts.save_dir);
  log_to_file((fs::path(opts.save_dir) / "train.log").string());
  log_info("videocls train " + entry.id + ", config " + opts.config + "\n" + config_to_yaml(cfg));
  const torch::Device device = setup_runtime(opts);
  const SectionConfig& tr = cfg.section(Mode::kTrain);

  auto model = entry.make_model(cfg, Mode::kTrain);
  Checkpoint resume;
  if (!opts.resume.empty()) {
    resume = load_checkpoint(opts.resume);
    if (resume.model_name != entry.id) {
      throw ConfigError("--resume " + opts.resume + " holds a " + resume.model_name +
                        " model, not " + entry.id);
    }
    load_state_dict(*model, resume.model, LoadOptions{}, opts.resume);
    log_info(fmt("resuming from %s: %lld epoch(s) done, step %lld of the next, global step %lld",
                 opts.resume.c_str(), static_cast<long long>(resume.epoch),
                 static_cast<long long>(resume.step_in_epoch),
                 static_cast<long long>(resume.global_step)));
  } else if (!opts.pretrain.empty()) {
    if (!fs::is_regular_file(opts.pretrain))
      throw IoError("--pretrain file not found: '" + opts.pretrain + "'");
    entry.load_pretrain(*model, opts.pretrain);
    log_info("loaded pretrained weights from " + opts.pretrain);
  }
  model->to(device);

  auto train_ds = build_dataset(entry, cfg, Mode::kTrain);
  data::Loader train_loader(train_ds, loader_options(tr, /*shuffle=*/true, opts.seed));
  std::shared_ptr<const data::Dataset> valid_ds;
  std::unique_ptr<data::Loader> valid_loader;
  if (opts.valid_interval > 0 && !cfg.section(Mode::kValid).filelist.empty()) {
    valid_ds = build_dataset(entry, cfg, Mode::kValid);
    valid_loader = std::make_unique<data::Loader>(
        valid_ds, loader_options(cfg.section(Mode::kValid), false, opts.seed));
  }

  const LrSchedule schedule = make_lr_schedule(tr, static_cast<int64_t>(train_ds->size()));
  std::string bd;
  for (auto b : schedule.boundaries) bd += (bd.empty() ? "" : ", ") + std::to_string(b);
  log_info(fmt("LR schedule: base %g, boundaries [%s] (iterations), decay %g, warmup %lld iters",
               tr.learning_rate, bd.c_str(), tr.learning_rate_decay,
               static_cast<long long>(schedule.warmup_steps)));

  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& p : model->named_parameters()) params.emplace_back(p.key(), p.value());
  MomentumSgd optimizer(params, tr.momentum, tr.l2_weight_decay);

  int64_t start_epoch = 0, skip_steps = 0, global_step = 0;
  double best = -1.0;
  if (!opts.resume.empty()) {
    start_epoch = resume.epoch;
    skip_steps = resume.step_in_epoch;
    global_step = resume.global_step;
    best = resume.best_top1;
    optimizer.load_state(resume.momentum_buffer, opts.resume);
    if (resume.torch_rng_state.defined()) {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(resume.torch_rng_state);
    }
  }

  const int64_t epochs = tr.epoch;
  const std::size_t nb = train_loader.batches_per_epoch();
  log_info(fmt("training %s for %lld epoch(s): %zu videos, %zu batches of %lld per epoch",
               entry.id.c_str(), static_cast<long long>(epochs), train_ds->size(), nb,
               static_cast<long long>(tr.batch_size)));
  g_stop.store(false);
  std::signal(SIGINT, on_sigint);
  const int64_t num_classes = cfg.model.num_classes;
  double ema_batch = 0.0;
  const std::string ckpt_prefix = (fs::path(opts.save_dir) / entry.id).string();

  for (int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
    model->train();
    train_loader.start_epoch(epoch);
    metrics::ClassificationMeter epoch_meter(num_classes);
    int64_t it = 0;
    for (; it < skip_steps; ++it) {
      if (!train_loader.next()) break;  // replays the data order of the interrupted epoch
    }
    skip_steps = 0;
    double sum_batch = 0.0;
    auto t_data = Clock::now();
    const auto t_epoch = Clock::now();
    while (auto batch = train_loader.next()) {
      const double data_time = seconds_since(t_data);
      const auto t_step = Clock::now();
      auto x = batch->data.to(device);    // [N, T, 3*seglen, H, W]
      auto y = batch->labels.to(device);  // [N]
      auto logits = model->forward(x);    // [N, C]
      auto loss = torch::nn::functional::cross_entropy(logits, y);
      optimizer.zero_grad();
      loss.backward();
      const double lr = schedule.at(global_step);
      optimizer.step(lr);
      ++global_step;
      const double loss_v = loss.item<double>();
      auto cpu_logits = logits.detach().to(torch::kCPU);
      epoch_meter.update(cpu_logits, batch->labels, loss_v);
      const double batch_time = seconds_since(t_step) + data_time;
      sum_batch += batch_time;
      ema_batch = ema_batch == 0.0 ? batch_time : 0.9 * ema_batch + 0.1 * batch_time;
      const double remaining =
          ema_batch * static_cast<double>((epochs - epoch - 1) * static_cast<int64_t>(nb) +
                                          static_cast<int64_t>(nb) - it - 1);
      const double clips_s = static_cast<double>(batch->labels.size(0)) / batch_time;
      if (it % opts.log_interval == 0) {
        metrics::ClassificationMeter bm(num_classes);
        bm.update(cpu_logits, batch->labels, loss_v);
        log_info(
            fmt("[TRAIN] epoch %lld/%lld iter %lld/%zu loss %.6f top1 %.2f top5 %.2f lr %.6g "
                "data %.3fs batch %.3fs %.1f clips/s ETA %s",
                static_cast<long long>(epoch), static_cast<long long>(epochs),
                static_cast<long long>(it), nb, loss_v, bm.top1(), bm.top5(), lr, data_time,
                batch_time, clips_s, format_duration(remaining).c_str()));
      } else {
        progress(fmt("[TRAIN] epoch %lld iter %lld/%zu loss %.4f lr %.4g %.1f clips/s ETA %s",
                     static_cast<long long>(epoch), static_cast<long long>(it), nb, loss_v, lr,
                     clips_s, format_duration(remaining).c_str()));
      }
      ++it;
      if (g_stop.load()) {
        progress_done();
        const std::string path = ckpt_prefix + "_interrupted.pt";
        const Checkpoint ck =
            make_checkpoint(entry, opts, cfg, *model, optimizer, epoch, it, global_step, best);
        save_checkpoint(path, ck);
        copy_file_atomic(path, (fs::path(opts.save_dir) / "latest.pt").string());
        log_warn(fmt("interrupted: saved %s (epoch %lld, iteration %lld); resume with --resume=%s",
                     path.c_str(), static_cast<long long>(epoch), static_cast<long long>(it),
                     path.c_str()));
        return 130;
      }
      t_data = Clock::now();
    }
    progress_done();
    log_skips(train_loader, fmt("[TRAIN] epoch %lld", static_cast<long long>(epoch)));
    log_info(
        fmt("[TRAIN] epoch %lld finished: loss %.6f top1 %.2f top5 %.2f (%lld clips), "
            "%s, average batch time %.3fs",
            static_cast<long long>(epoch), epoch_meter.loss(), epoch_meter.top1(),
            epoch_meter.top5(), static_cast<long long>(epoch_meter.count()),
            format_duration(seconds_since(t_epoch)).c_str(),
            it > 0 ? sum_batch / static_cast<double>(it) : 0.0));

    bool improved = false;
    if (valid_loader && (epoch + 1) % opts.valid_interval == 0) {
      metrics::ClassificationMeter vm(num_classes);
      evaluate(*model, *valid_loader, device, &vm, nullptr, 1, opts.log_interval, "VALID");
      log_skips(*valid_loader, "[VALID]");
      log_info(
          fmt("[VALID] epoch %lld: loss %.6f top1 %.2f top5 %.2f mean class acc %.2f "
              "(%lld videos)",
              static_cast<long long>(epoch), vm.loss(), vm.top1(), vm.top5(),
              vm.mean_class_accuracy(), static_cast<long long>(vm.count())));
      if (vm.top1() > best) {
        best = vm.top1();
        improved = true;
      }
    }
    const Checkpoint ck =
        make_checkpoint(entry, opts, cfg, *model, optimizer, epoch + 1, 0, global_step, best);
    const std::string epoch_path =
        fmt("%s_epoch%lld.pt", ckpt_prefix.c_str(), static_cast<long long>(epoch));
    save_checkpoint(epoch_path, ck);
    copy_file_atomic(epoch_path, (fs::path(opts.save_dir) / "latest.pt").string());
    if (improved) copy_file_atomic(epoch_path, (fs::path(opts.save_dir) / "best.pt").string());
    log_info("saved " + epoch_path + (improved ? " (new best, also best.pt)" : ""));
  }
  std::signal(SIGINT, SIG_DFL);
  log_info("training finished");
  return 0;
}

int run_test(const CliOptions& opts) {
  const Config cfg = resolve_config(opts);
  const ModelEntry& entry = find_model(cfg.model.name);
  const torch::Device device = setup_runtime(opts);
  const SectionConfig& ts = cfg.section(Mode::kTest);
  require_list(ts, Mode::kTest);  // fail on a wrong path before the slow work
  auto model = entry.make_model(cfg, Mode::kTest);
  load_weights(*model, opts.weights);
  model->to(device);
  auto ds = build_dataset(entry, cfg, Mode::kTest);
  data::Loader loader(ds, loader_options(ts, false, opts.seed));
  const auto names = label_names(cfg);
  metrics::ClassificationMeter meter(cfg.model.num_classes);
  std::vector<EvalRow> rows;
  log_info(
      fmt("[TEST] %s on %s: %zu videos, 1 view per video (seg_num %lld x seglen %lld, "
          "centre crop %lld)",
          entry.id.c_str(), ts.filelist.c_str(), ds->size(), static_cast<long long>(ts.seg_num),
          static_cast<long long>(ts.seglen), static_cast<long long>(ts.target_size)));
  evaluate(*model, loader, device, &meter, &rows, 5, opts.log_interval, "TEST");
  log_skips(loader, "[TEST]");
  log_info(
      fmt("[TEST] finished: loss %.6f top1 %.2f top5 %.2f mean class acc %.2f "
          "(%lld of %zu videos evaluated)",
          meter.loss(), meter.top1(), meter.top5(), meter.mean_class_accuracy(),
          static_cast<long long>(meter.count()), ds->size()));

  make_dir(opts.save_dir);
  std::ostringstream jl;
  for (const auto& r : rows) {
    jl << "{\"id\": \"" << json_escape(r.id) << "\", \"line\": " << r.line_no
       << ", \"label\": " << r.label << ", \"topk\": " << topk_json(r, names) << "}\n";
  }
  const std::string results = (fs::path(opts.save_dir) / "test_results.jsonl").string();
  write_file_atomic(results, jl.str());
  std::ostringstream cm;
  const int64_t c = cfg.model.num_classes;
  cm << "true\\pred";
  for (int64_t j = 0; j < c; ++j) cm << ',' << '"' << class_name(names, j) << '"';
  cm << '\n';
  for (int64_t i = 0; i < c; ++i) {
    cm << '"' << class_name(names, i) << '"';
    for (int64_t j = 0; j < c; ++j) cm << ',' << meter.confusion()[i * c + j];
    cm << '\n';
  }
  const std::string cm_path = (fs::path(opts.save_dir) / "confusion_matrix.csv").string();
  write_file_atomic(cm_path, cm.str());
  const std::string metrics_path = (fs::path(opts.save_dir) / "test_metrics.json").string();
  write_file_atomic(
      metrics_path,
      fmt("{\"model\": \"%s\", \"weights\": \"%s\", \"videos\": %lld, \"loss\": %.6f, "
          "\"top1\": %.4f, \"top5\": %.4f, \"mean_class_accuracy\": %.4f}\n",
          entry.id.c_str(), json_escape(opts.weights).c_str(),
          static_cast<long long>(meter.count()), meter.loss(), meter.top1(), meter.top5(),
          meter.mean_class_accuracy()));
  log_info("wrote " + results + ", " + cm_path + ", " + metrics_path);
  return 0;
}

int run_infer(const CliOptions& opts) {
  const Config cfg = resolve_config(opts);
  const ModelEntry& entry = find_model(cfg.model.name);
  const torch::Device device = setup_runtime(opts);
  const SectionConfig& is = cfg.section(Mode::kInfer);
  require_list(is, Mode::kInfer);
  auto model = entry.make_model(cfg, Mode::kInfer);
  load_weights(*model, opts.weights);
  model->to(device);
  const auto names = label_names(cfg);
  auto ds = build_dataset(entry, cfg, Mode::kInfer);
  auto lo = loader_options(is, false, opts.seed);
  std::vector<std::string> failures;
  lo.warn = [&failures](const std::string& m) {
    log_warn("failed: " + m);
    failures.push_back(m);
  };
  if (auto k = std::dynamic_pointer_cast<const data::KineticsDataset>(ds)) {
    for (const auto& m : k->skipped_lines()) failures.push_back(m);
  }
  data::Loader loader(ds, lo);
  std::vector<EvalRow> rows;
  evaluate(*model, loader, device, nullptr, &rows, opts.infer_topk, opts.log_interval, "INFER");

  make_dir(opts.save_dir);
  std::ostringstream jl;
  for (const auto& r : rows) {
    jl << "{\"id\": \"" << json_escape(r.id) << "\", \"line\": " << r.line_no
       << ", \"label\": " << (r.label >= 0 ? std::to_string(r.label) : "null")
       << ", \"topk\": " << topk_json(r, names) << "}\n";
  }
  for (const auto& f : failures) jl << "{\"error\": \"" << json_escape(f) << "\"}\n";
  const std::string out = (fs::path(opts.save_dir) / (entry.id + "_infer.jsonl")).string();
  write_file_atomic(out, jl.str());

  // A readable table: video, then the top-3 classes with scores.
  std::ostringstream table;
  table << fmt("%-40s %-6s %s\n", "video", "line", "top predictions (score)");
  for (const auto& r : rows) {
    std::string id = fs::path(r.id).filename().string();
    if (id.size() > 40) id = id.substr(0, 37) + "...";
    std::string preds;
    for (std::size_t j = 0; j < std::min<std::size_t>(3, r.classes.size()); ++j) {
      preds +=
          fmt("%s%s (%.3f)", j ? ", " : "", class_name(names, r.classes[j]).c_str(), r.scores[j]);
    }
    table << fmt("%-40s %-6zu %s\n", id.c_str(), r.line_no, preds.c_str());
  }
  std::cout << table.str();
  log_info(fmt("[INFER] %zu video(s) predicted, %zu failed; wrote %s", rows.size(), failures.size(),
               out.c_str()));
  return 0;
}

int guarded_main(int (*body)(const CliOptions&), Tool tool, int argc, char** argv) {
  try {
    int code = 0;
    auto opts = parse_cli(tool, argc, argv, &code);
    if (!opts) return code;
    return body(*opts);
  } catch (const c10::Error& e) {
    std::cout.flush();
    std::cerr << "error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace vc::app
