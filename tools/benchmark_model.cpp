// benchmark_model: training and inference throughput of a registered network at its original
// input size on CPU, the fast inference path against eager, the inference FLOP rate and this
// machine's SGEMM peak, measured by the same program with the same threads.
//
//   benchmark_model --model TSN [--config configs/tsn.yaml] [--threads 2] [--batch 1]
//                   [--iters 5] [--warmup 2] [--modes train,eager,fast,sgemm]
//                   [--infer-section test] [--gemm-size 2048] [--set SECTION.key=value ...]
//                   [--sizes-only] [--profile [--profile-shapes]] [--print-graph]
//
// Input sizes come from the config (configs/<id>.yaml by default): the row's example input for
// the TRAIN section (train) and for --infer-section (inference), with the batch set to --batch
// and, for inputs of 4+ dimensions in a section with `target_size`, the two last (spatial) sizes
// set to target_size. E.g. TSN: train [1, 3, 3, 224, 224], test [1, 7, 3, 224, 224].
//
//   train  one step = zero_grad + forward + the task's loss + backward + the configured
//          optimizer's update (TRAIN.optimizer: momentum for the Kinetics networks), with the
//          weights in channels-last layout as `train` lays them (TRAIN.channels_last, default
//          true; --set TRAIN.channels_last=false for NCHW)
//   eager  model.eval() forward under NoGradGuard
//   fast   the fast inference path (models/common/inference.h: traced, frozen, BN folded,
//          optimize_for_inference / oneDNN); its one-off trace time is reported apart, and its
//          max |logit - eager| on the benchmark input
//   fast_plain  the same without videocls's own graph passes (keep_onednn_layouts: TSM's
//          shifts on oneDNN tensors, no layout round trips; fuse_onednn_convolutions: fused,
//          Winograd convolutions), i.e. LibTorch's passes only
//   fast_direct the fast path with videocls's passes but no Winograd (direct convolutions)
//   sgemm  a [n, n] x [n, n] torch::mm loop: the machine's practical FP32 GEMM peak
//
// Each timing is the median over --iters iterations after --warmup ones; clips/s = batch /
// median. Inference GFLOP/s = FLOPs per forward (convolutions, linear layers and matrix
// products, counted from the traced graph: models/common/inference.h count_inference_flops) /
// median time. Prints a readable report, then one line "RESULT impl=cpp key=value ..." that
// tools/peers/benchmark_model_peer.py prints too (impl=python); scripts/bench_model.sh runs
// both side by side. Results: docs/benchmarks.md.
#include <ATen/record_function.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "models/common/blas_threads.h"
#include "models/common/inference.h"
#include "models/common/memory_format.h"
#include "tools/common/errors.h"
#include "tools/common/malloc_tuning.h"
#include "tools/common/optim_config.h"
#include "tools/common/registry.h"
#include "tools/common/runner.h"

namespace {

using namespace vc::app;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median seconds of `iters` calls of `fn` after `warmup` calls.
double median_seconds(const std::function<void()>& fn, int64_t warmup, int64_t iters) {
  for (int64_t i = 0; i < warmup; ++i) fn();
  std::vector<double> t;
  for (int64_t i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    fn();
    t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  const std::size_t n = t.size();
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

// --profile: wall time per outermost ATen / graph op or autograd node of one call (a
// RecordFunction callback; ops called from inside another op count towards the outer one).
// With --profile-shapes, ops are told apart by the sizes of their first tensor input too.
struct OpTimes {
  std::map<std::string, std::pair<double, int64_t>> by_op;  // name -> (seconds, calls)
  int depth = 0;
};
thread_local OpTimes* t_op_times = nullptr;
bool g_profile_shapes = false;  // --profile-shapes
struct OpStart : at::ObserverContext {
  Clock::time_point t0;
  std::string key;
};
std::unique_ptr<at::ObserverContext> op_start(const at::RecordFunction& fn) {
  if (t_op_times == nullptr || t_op_times->depth++ > 0) return nullptr;
  auto c = std::make_unique<OpStart>();
  c->key = fn.name();
  if (g_profile_shapes) {
    for (const c10::IValue& v : fn.inputs()) {
      if (v.isTensor() && v.toTensor().defined()) {
        c->key += " " + c10::str(v.toTensor().sizes());
        break;
      }
    }
  }
  c->t0 = Clock::now();
  return c;
}
void op_end(const at::RecordFunction&, at::ObserverContext* c) {
  if (t_op_times == nullptr) return;
  --t_op_times->depth;
  if (c == nullptr) return;
  const auto* start = static_cast<OpStart*>(c);
  auto& e = t_op_times->by_op[start->key];
  e.first += seconds_since(start->t0);
  ++e.second;
}
void print_profile(const char* what, const std::function<void()>& fn) {
  OpTimes times;
  t_op_times = &times;
  const at::CallbackHandle h = at::addThreadLocalCallback(
      at::RecordFunctionCallback(op_start, op_end)
          .needsInputs(g_profile_shapes)
          .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
  const auto t0 = Clock::now();
  fn();
  const double total = seconds_since(t0);
  at::removeCallback(h);
  t_op_times = nullptr;
  std::vector<std::pair<double, std::string>> rows;
  for (const auto& [name, e] : times.by_op) rows.emplace_back(e.first, name);
  std::sort(rows.rbegin(), rows.rend());
  std::printf("  profile of one %s call: %.3f s\n", what, total);
  for (const auto& [sec, name] : rows) {
    std::printf("    %-40s %8.1f ms %5.1f %% %5lld calls\n", name.c_str(), sec * 1e3,
                100 * sec / total, static_cast<long long>(times.by_op[name].second));
  }
}

std::string shape_text(const torch::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "x" : "") + std::to_string(t.size(i));
  return s;
}

// The row's example input for `mode` at the benchmark size: batch `batch`, spatial sizes
// target_size or crop_size (inputs of 4+ dims in a section that has the key), random normal values
// (integer inputs such as lengths repeat the example's first sample). Variable-length inputs (the
// example has "lengths", e.g. the YouTube-8M networks) get MODEL.max_frames steps when the config
// has that key, every sample full length ("mask" all ones, "lengths" = max_frames): the worst case
// the reader produces.
vc::models::ModelInput bench_input(const ModelEntry& entry, const Config& cfg, Mode mode,
                                   int64_t batch) {
  const SectionConfig& s = cfg.section(mode);
  const vc::models::ModelInput example = entry.example_input(cfg, mode);
  const bool variable = example.has("lengths") && example.has("mask");
  const int64_t steps = variable ? (cfg.model.has("max_frames") ? cfg.model.i("max_frames")
                                                                : example.at("mask").size(1))
                                 : 0;
  vc::models::ModelInput out;
  for (const auto& [name, t] : example.tensors()) {
    std::vector<int64_t> sizes = t.sizes().vec();
    if (sizes.empty()) {
      out.set(name, t);
      continue;
    }
    sizes[0] = batch;
    if (variable && name == "mask") {
      out.set(name, torch::ones({batch, steps}, t.options()));
    } else if (variable && name == "lengths") {
      out.set(name, torch::full({batch}, steps, t.options()));
    } else if (t.is_floating_point()) {
      if (variable && sizes.size() >= 2) sizes[1] = steps;
      // Spatial size: the section's target_size (Kinetics readers) or crop_size (Non-local).
      const char* size_key = s.has("target_size") ? "target_size"
                             : s.has("crop_size") ? "crop_size"
                                                  : nullptr;
      if (sizes.size() >= 4 && size_key) {
        sizes[sizes.size() - 1] = sizes[sizes.size() - 2] = s.i(size_key);
      }
      out.set(name, torch::randn(sizes, t.options()));
    } else {
      std::vector<int64_t> rep(t.dim(), 1);
      rep[0] = batch;
      out.set(name, t.narrow(0, 0, 1).repeat(rep));
    }
  }
  return out;
}

// "1x3x224x224" for a network with one input; "audio:1x300x128,lengths:1,mask:1x300,rgb:..."
// (name:shape, comma-separated) for several (tools/peers/benchmark_model_peer.py reads both).
std::string input_text(const vc::models::ModelInput& in) {
  if (in.tensors().size() == 1) return shape_text(in.tensors().begin()->second);
  std::string s;
  for (const auto& [name, t] : in.tensors())
    s += (s.empty() ? "" : ",") + name + ":" + shape_text(t);
  return s;
}

struct Args {
  std::string model;
  std::string config;
  std::vector<std::string> sets;
  int64_t threads = 1;
  int64_t batch = 1;
  int64_t iters = 5;
  int64_t warmup = 2;
  std::string modes = "train,eager,fast,sgemm";
  std::string infer_section = "test";
  int64_t gemm_size = 2048;
  uint64_t seed = 0;
  bool sizes_only = false;
  bool profile = false;
  bool print_graph = false;
};

int run(const Args& a) {
  const Registry& registry = default_registry();
  const ModelEntry& entry = registry.find(a.model);
  std::string config = a.config;
  if (config.empty()) {
    // configs/<id>.yaml: the id lower-cased (TSN -> tsn), or in snake case
    // (AttentionCluster -> attention_cluster, AttentionLSTM -> attention_lstm).
    std::string lower, snake;
    for (std::size_t i = 0; i < entry.id.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(entry.id[i]);
      if (i > 0 && std::isupper(c) && std::islower(static_cast<unsigned char>(entry.id[i - 1]))) {
        snake += '_';
      }
      lower += static_cast<char>(std::tolower(c));
      snake += static_cast<char>(std::tolower(c));
    }
    for (const std::string& name : {lower, snake}) {
      const std::string guess = "configs/" + name + ".yaml";
      if (config.empty() && fs::exists(guess)) config = guess;
    }
  }
  const Config cfg = load_config(config, a.sets, {}, registry.schema(), entry.id);
  std::set<std::string> modes;
  {
    std::stringstream ss(a.modes);
    std::string m;
    while (std::getline(ss, m, ',')) {
      if (m != "train" && m != "eager" && m != "fast" && m != "fast_plain" && m != "fast_direct" &&
          m != "sgemm") {
        throw ConfigError(
            "--modes: expected a comma list of train, eager, fast, fast_plain, fast_direct, "
            "sgemm; got '" +
            m + "'");
      }
      modes.insert(m);
    }
  }
  Mode infer_mode = Mode::kTest;
  if (a.infer_section == "infer") {
    infer_mode = Mode::kInfer;
  } else if (a.infer_section != "test") {
    throw ConfigError("--infer-section: expected test or infer, got '" + a.infer_section + "'");
  }
  torch::set_num_threads(static_cast<int>(a.threads));
  vc::models::set_blas_threads(static_cast<int>(a.threads));
  torch::manual_seed(a.seed);

  std::ostringstream result;
  result << "RESULT impl=cpp model=" << entry.id << " threads=" << a.threads << " batch=" << a.batch
         << " num_classes=" << cfg.model.i("num_classes")
         << " task=" << (entry.task.target == vc::data::TargetKind::kClass ? "single" : "multi")
         << " optimizer=" << optimizer_options(cfg.section(Mode::kTrain)).type;
  std::printf(
      "benchmark_model: %s, config %s, %lld intra-op thread(s), batch %lld, %lld iters "
      "after %lld warmup; oneDNN (MKLDNN) %s\n",
      entry.id.c_str(), config.empty() ? "(defaults)" : config.c_str(),
      static_cast<long long>(a.threads), static_cast<long long>(a.batch),
      static_cast<long long>(a.iters), static_cast<long long>(a.warmup),
      at::hasMKLDNN() ? "available" : "not available");

  const auto train_input = bench_input(entry, cfg, Mode::kTrain, a.batch);
  const auto infer_input = bench_input(entry, cfg, infer_mode, a.batch);
  result << " train_input=" << input_text(train_input)
         << " infer_input=" << input_text(infer_input);
  if (a.sizes_only) {
    std::cout << result.str() << std::endl;
    return 0;
  }

  if (modes.count("train")) {
    const auto& input = train_input;
    auto model = entry.make_model(cfg, Mode::kTrain);
    model->train();
    const bool channels_last = cfg.section(Mode::kTrain).b("channels_last");
    if (channels_last) vc::models::to_channels_last(*model);
    const int64_t classes = cfg.model.i("num_classes");
    const torch::Tensor target = entry.task.target == vc::data::TargetKind::kClass
                                     ? torch::randint(classes, {a.batch}, torch::kInt64)
                                     : (torch::rand({a.batch, classes}) < 0.05).to(torch::kFloat);
    auto groups = entry.param_groups ? entry.param_groups(*model, cfg) : single_param_group(*model);
    auto optimizer =
        make_optimizer(optimizer_options(cfg.section(Mode::kTrain)), std::move(groups));
    const double lr = cfg.section(Mode::kTrain).f("learning_rate");
    const double t = median_seconds(
        [&] {
          optimizer->zero_grad();
          torch::Tensor loss = entry.task.loss(model->forward(input), target);
          loss.backward();
          optimizer->step(lr);
        },
        a.warmup, a.iters);
    if (a.profile) {
      print_profile("train step", [&] {
        optimizer->zero_grad();
        torch::Tensor loss = entry.task.loss(model->forward(input), target);
        loss.backward();
        optimizer->step(lr);
      });
    }
    std::printf("train     input %s: %.3f s/step, %.3f clips/s (%s, %s)\n",
                input_text(input).c_str(), t, a.batch / t,
                optimizer_options(cfg.section(Mode::kTrain)).type.c_str(),
                channels_last ? "channels-last" : "NCHW");
    result << " train_clips_per_s=" << a.batch / t;
  }

  if (modes.count("eager") || modes.count("fast") || modes.count("fast_plain") ||
      modes.count("fast_direct")) {
    const auto& input = infer_input;
    auto model = entry.make_model(cfg, infer_mode);
    model->eval();
    const vc::models::FlopCount flops = vc::models::count_inference_flops(*model, input);
    std::printf(
        "inference input %s: %.2f GFLOP per forward (conv %.2f, linear %.3f, matmul "
        "%.3f%s)\n",
        input_text(input).c_str(), flops.total() / 1e9, flops.conv / 1e9, flops.linear / 1e9,
        flops.matmul / 1e9, flops.uncounted ? ", some ops uncounted" : "");
    result << " infer_gflop_per_clip=" << flops.total() / 1e9 / a.batch;
    torch::NoGradGuard no_grad;
    torch::Tensor eager_out;
    if (modes.count("eager")) {
      const double t =
          median_seconds([&] { eager_out = model->forward(input); }, a.warmup, a.iters);
      if (a.profile) print_profile("eager", [&] { model->forward(input); });
      std::printf("eager     %.3f s/forward, %.3f clips/s, %.1f GFLOP/s\n", t, a.batch / t,
                  flops.total() / t / 1e9);
      result << " infer_eager_clips_per_s=" << a.batch / t
             << " infer_eager_gflops=" << flops.total() / t / 1e9;
    }
    // "fast": the fast inference path as test / infer run it; "fast_plain": the same without
    // videocls's own graph passes, i.e. LibTorch's freeze + optimise only; "fast_direct":
    // videocls's passes without Winograd.
    for (const std::string mode : {"fast", "fast_plain", "fast_direct"}) {
      if (!modes.count(mode)) continue;
      const bool plain = mode == "fast_plain";
      auto fast = vc::models::make_fast_inference(
          model,
          vc::models::FastInferenceOptions()
              .keep_onednn_layouts(!plain)
              .onednn_convolutions(!plain)
              .winograd(mode == "fast"),
          [](const std::string& m) { std::printf("  %s\n", m.c_str()); });
      fast->eval();
      const auto t0 = Clock::now();
      torch::Tensor fast_out = fast->forward(input);  // trace + freeze + optimise + verify
      const double setup = seconds_since(t0);
      const double t = median_seconds([&] { fast_out = fast->forward(input); }, a.warmup, a.iters);
      if (a.profile) print_profile(mode.c_str(), [&] { fast->forward(input); });
      if (a.print_graph)
        std::printf("%s graph:\n%s\n", mode.c_str(), fast->graph_text(input).c_str());
      if (!eager_out.defined()) eager_out = model->forward(input);
      const double diff = (fast_out - eager_out).abs().max().item<double>();
      const bool used = fast->stats().fast_calls > 0;
      std::printf(
          "%-9s %.3f s/forward, %.3f clips/s, %.1f GFLOP/s (%s; first call incl. "
          "trace %.1f s); max |logit - eager| %.3g\n",
          mode.c_str(), t, a.batch / t, flops.total() / t / 1e9,
          used ? "traced graph" : "FELL BACK TO EAGER", setup, diff);
      const std::string key = "infer_" + mode;
      result << " " << key << "_clips_per_s=" << a.batch / t << " " << key
             << "_gflops=" << flops.total() / t / 1e9;
      if (mode == "fast") {
        result << " fast_used=" << used << " fast_setup_s=" << setup << " max_abs_diff=" << diff;
      }
    }
  }

  if (modes.count("sgemm")) {
    const int64_t n = a.gemm_size;
    const torch::Tensor x = torch::randn({n, n});
    const torch::Tensor y = torch::randn({n, n});
    torch::Tensor z = torch::empty({n, n});
    const double t =
        median_seconds([&] { torch::mm_out(z, x, y); }, a.warmup, std::max<int64_t>(a.iters, 5));
    const double gflops = 2.0 * n * n * n / t / 1e9;
    std::printf("sgemm     %lldx%lld: %.3f s, %.1f GFLOP/s\n", static_cast<long long>(n),
                static_cast<long long>(n), t, gflops);
    result << " sgemm_n=" << n << " sgemm_gflops=" << gflops;
  }
  std::cout << result.str() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const std::string m = vc::app::tune_malloc(); !m.empty()) std::cout << m << "\n";
  CLI::App app{"benchmark_model: train / inference throughput, FLOP rate and SGEMM peak"};
  Args a;
  app.add_option("--model", a.model, "network id (a registry row, e.g. TSN)")->required();
  app.add_option("--config", a.config, "YAML config (default configs/<id>.yaml when present)");
  app.add_option("--set", a.sets, "override a config key: SECTION.key=value (repeatable)");
  app.add_option("--threads", a.threads, "intra-op threads")->check(CLI::Range(1, 1024));
  app.add_option("--batch", a.batch, "clips per step / forward")->check(CLI::Range(1, 4096));
  app.add_option("--iters", a.iters, "timed iterations (median)")->check(CLI::Range(1, 100000));
  app.add_option("--warmup", a.warmup, "untimed iterations first")->check(CLI::Range(0, 100000));
  app.add_option("--modes", a.modes,
                 "comma list of train, eager, fast, fast_plain, fast_direct, sgemm");
  app.add_option("--infer-section", a.infer_section,
                 "config section whose input size inference uses: test or infer");
  app.add_option("--gemm-size", a.gemm_size, "n of the n x n SGEMM")->check(CLI::Range(64, 16384));
  app.add_option("--seed", a.seed, "torch seed");
  app.add_flag("--profile", a.profile,
               "after each mode, print the wall time per op of one more step / forward");
  app.add_flag("--profile-shapes", g_profile_shapes,
               "with --profile: one row per op and size of its first tensor input");
  app.add_flag("--print-graph", a.print_graph,
               "print the optimised graph of each fast inference mode");
  app.add_flag("--sizes-only", a.sizes_only,
               "print the RESULT line with the input sizes and classes only (no timing)");
  CLI11_PARSE(app, argc, argv);
  return run_guarded([&] { return run(a); });
}
