// Attention LSTM (spec §6.2): per feature modality, a 512-wide tanh embedding of every frame,
// a forward and a reverse peephole LSTM (Fluid's dynamic_lstm, models/common/peephole_lstm.h)
// over the video's own frames, each fed by its own 4H-wide input projection, their outputs
// concatenated, dropout, attention weights = a 1-unit fc softmax-normalised over the video's
// VALID frames (Fluid's sequence_softmax), and the attention-weighted sum of the frames; the
// modalities' pooled vectors concatenated -> fc 8192 relu -> fc 4096 tanh -> fc logits.
//
// Model contract (models/video_model.h): inputs one float32 [N, T, dim] per feature name
// ("rgb" [N, T, 1024], "audio" [N, T, 128]) and, for variable-length batches, "lengths" int64
// [N] or "mask" [N, T] (1 = real frame, a prefix; "lengths" wins when both are given). Without
// either, all T frames are real. Padded frames are never read. -> logits [N, num_classes].
// Every video needs at least one frame.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/common/dropout.h"
#include "models/common/peephole_lstm.h"
#include "models/video_model.h"

namespace vc::models {

struct AttentionLstmOptions {
  /// Classes of the final fc (YouTube-8M 2018: 3862).
  TORCH_ARG(int64_t, num_classes) = 3862;
  /// Input names, one branch each, in the original's order (its parameter names follow it).
  TORCH_ARG(std::vector<std::string>, feature_names) = std::vector<std::string>{"rgb", "audio"};
  /// Per-frame feature width of each input.
  TORCH_ARG(std::vector<int64_t>, feature_dims) = std::vector<int64_t>{1024, 128};
  /// Width of the per-frame tanh embedding (the original: 512).
  TORCH_ARG(int64_t, embedding_size) = 512;
  /// Hidden size H of each LSTM (the original: 1024); a branch's pooled output is 2H.
  TORCH_ARG(int64_t, lstm_size) = 1024;
  /// Widths of the head's two hidden fc layers (the original: 8192 relu, 4096 tanh).
  TORCH_ARG(int64_t, fc1_size) = 8192;
  TORCH_ARG(int64_t, fc2_size) = 4096;
  /// Dropout probability on the concatenated LSTM outputs (the original: 0.5).
  TORCH_ARG(double, drop_rate) = 0.5;
  /// Dropout scaling: Fluid's (the original: x(1-p) at inference) or inverted.
  TORCH_ARG(DropoutImpl, dropout_impl) = DropoutImpl::kDowngradeInInfer;
};

/// One modality (the original's LSTMAttentionModel). Submodules (the original's variable
/// names): "input_fc" (dim -> E, tanh), "lstm_forward_fc" (E -> 4H), "lstm_forward",
/// "lstm_backward_fc" (E -> 4H), "lstm_backward" (reverse), "attention_fc" (2H -> 1), and
/// "dropout" when drop_rate > 0 (no parameters).
class AttentionLstmBranchImpl : public torch::nn::Module {
 public:
  AttentionLstmBranchImpl(int64_t input_dim, const AttentionLstmOptions& options);
  void reset();
  /// x [N, T, dim]; forward / reverse: pack_index of the batch's lengths in each direction;
  /// valid [N, T] bool (true = real frame) -> attention-pooled [N, 2H].
  torch::Tensor forward(const torch::Tensor& x, const PackedIndex& forward_index,
                        const PackedIndex& reverse_index, const torch::Tensor& valid);

  int64_t input_dim;
  AttentionLstmOptions options;
  torch::nn::Linear input_fc{nullptr}, lstm_forward_fc{nullptr}, lstm_backward_fc{nullptr},
      attention_fc{nullptr};
  PeepholeLstm lstm_forward{nullptr}, lstm_backward{nullptr};
  FluidDropout fluid_dropout{nullptr};        // when drop_rate > 0 and kDowngradeInInfer
  torch::nn::Dropout torch_dropout{nullptr};  // when drop_rate > 0 and kUpscaleInTrain
};
TORCH_MODULE(AttentionLstmBranch);

/// Submodules: one AttentionLstmBranch per feature name, registered under that name ("rgb.",
/// "audio."), then the head "fc1" (relu), "fc2" (tanh), "logit". All fc weights Fluid's
/// Xavier uniform, all biases 0, LSTM weights Xavier uniform and biases 0 (spec §6.2).
class AttentionLstmImpl : public VideoModelImpl {
 public:
  explicit AttentionLstmImpl(const AttentionLstmOptions& options = {});
  void reset();
  /// Reads the feature inputs [N, T, dim] and "lengths" / "mask" -> logits [N, num_classes].
  torch::Tensor forward(const ModelInput& input) override;
  /// The recurrence depends on the lengths read in C++ (packing), which a trace would bake in.
  bool supports_traced_inference() const override { return false; }

  AttentionLstmOptions options;
  std::vector<AttentionLstmBranch> branches;  // one per feature name, in order
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, logit{nullptr};
};
TORCH_MODULE(AttentionLstm);

}  // namespace vc::models
