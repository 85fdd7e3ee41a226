// build/bin/run_model — one forward pass of a registered network on inputs saved from Python, for
// porting and debugging: compare our network with another implementation on identical inputs.
//
//   build/bin/run_model --model-name TSN --config configs/tsn.yaml --weights W
//       --input in.pt --output out.pt [--mode test] [--dtype float64] [--set SECTION.key=value ...]
//
// --input: a file written by torch.save: one tensor (the network's "video" input) or a dict of
// named tensors as the network's header documents them ({"rgb": ..., "audio": ..., "mask": ...}).
// --weights: anything test/infer take (a videocls checkpoint, a torch.save state dict, ...);
// "none" keeps the seeded random initialisation (--seed).
// --output: the logits [N, num_classes] written with torch.save semantics (torch.load reads it).
// The model runs in eval mode, built with the options of --mode (seg_num etc. of that section).
// --dtype float64 runs the network and the floating-point inputs in double precision (porting:
// a float64 reference then matches to ~1e-12, free of float32 rounding noise); the logits are
// written in that dtype.
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <iterator>

#include "tools/common/checkpoint.h"
#include "tools/common/errors.h"
#include "tools/common/registry.h"
#include "tools/common/runner.h"
#include "tools/common/runtime.h"
#include "tools/common/state_dict.h"

namespace {

using namespace vc::app;

vc::models::ModelInput read_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("--input: cannot read '" + path + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue v;
  try {
    v = torch::pickle_load(bytes);
  } catch (const std::exception&) {
    // An OrderedDict (LibTorch's unpickler rejects it): our reader takes dicts of tensors.
    vc::models::ModelInput input;
    for (auto& [name, t] : read_state_dict(path)) input.set(name, t);
    return input;
  }
  if (v.isTensor()) return vc::models::ModelInput(v.toTensor());
  if (v.isGenericDict()) {
    vc::models::ModelInput input;
    for (const auto& item : v.toGenericDict()) {
      if (!item.key().isString() || !item.value().isTensor()) {
        throw IoError("--input " + path + ": a dict must map names to tensors");
      }
      input.set(item.key().toStringRef(), item.value().toTensor());
    }
    return input;
  }
  throw IoError("--input " + path + ": expected a tensor or a dict of named tensors, got " +
                v.tagKind());
}

Mode parse_mode(const std::string& m) {
  if (m == "train") return Mode::kTrain;
  if (m == "valid") return Mode::kValid;
  if (m == "test") return Mode::kTest;
  if (m == "infer") return Mode::kInfer;
  throw ConfigError("--mode: expected train, valid, test or infer, got '" + m + "'");
}

int run(int argc, char** argv) {
  CliOptions opts;
  opts.tool = Tool::kTest;
  std::string input, output, mode = "test", dtype = "float32";
  CLI::App app{"videocls run_model: logits of a network on inputs saved with torch.save"};
  app.add_option("--model-name,--model_name", opts.model_name, "network id")->required();
  app.add_option("--config", opts.config, "YAML config")->required();
  app.add_option("--weights", opts.weights, "weights (any format test takes) or 'none'")
      ->required();
  app.add_option("--input", input, "torch.save file: a tensor or a dict of named tensors")
      ->required();
  app.add_option("--output", output, "where to torch.save the logits")->required();
  app.add_option("--mode", mode, "train, valid, test or infer (options of that section)")
      ->capture_default_str();
  app.add_option("--dtype", dtype, "float32 or float64 (network and floating-point inputs)")
      ->check(CLI::IsMember({"float32", "float64"}))
      ->capture_default_str();
  app.add_option("--set", opts.sets, "override a config key: SECTION.key=value (repeatable)");
  app.add_option("--seed", opts.seed, "torch seed (random init when --weights none)")
      ->capture_default_str();
  app.add_option("--threads", opts.threads, "intra-op threads (0 = all cores)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const Registry& registry = default_registry();
  Config cfg = resolve_config(opts, registry);
  const ModelEntry& entry = registry.find(cfg.model.s("name"));
  const Mode m = parse_mode(mode);
  const torch::Device device = setup_runtime(opts);
  WeightsFile weights;
  if (opts.weights != "none") {
    weights = read_weights(entry, opts.weights);
    cfg = config_for_weights(opts, registry, weights, std::move(cfg));  // before the model
  }
  auto model = entry.make_model(cfg, m);
  if (opts.weights != "none") load_weights(*model, entry, cfg, weights);
  const torch::Dtype real = dtype == "float64" ? torch::kDouble : torch::kFloat;
  model->to(device, real);
  model->eval();
  torch::NoGradGuard no_grad;
  const vc::models::ModelInput read = read_input(input).to(device);
  vc::models::ModelInput in = read;
  for (const auto& [name, t] : read.tensors()) {
    if (t.is_floating_point()) in.set(name, t.to(real));
  }
  const torch::Tensor logits = model->forward(in).to(torch::kCPU).contiguous();  // [N, C]
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(logits));
  write_file_atomic(output, std::string(bytes.begin(), bytes.end()));
  std::cout << "run_model: " << entry.id << " logits " << logits.sizes() << " -> " << output
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return vc::app::run_guarded([&] { return run(argc, argv); });
}
