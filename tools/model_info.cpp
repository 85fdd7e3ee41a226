// build/bin/model_info — what a registered network is made of: parameter counts (total,
// trainable, per top-level submodule) and buffers of the full-size network a config describes,
// for checking a port against the original's numbers (tests compare them with counts worked out
// from the spec).
//
//   build/bin/model_info                         # every network, with configs/<id>.yaml when
//   present build/bin/model_info --model-name TSM [--config configs/tsm.yaml] [--mode test] [--set
//   K=V ...] build/bin/model_info --model-name TSM --total   # just the number of parameters
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "tools/common/config.h"
#include "tools/common/errors.h"
#include "tools/common/registry.h"
#include "tools/common/runner.h"

namespace {

using namespace vc::app;

Mode parse_mode(const std::string& m) {
  if (m == "train") return Mode::kTrain;
  if (m == "valid") return Mode::kValid;
  if (m == "test") return Mode::kTest;
  if (m == "infer") return Mode::kInfer;
  throw ConfigError("--mode: expected train, valid, test or infer, got '" + m + "'");
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Counts {
  int64_t params = 0, trainable = 0, buffers = 0;
  std::map<std::string, int64_t> per_child;  // top-level submodule -> parameters
};

Counts count(torch::nn::Module& m) {
  Counts c;
  for (const auto& p : m.named_parameters()) {
    c.params += p.value().numel();
    if (p.value().requires_grad()) c.trainable += p.value().numel();
    const std::string& key = p.key();
    c.per_child[key.substr(0, key.find('.'))] += p.value().numel();
  }
  for (const auto& b : m.named_buffers()) c.buffers += b.value().numel();
  return c;
}

std::string grouped(int64_t v) {
  std::string s = std::to_string(v), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

int run(int argc, char** argv) {
  std::string model_name, config, mode = "test";
  std::vector<std::string> sets;
  bool total_only = false;
  CLI::App app{
      "videocls model_info: parameter counts of the full-size networks (default: every "
      "registered network, each with configs/<id>.yaml when that file exists)"};
  app.add_option("--model-name,--model_name", model_name, "network id (default: all)");
  app.add_option("--config", config, "YAML config (default: configs/<id>.yaml if present)");
  app.add_option("--set", sets, "override a config key: --set SECTION.key=value");
  app.add_option("--mode", mode, "build the network with the options of this section")
      ->capture_default_str();
  app.add_flag("--total", total_only, "print only the number of parameters (needs --model-name)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (total_only && model_name.empty()) throw ConfigError("--total needs --model-name");
  const Mode m = parse_mode(mode);
  const Registry& registry = default_registry();
  std::vector<const ModelEntry*> rows;
  if (model_name.empty()) {
    for (const auto& r : registry.rows()) rows.push_back(&r);
  } else {
    rows.push_back(&registry.find(model_name));
  }
  for (const ModelEntry* e : rows) {
    std::string yaml = config;
    if (yaml.empty()) {
      const std::string guess = "configs/" + lower(e->id) + ".yaml";
      if (std::filesystem::exists(guess)) yaml = guess;
    }
    const Config cfg = load_config(yaml, sets, {}, registry.schema(), e->id);
    torch::NoGradGuard no_grad;
    auto model = e->make_model(cfg, m);
    const Counts c = count(*model);
    if (total_only) {
      std::cout << c.params << "\n";
      continue;
    }
    std::cout << e->id << " (" << (yaml.empty() ? "defaults" : yaml) << ", " << mode
              << "): " << grouped(c.params) << " parameters (" << grouped(c.trainable)
              << " trainable), " << grouped(c.buffers) << " buffer values\n";
    for (const auto& [child, n] : c.per_child) {
      std::cout << "  " << child << ": " << grouped(n) << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return vc::app::run_guarded([&] { return run(argc, argv); });
}
