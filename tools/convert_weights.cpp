// build/bin/convert_weights — writes a videocls checkpoint from weights in any format the core
// reads (the original's Paddle per-variable directories and .pdparams, torch.save state dicts,
// our checkpoints), for the network and config given:
//   build/bin/convert_weights --model-name TSN --config configs/tsn.yaml
//       --weights TSN_final/ --output tsn_from_paddle.pt   (one command line)
// The result loads with --weights and --resume like any checkpoint of `train` (epoch 0).
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "tools/common/checkpoint.h"
#include "tools/common/registry.h"
#include "tools/common/runner.h"
#include "tools/common/runtime.h"
#include "tools/common/state_dict.h"

namespace {

using namespace vc::app;

int run(int argc, char** argv) {
  CliOptions opts;
  opts.tool = Tool::kTest;
  std::string output;
  CLI::App app{"videocls convert_weights: Paddle / torch.save weights -> a videocls checkpoint"};
  app.add_option("--model-name,--model_name", opts.model_name, "network id")->required();
  app.add_option("--config", opts.config, "YAML config (depth, classes, ...)")->required();
  app.add_option("--weights", opts.weights, "Paddle directory or .pdparams, or a torch.save file")
      ->required();
  app.add_option("--output", output, "checkpoint to write")->required();
  app.add_option("--set", opts.sets, "override a config key: SECTION.key=value (repeatable)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const Registry& registry = default_registry();
  Config cfg = resolve_config(opts, registry);
  const ModelEntry& entry = registry.find(cfg.model.s("name"));
  const WeightsFile weights = read_weights(entry, opts.weights);
  cfg = config_for_weights(opts, registry, weights, std::move(cfg));  // before the model
  auto model = entry.make_model(cfg, Mode::kTest);
  load_weights(*model, entry, cfg, weights);
  Checkpoint c;
  c.model_name = entry.id;
  c.config_yaml = config_to_yaml(cfg);
  c.model = module_state_dict(*model);
  save_checkpoint(output, c);
  std::cout << "convert_weights: " << opts.weights << " -> " << output << " (" << c.model.size()
            << " tensors)\n";
  if (weights.family && !weights.family->sets.empty()) {
    // The checkpoint holds our names: test / infer no longer recognise the family from it.
    std::cout << "convert_weights: these " << weights.family->name
              << " weights need, with the converted checkpoint:";
    for (const std::string& set : weights.family->sets) std::cout << " --set " << set;
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return vc::app::run_guarded([&] { return run(argc, argv); });
}
