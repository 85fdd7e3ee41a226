// Runs build/bin/run_model on the output directory of a Python reference script that wrote its
// weights as the original's Fluid per-variable directory (REF/paddle), a run_model config
// (REF/config.yaml), an input (REF/input.pt) and the expected logits (REF/expected.pt): the
// whole --weights path (Paddle reader, the row's name map, strict load) checked end to end.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/models/test_util.h"
#include "tools/common/weights/state_dict.h"

namespace vc::test {

/// max |run_model's logits - REF/expected.pt[key]| for the network `model_name`; reports a
/// failure (with run_model's log) and returns -1 when run_model fails or the shapes differ.
inline double run_model_max_diff(const std::string& model_name, const std::string& ref,
                                 const std::string& key) {
  TempDir dir("run_model_reference");
  const std::string cmd = std::string(VC_BINARY_DIR) + "/bin/run_model --model-name " + model_name +
                          " --config " + ref + "/config.yaml --weights " + ref +
                          "/paddle --input " + ref + "/input.pt --output " + dir.file("out.pt") +
                          " --threads 2 > " + dir.file("log.txt") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log_in(dir.file("log.txt"));
  const std::string log((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  if (rc != 0) {
    ADD_FAILURE() << cmd << "\n" << log;
    return -1;
  }
  std::ifstream in(dir.file("out.pt"), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const torch::Tensor logits = torch::pickle_load(bytes).toTensor();
  torch::Tensor expected;
  for (const auto& [name, t] : app::read_state_dict(ref + "/expected.pt"))
    if (name == key) expected = t;
  if (!expected.defined() || logits.sizes() != expected.sizes()) {
    ADD_FAILURE() << ref << "/expected.pt: no '" << key << "' of the shape of the logits "
                  << logits.sizes() << "\n"
                  << log;
    return -1;
  }
  return (logits.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace vc::test
