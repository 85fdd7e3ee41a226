// State dicts: reading the files PyTorch users have (`torch.save(model.state_dict(), f)`),
// loading them into LibTorch modules by name with a clear report of what does not fit,
// and writing them back in a format `torch.load` reads. Part of vc_weights, the one place that
// reads foreign weights (with pickle.h, paddle.h and name_map.h).
#pragma once

#include <torch/torch.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vc::app {

/// Name -> tensor, in file (or module) order.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

/// A state dict does not fit a module: the message lists every missing, unexpected and
/// mis-shaped key and names the source file.
class StateDictError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a file written by Python's `torch.save` (zip format, the default since PyTorch 1.6)
/// or by save_state_dict(). Accepted contents: a state dict (`collections.OrderedDict` or plain
/// dict of name -> tensor), or a dict nesting one under "state_dict" or "model" (checkpoints).
/// Tensors are loaded on the CPU whatever device they were saved from.
/// LibTorch's own reader (torch::jit::readArchiveAndTensors, what torch::pickle_load uses) is
/// tried first; when it throws (LibTorch 1.13 rejects `OrderedDict`) or its result is not a
/// state dict, the file is read with the interpreter of pickle.h.
/// Throws vc::app::IoError naming the file when it cannot be read or holds something else
/// (legacy non-zip pickles, TorchScript archives, whole pickled modules).
StateDict read_state_dict(const std::string& path);

/// Writes `sd` as a zip-format pickle of a {name: tensor} dict; Python's `torch.load` and
/// read_state_dict() read it. Throws vc::app::IoError naming the file on failure.
void save_state_dict(const std::string& path, const StateDict& sd);

/// The module's parameters and buffers in PyTorch's `state_dict()` order and naming
/// (pre-order: a module's own parameters, then its own buffers, then its children).
/// The tensors alias the module's (no copy).
StateDict module_state_dict(const torch::nn::Module& module);

struct LoadOptions {
  /// Prepended to every file key to form the module key, e.g. "backbone." to load an ImageNet
  /// ResNet into TSN's trunk. Only module keys starting with `prefix` are expected in the file.
  std::string prefix;
  /// File keys to ignore, e.g. {"fc."} to skip the ImageNet classifier. Module keys (relative to
  /// `prefix`) starting with one of these are not expected either.
  std::vector<std::string> skip_prefixes;
  /// When true, module keys the file does not provide keep their current values.
  bool allow_missing = false;
};

/// Copies `sd` into the module's parameters and buffers (running_mean / running_var /
/// num_batches_tracked included) by name, under NoGradGuard, converting dtype and device.
/// Nothing is copied unless everything fits: otherwise throws StateDictError naming
/// `source_name` and listing missing keys (unless allow_missing), unexpected keys and shape
/// mismatches (expected vs got).
void load_state_dict(torch::nn::Module& module, const StateDict& sd, const LoadOptions& opt,
                     const std::string& source_name);

}  // namespace vc::app
