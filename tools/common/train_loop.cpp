// run_train: the training loop, generic over the registry row (model, dataset, task, parameter
// groups), with validation, "best" by the task's primary metric, exact resume and SIGINT.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "models/common/memory_format.h"
#include "tools/common/checkpoint.h"
#include "tools/common/distributed.h"
#include "tools/common/errors.h"
#include "tools/common/evaluation.h"
#include "tools/common/logging.h"
#include "tools/common/optim_config.h"
#include "tools/common/optimizer.h"
#include "tools/common/registry.h"
#include "tools/common/runner.h"
#include "tools/common/runtime.h"
#include "tools/common/state_dict.h"
#include "tools/common/tensorboard.h"

namespace vc::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct TrainState {
  int64_t epoch = 0;          // completed epochs
  int64_t step_in_epoch = 0;  // iterations done in the next epoch
  int64_t global_step = 0;
  std::string best_name;
  double best = -1.0;
};

Checkpoint make_checkpoint(const ModelEntry& entry, const CliOptions& opts, const Config& cfg,
                           const models::VideoModelImpl& model, const Optimizer& opt,
                           const std::string& opt_type, const TrainState& st) {
  Checkpoint c;
  c.model_name = entry.id;
  c.epoch = st.epoch;
  c.step_in_epoch = st.step_in_epoch;
  c.global_step = st.global_step;
  c.best_metric_name = st.best_name;
  c.best_metric_value = st.best;
  c.seed = static_cast<int64_t>(opts.seed);
  c.config_yaml = config_to_yaml(cfg);
  c.model = module_state_dict(model);
  c.optimizer_type = opt_type;
  for (auto& [slot, tensors] : opt.state()) c.optimizer_state[slot] = tensors;
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    c.torch_rng_state = gen.get_state();
  }
  return c;
}

// Keeps the newest `keep` per-epoch checkpoints (0 = all); best.pt / latest.pt are copies.
void prune_checkpoints(const std::string& prefix, int64_t epoch, int64_t keep) {
  if (keep <= 0) return;
  for (int64_t e = epoch - keep; e >= 0; --e) {
    const std::string old = fmt::format("{}_epoch{}.pt", prefix, e);
    std::error_code ec;
    if (!fs::remove(old, ec)) break;  // older ones were pruned before
    log_info("removed " + old + " (TRAIN.keep_checkpoints " + std::to_string(keep) + ")");
  }
}

// TRAIN.freeze_bn: every batch-norm layer normalizes with its running statistics and leaves
// them unchanged (eval mode) while its affine parameters still train.
void freeze_batch_norm(torch::nn::Module& model) {
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (m->as<torch::nn::BatchNorm1d>() || m->as<torch::nn::BatchNorm2d>() ||
        m->as<torch::nn::BatchNorm3d>()) {
      m->eval();
    }
  }
}

}  // namespace

int run_train(const CliOptions& opts) { return run_train(opts, default_registry()); }

int run_train(const CliOptions& opts, const Registry& registry) {
  const Config cfg = resolve_config(opts, registry);
  const ModelEntry& entry = registry.find(cfg.model.s("name"));
  make_dir(opts.save_dir);
  log_to_file((fs::path(opts.save_dir) / "train.log").string());
  log_info("videocls train " + entry.id + ", config " + opts.config + "\n" + config_to_yaml(cfg));
  const torch::Device device = setup_runtime(opts);
  const SectionConfig& tr = cfg.section(Mode::kTrain);
  const Task& task = entry.task;

  auto model = entry.make_model(cfg, Mode::kTrain);
  int64_t n_params = 0, n_trainable = 0;
  for (const auto& p : model->parameters()) {
    n_params += p.numel();
    if (p.requires_grad()) n_trainable += p.numel();
  }
  log_info(fmt::format("{}: {} parameters ({} trainable)", entry.id, n_params, n_trainable));
  Checkpoint resume;
  if (!opts.resume.empty()) {
    resume = load_checkpoint(opts.resume);
    if (resume.model_name != entry.id) {
      throw ConfigError("--resume " + opts.resume + " holds a " + resume.model_name +
                        " model, not " + entry.id);
    }
    load_state_dict(*model, resume.model, LoadOptions{}, opts.resume);
    log_info(fmt::format("resuming from {}: {} epoch(s) done, step {} of the next, global step {}",
                         opts.resume, resume.epoch, resume.step_in_epoch, resume.global_step));
  } else if (!opts.pretrain.empty()) {
    if (!entry.load_pretrain) {
      throw ConfigError("--pretrain: " + entry.id + " has no pretrained weights to load");
    }
    if (!fs::is_regular_file(opts.pretrain)) {
      throw IoError("--pretrain file not found: '" + opts.pretrain + "'");
    }
    entry.load_pretrain(*model, opts.pretrain);
    log_info("loaded pretrained weights from " + opts.pretrain);
  } else if (entry.load_pretrain) {
    log_warn(
        fmt::format("\n"
                    "  ************************************************************************\n"
                    "  * {} starts from RANDOM weights: no --pretrain was given.\n"
                    "  * The original trained from ImageNet weights; without them accuracy on\n"
                    "  * real data is far lower. Pass --pretrain with {}.\n"
                    "  ************************************************************************",
                    entry.id, entry.pretrain_what));
  }
  model->to(device);
  if (tr.b("channels_last")) {
    if (device.is_cpu()) {
      const models::ChannelsLastReport r = models::to_channels_last(*model);
      log_info(fmt::format(
          "channels-last training (TRAIN.channels_last: true; false = NCHW): {} 2-D and {} "
          "frame-wise 3-D convolution weights re-laid{}",
          r.weights_2d, r.weights_frames,
          r.weights_2d + r.weights_frames == 0 ? " (none: nothing to re-lay)" : ""));
    } else {
      log_info("TRAIN.channels_last applies on CPU only; " + device.str() + " trains in NCHW");
    }
  }
  dist::broadcast_module(*model);  // data-parallel workers start from rank 0's weights

  auto train_ds = build_dataset(entry, cfg, Mode::kTrain);
  data::Loader train_loader(train_ds, loader_options(tr, /*shuffle=*/true, opts.seed));
  std::unique_ptr<data::Loader> valid_loader;
  if (opts.valid_interval > 0 && !cfg.section(Mode::kValid).s("filelist").empty()) {
    valid_loader =
        std::make_unique<data::Loader>(build_dataset(entry, cfg, Mode::kValid),
                                       loader_options(cfg.section(Mode::kValid), false, opts.seed));
  }

  const LrSchedule schedule(lr_schedule_options(tr, static_cast<int64_t>(train_ds->size())));
  log_info("LR schedule: " + schedule.describe());

  std::vector<ParamGroup> groups =
      entry.param_groups ? entry.param_groups(*model, cfg) : single_param_group(*model);
  const OptimizerOptions opt_options = optimizer_options(tr);
  std::unique_ptr<Optimizer> optimizer = make_optimizer(opt_options, std::move(groups));
  log_info(optimizer->describe() + "; loss: " + task.loss_name);
  std::vector<torch::Tensor> trainable;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  // No-op for a single process.
  dist::GradientSync grad_sync(std::move(trainable), entry.task.loss_sums_batch);

  TrainState st;
  st.best_name = task.make_meter(cfg)->primary();
  if (!opts.resume.empty()) {
    st.epoch = resume.epoch;
    st.step_in_epoch = resume.step_in_epoch;
    st.global_step = resume.global_step;
    if (resume.best_metric_name == st.best_name) st.best = resume.best_metric_value;
    if (!resume.optimizer_type.empty() && resume.optimizer_type != opt_options.type) {
      throw ConfigError(
          fmt::format("--resume {}: the checkpoint's optimizer is {}, TRAIN.optimizer is {}",
                      opts.resume, resume.optimizer_type, opt_options.type));
    }
    OptimizerState state;
    for (const auto& [slot, tensors] : resume.optimizer_state) state[slot] = tensors;
    optimizer->load_state(state, opts.resume);
    if (resume.torch_rng_state.defined()) {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(resume.torch_rng_state);
    }
  }

  const int64_t epochs = tr.i("epoch");
  const std::size_t nb = train_loader.batches_per_epoch();
  log_info(fmt::format("training {} for {} epoch(s): {} samples, {} batches of {} per epoch{}",
                       entry.id, epochs, train_ds->size(), nb, tr.i("batch_size"),
                       dist::active() ? fmt::format(" ({} workers x {})", dist::world_size(),
                                                    train_loader.options().batch_size)
                                      : std::string()));
  std::unique_ptr<TensorBoardWriter> tb;
  if (tr.b("tensorboard") && dist::is_main()) {  // rank 0 alone writes events
    tb = std::make_unique<TensorBoardWriter>((fs::path(opts.save_dir) / "tensorboard").string());
    log_info("TensorBoard events: " + tb->path() + " (TRAIN.tensorboard)");
  }
  // Scalars of one step or epoch: `prefix` + each meter value (the loss included).
  auto tb_values = [](const metrics::Meter& m, const std::string& prefix) {
    std::vector<std::pair<std::string, double>> out;
    for (const auto& [k, v] : m.values()) out.emplace_back(prefix + k, v);
    return out;
  };
  install_sigint_handler();
  double ema_batch = 0.0;
  const std::string ckpt_prefix = (fs::path(opts.save_dir) / entry.id).string();
  const std::string latest = (fs::path(opts.save_dir) / "latest.pt").string();
  // After SIGINT (agreed by every data-parallel worker at the same step): rank 0 saves.
  const auto interrupted = [&](int64_t epoch, int64_t it) {
    progress_done();
    if (!dist::is_main()) return 130;
    const std::string path = ckpt_prefix + "_interrupted.pt";
    TrainState now = st;
    now.epoch = epoch;
    now.step_in_epoch = it;
    save_checkpoint(path,
                    make_checkpoint(entry, opts, cfg, *model, *optimizer, opt_options.type, now));
    copy_file_atomic(path, latest);
    log_warn(fmt::format("interrupted: saved {} (epoch {}, iteration {}); resume with --resume={}",
                         path, epoch, it, path));
    return 130;
  };

  for (int64_t epoch = st.epoch; epoch < epochs; ++epoch) {
    model->train();
    if (tr.b("freeze_bn")) freeze_batch_norm(*model);
    train_loader.start_epoch(epoch);
    auto epoch_meter = task.make_meter(cfg);
    int64_t it = 0;
    for (; it < st.step_in_epoch; ++it) {
      // Replays the data order of the interrupted epoch (workers: global steps, even past the
      // end of their slices).
      if (!train_loader.next() && !dist::active()) break;
    }
    st.step_in_epoch = 0;
    double sum_batch = 0.0;
    auto t_data = Clock::now();
    const auto t_epoch = Clock::now();
    for (;;) {
      std::optional<data::Batch> batch = train_loader.next();
      if (!batch) {
        // Data-parallel: this worker's slice of global batch `it` is empty (the epoch's short
        // last batch, or skipped samples); it still joins the step.
        if (!dist::active() || it >= static_cast<int64_t>(nb)) break;
        optimizer->zero_grad();
        const auto synced = grad_sync.all_reduce(0, 0.0, stop_requested());
        if (synced.samples > 0) optimizer->step(schedule.at(st.global_step));
        ++st.global_step;
        ++it;
        if (synced.stop) return interrupted(epoch, it);
        t_data = Clock::now();
        continue;
      }
      const double data_time = seconds_since(t_data);
      const auto t_step = Clock::now();
      const models::ModelInput input = models::ModelInput(batch->inputs).to(device);
      const torch::Tensor target = batch->target.to(device);
      torch::Tensor logits = model->forward(input);  // [N, C]
      torch::Tensor loss = task.loss(logits, target);
      optimizer->zero_grad();
      loss.backward();
      const double loss_v = loss.item<double>();
      // Data-parallel: the gradients of the global batch, identical on every worker.
      const auto synced = grad_sync.all_reduce(batch->size(), loss_v, stop_requested());
      const double lr = schedule.at(st.global_step);
      optimizer->step(lr);
      const int64_t step = st.global_step++;
      const torch::Tensor cpu_logits = logits.detach().to(torch::kCPU);
      epoch_meter->update(cpu_logits, batch->target, loss_v);
      const double batch_time = seconds_since(t_step) + data_time;
      sum_batch += batch_time;
      ema_batch = ema_batch == 0.0 ? batch_time : 0.9 * ema_batch + 0.1 * batch_time;
      const double remaining =
          ema_batch * static_cast<double>((epochs - epoch - 1) * static_cast<int64_t>(nb) +
                                          static_cast<int64_t>(nb) - it - 1);
      const double clips_s = static_cast<double>(synced.samples) / batch_time;  // all workers
      if (it % opts.log_interval == 0) {
        auto bm = epoch_meter->clone_empty();
        bm->update(cpu_logits, batch->target, loss_v);
        log_info(fmt::format(
            "[TRAIN] epoch {}/{} iter {}/{} {} lr {:.6g} data {:.3f}s batch {:.3f}s {:.1f} "
            "clips/s ETA {}",
            epoch, epochs, it, nb, bm->summary(), lr, data_time, batch_time, clips_s,
            format_duration(remaining)));
        if (tb) {
          auto scalars = tb_values(*bm, "train/");
          if (std::none_of(scalars.begin(), scalars.end(),
                           [](const auto& kv) { return kv.first == "train/loss"; }))
            scalars.insert(scalars.begin(), {"train/loss", loss_v});
          scalars.emplace_back("train/lr", lr);
          tb->add_scalars(scalars, step);
          tb->flush();
        }
      } else {
        progress(
            fmt::format("[TRAIN] epoch {} iter {}/{} loss {:.4f} lr {:.4g} {:.1f} clips/s ETA {}",
                        epoch, it, nb, loss_v, lr, clips_s, format_duration(remaining)));
      }
      ++it;
      if (synced.stop) return interrupted(epoch, it);
      t_data = Clock::now();
    }
    progress_done();
    log_skips(train_loader, fmt::format("[TRAIN] epoch {}", epoch));
    const double comm_s = grad_sync.take_seconds();
    log_info(fmt::format(
        "[TRAIN] epoch {} finished: {} ({} samples{}), {}, average batch time {:.3f}s{}", epoch,
        epoch_meter->summary(), epoch_meter->count(), dist::active() ? " on rank 0" : "",
        format_duration(seconds_since(t_epoch)), it > 0 ? sum_batch / static_cast<double>(it) : 0.0,
        dist::active() && it > 0
            ? fmt::format(" (all-reduce {:.3f}s per step)", comm_s / static_cast<double>(it))
            : std::string()));
    if (tb) tb->add_scalars(tb_values(*epoch_meter, "epoch/train_"), epoch);

    bool improved = false;
    if (valid_loader && (epoch + 1) % opts.valid_interval == 0) {
      auto vm = task.make_meter(cfg);
      evaluate(*model, *valid_loader, device, task, vm.get(), nullptr, 1, opts.log_interval,
               "VALID", view_options(cfg.section(Mode::kValid)));
      log_skips(*valid_loader, "[VALID]");
      log_info(fmt::format("[VALID] epoch {}: {} ({} samples)", epoch, vm->summary(), vm->count()));
      if (tb) tb->add_scalars(tb_values(*vm, "valid/"), epoch);
      // The metrics of every worker's samples are at rank 0 (evaluate gathers them).
      const double v = dist::is_main() ? vm->value(st.best_name) : st.best;
      if (v > st.best) {
        st.best = v;
        improved = true;
      }
    }
    if (tb) tb->flush();
    st.epoch = epoch + 1;
    if (!dist::is_main()) continue;  // rank 0 alone writes checkpoints
    const std::string epoch_path = fmt::format("{}_epoch{}.pt", ckpt_prefix, epoch);
    save_checkpoint(epoch_path,
                    make_checkpoint(entry, opts, cfg, *model, *optimizer, opt_options.type, st));
    copy_file_atomic(epoch_path, latest);
    if (improved) copy_file_atomic(epoch_path, (fs::path(opts.save_dir) / "best.pt").string());
    log_info("saved " + epoch_path +
             (improved ? fmt::format(" (new best {} {:.2f}, also best.pt)", st.best_name, st.best)
                       : std::string()));
    prune_checkpoints(ckpt_prefix, epoch, tr.i("keep_checkpoints"));
  }
  restore_sigint_handler();
  log_info("training finished");
  return 0;
}

}  // namespace vc::app
