// The fast inference path: any VideoModelImpl, traced per input shape, frozen and optimised for
// inference by LibTorch's own JIT passes, with the eager model as the reference and fallback.
//
// For each new input signature (names, dtypes, shapes and device of the ModelInput tensors) the
// wrapped model is traced once (torch::jit::tracer::trace, with its parameters and buffers as
// attributes of a torch::jit::Module), then torch::jit::freeze (parameters become constants,
// every eval-mode BatchNorm{1,2,3}d that follows a conv is folded into it, eval-mode dropout
// becomes a constant) and torch::jit::optimize_for_inference (convolutions and their activations
// converted to oneDNN ops and blocked layouts when LibTorch has MKLDNN: no layout copies between
// layers), then videocls's own passes: keep_onednn_layouts (below) and fuse_onednn_convolutions
// (onednn_conv.h: 2-D convolutions on oneDNN primitives of our own with their ReLU / residual add
// fused, Winograd for 3x3 stride-1 ones where the CPU has it). The first batch of each signature
// is also run eagerly and the two
// outputs must agree within `tolerance`; otherwise that signature stays eager. Measured on
// TSN-ResNet-50 (docs/benchmarks.md): see "Model throughput".
//
// A network needs nothing to be covered: its forward is traced at the ATen level. What a trace
// cannot capture is control flow that depends on tensor *values* read in C++ (item(), accessor,
// data_ptr): a network whose forward does that must override
// VideoModelImpl::supports_traced_inference() to return false (it then runs eager). A forward
// that reads a value through ATen while traced (item(), is_nonzero(), equal(): seen by a
// RecordFunction callback) is detected and that signature runs eager; reads through
// accessor/data_ptr bypass ATen and cannot be detected, hence the opt-out. Shapes are baked into a
// trace (C++ sizes are plain integers), hence the per-signature cache; beyond `max_signatures`
// shapes new ones run eager.
//
// The traced graphs hold copies of the weights taken at the first call of each signature:
// build the wrapper after loading weights, and do not train the wrapped model afterwards.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "models/video_model.h"

namespace torch::jit {
struct Graph;
}

namespace vc::models {

struct FastInferenceOptions {
  /// Max |fast - eager| allowed on the first batch of each input signature: absolute for logits
  /// within +-1, relative to the largest |logit| beyond (float32 rounding grows with the scale:
  /// an untrained ResNet-50 gives logits in the thousands); above it the signature runs eager.
  TORCH_ARG(double, tolerance) = 1e-3;
  /// Compare with the eager model on the first batch of each signature (costs one eager forward
  /// per signature).
  TORCH_ARG(bool, verify) = true;
  /// Run torch::jit::optimize_for_inference after freezing (oneDNN layouts and ops); false =
  /// freeze only (BN folding, constant propagation).
  TORCH_ARG(bool, optimize) = true;
  /// After optimize_for_inference, run keep_onednn_layouts on the graph (below); false = LibTorch's
  /// passes only (for comparison).
  TORCH_ARG(bool, keep_onednn_layouts) = true;
  /// After that, run fuse_onednn_convolutions (onednn_conv.h): 2-D convolutions on videocls's
  /// own oneDNN primitives with the following ReLU / residual add fused; false = LibTorch's
  /// convolutions.
  TORCH_ARG(bool, onednn_convolutions) = true;
  /// With onednn_convolutions: Winograd's algorithm for 3x3 stride-1 convolutions where the CPU
  /// has a kernel for it (oneDNN: AVX-512); false = direct convolutions only.
  TORCH_ARG(bool, winograd) = true;
  /// Distinct input signatures traced at most; further ones run eager.
  TORCH_ARG(int64_t, max_signatures) = 8;
};

/// What happened to the calls so far.
struct FastInferenceStats {
  int64_t fast_calls = 0;   ///< forwards through a traced graph
  int64_t eager_calls = 0;  ///< forwards through the eager model (fallbacks and verifications
                            ///< excluded)
  int64_t traced = 0;       ///< signatures traced and accepted
  int64_t rejected = 0;     ///< signatures that fell back to eager
  double max_abs_diff = 0;  ///< largest |fast - eager| seen by the verifications
};

/// A VideoModelImpl whose forward runs the traced, frozen, optimised graph of `inner` (eval mode,
/// no gradients), falling back to `inner` itself. `inner` is registered as submodule "model".
class FastInferenceImpl : public VideoModelImpl {
 public:
  using LogFn = std::function<void(const std::string&)>;
  /// `log` receives one line per traced or rejected signature (may be empty).
  explicit FastInferenceImpl(VideoModelPtr inner, const FastInferenceOptions& options = {},
                             LogFn log = nullptr);

  /// input -> logits, like inner->forward(input) within `tolerance`.
  torch::Tensor forward(const ModelInput& input) override;

  const FastInferenceStats& stats() const { return stats_; }
  /// The optimised graph used for `input`'s signature as text; "" when that signature has not
  /// been seen or runs eager.
  std::string graph_text(const ModelInput& input) const;
  VideoModelImpl& inner() { return *inner_; }

 private:
  struct Entry;
  std::shared_ptr<Entry> compile(const ModelInput& input, std::string* why_not);

  VideoModelPtr inner_;
  FastInferenceOptions options_;
  LogFn log_;
  std::map<std::string, std::shared_ptr<Entry>> cache_;  // signature -> graph (null = eager)
  bool disabled_logged_ = false;
  FastInferenceStats stats_;
};

/// The wrapper as a VideoModelPtr (the run loops' type).
std::shared_ptr<FastInferenceImpl> make_fast_inference(VideoModelPtr inner,
                                                       const FastInferenceOptions& options = {},
                                                       FastInferenceImpl::LogFn log = nullptr);

/// What keep_onednn_layouts changed in a graph.
struct LayoutPassCounts {
  int64_t shifts = 0;       ///< videocls::temporal_shift nodes now fed the oneDNN tensor directly
  int64_t round_trips = 0;  ///< to_mkldnn(to_dense(v)) replaced by v
};
/// Run on a graph after torch::jit::optimize_for_inference (the fast path does): LibTorch's pass
/// converts every value that leaves a group of oneDNN ops back to a dense tensor and every value
/// entering one to oneDNN, even when the value only passes from one group to the next (TSM's
/// shortcut around a temporal shift). This removes those round trips where it is safe (nothing
/// else reads or writes the value afterwards) and hands videocls::temporal_shift its oneDNN input
/// directly when the build can shift oneDNN tensors (onednn_shift.h). Other graphs are unchanged.
LayoutPassCounts keep_onednn_layouts(const std::shared_ptr<torch::jit::Graph>& graph);

/// "names/dtypes/shapes/device" of a ModelInput: the cache key of the traced graphs.
std::string input_signature(const ModelInput& input);

/// Floating-point operations of one forward (a multiply-add = 2), counted from the shapes of the
/// ATen ops an eager forward runs (a RecordFunction callback, i.e. a forward hook at the op
/// level, so any network is covered): convolutions (1/2/3-D, grouped, transposed), linear layers
/// and matrix products. Element-wise ops, pooling and normalisation are not counted.
struct FlopCount {
  double conv = 0;        ///< convolutions
  double linear = 0;      ///< linear layers (aten::linear, addmm)
  double matmul = 0;      ///< mm, bmm, matmul
  int64_t uncounted = 0;  ///< such ops whose shapes the graph did not give (0 normally)
  double total() const { return conv + linear + matmul; }
};

/// Runs `model` once in eval mode without gradients on `input` and counts its FLOPs (the mode
/// is restored).
FlopCount count_inference_flops(VideoModelImpl& model, const ModelInput& input);

}  // namespace vc::models
