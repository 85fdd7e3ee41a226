// Fluid's `dynamic_lstm` (op `lstm`, spec §1.12) over padded, variable-length batches: the
// recurrence only, the input projection to the 4H gate pre-activations is done outside (a
// preceding fc, as in Fluid). Parameters keep Fluid's layout so the original's weights copy
// in unchanged:
//   weight [H, 4H]  hidden -> gates, column blocks in Fluid's gate order [c~, i, f, o];
//   bias   [1, 7H]  [b_c, b_i, b_f, b_o, w_ic, w_fc, w_oc] (the last three: diagonal peepholes;
//                   [1, 4H] without peepholes).
// Per step (a_* = x_t + h_{t-1} W + b, zero h_0 and c_0):
//   c~ = tanh(a_c), i = sigmoid(a_i + w_ic * c_{t-1}), f = sigmoid(a_f + w_fc * c_{t-1}),
//   c_t = c~ * i + c_{t-1} * f, o = sigmoid(a_o + w_oc * c_t), h_t = o * tanh(c_t).
// Variable lengths follow Fluid's LoD semantics: each sequence runs over its own frames only
// (the reverse direction starts at its LAST VALID frame), padding never enters a state, and
// the outputs stay aligned with the input positions (zero at padded steps).
//
// How it runs: the valid frames are packed time-major with the sequences sorted by length
// (PackedIndex), so step t is one contiguous block of the n_t still-running sequences: one
// [n_t, H] x [H, 4H] matmul plus element-wise gates per step, no masking and no work on padding.
// By default (option `fused`) the recurrence is one autograd node with a written-out backward: the
// forward keeps the gate activations and cell states of every step, the backward runs the steps in
// reverse (one [n_t, 4H] x [4H, H] matmul each) and forms the weight gradient as ONE matmul over
// all steps ([H, P] x [P, 4H]) instead of autograd's per-step [H, 4H] outer product added into a 16
// MB gradient 300 times, which made a step cost the same at any batch. With fused(false) the
// per-step ops run under autograd (the same values; kept as a reference).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vc::models {

/// Where the valid frames of a padded [N, T, ...] batch go in the packed, time-major order of
/// one direction: packed row r holds padded row `index[r]` (= n * T + t of the flattened
/// batch). Rows of step s are [offset_s, offset_s + batch_sizes[s]); within a step the
/// sequences are sorted by decreasing length (ties in batch order), so the running ones are a
/// prefix. Forward: step s of sequence n is frame s; reverse: frame len_n - 1 - s.
struct PackedIndex {
  torch::Tensor index;               ///< int64 [P], P = sum of lengths, on the batch's device
  std::vector<int64_t> batch_sizes;  ///< running sequences per step, non-increasing, [T_max]
  int64_t total_steps() const { return static_cast<int64_t>(batch_sizes.size()); }
};

/// Lengths of a padded batch of `t` steps: int64 [N] (any device) with every value in [1, t]
/// (throws std::invalid_argument naming the sequence otherwise). `device` is where the index
/// goes.
PackedIndex pack_index(const torch::Tensor& lengths, int64_t t, bool reverse,
                       const torch::Device& device);

/// Per-sequence lengths from a batch's optional "lengths" int64 [N] or "mask" [N, T] (1 = real
/// step, a prefix), or all `t` when both are undefined. Checks the shape and the range [1, t];
/// throws std::invalid_argument naming `what` otherwise. Returns int64 [N] on the CPU.
torch::Tensor sequence_lengths(const torch::Tensor& lengths, const torch::Tensor& mask, int64_t n,
                               int64_t t, const std::string& what);

struct PeepholeLstmOptions {
  /// Hidden size H (Fluid's `size` argument is 4H).
  TORCH_ARG(int64_t, hidden_size) = 1024;
  /// Fluid's is_reverse: each sequence runs from its last valid step to its first.
  TORCH_ARG(bool, reverse) = false;
  /// Fluid's use_peepholes (default true): bias [1, 7H] with the three peephole vectors.
  TORCH_ARG(bool, use_peepholes) = true;
  /// One autograd node with a hand-written backward (see above); false: per-step autograd.
  TORCH_ARG(bool, fused) = true;
};

/// Parameters "weight" [H, 4H] (Fluid's default init: Xavier uniform, limit sqrt(6 / (H + 4H)))
/// and "bias" [1, 7H] or [1, 4H] (zeros).
class PeepholeLstmImpl : public torch::nn::Module {
 public:
  explicit PeepholeLstmImpl(const PeepholeLstmOptions& options = {});
  void reset();

  /// gates_x [N, T, 4H] (projected inputs, padding arbitrary), lengths int64 [N] in [1, T]
  /// -> hidden states [N, T, H], zero at padded steps.
  torch::Tensor forward(const torch::Tensor& gates_x, const torch::Tensor& lengths);

  /// The recurrence over packed inputs: gates_x [P, 4H] in the order of a PackedIndex built
  /// with this module's direction (only its batch_sizes are read) -> hidden states [P, H] in
  /// the same order.
  torch::Tensor forward_packed(const torch::Tensor& gates_x,
                               const std::vector<int64_t>& batch_sizes);

  PeepholeLstmOptions options;
  torch::Tensor weight;  // [H, 4H]
  torch::Tensor bias;    // [1, 7H] (or [1, 4H])
};
TORCH_MODULE(PeepholeLstm);

}  // namespace vc::models
