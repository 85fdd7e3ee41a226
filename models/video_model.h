// The one interface every network of vc_models implements.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

namespace vc::models {

/// The named batch tensors a network reads: the inputs of a data::Batch, e.g.
/// {"video": [N, T, C, H, W]} or {"rgb": [N, T, 1024], "audio": [N, T, 128],
/// "mask": [N, T], "lengths": [N]}. Each network documents the names it reads in its header.
class ModelInput {
 public:
  ModelInput() = default;
  /// The single-tensor case: {"video": tensor} (so `model->forward(clips)` works).
  ModelInput(torch::Tensor video);  // NOLINT(google-explicit-constructor): deliberate
  explicit ModelInput(std::map<std::string, torch::Tensor> tensors);

  /// The tensor `name`; throws std::invalid_argument naming it and the tensors present.
  const torch::Tensor& at(const std::string& name) const;
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  void set(const std::string& name, torch::Tensor t) { tensors_[name] = std::move(t); }
  const std::map<std::string, torch::Tensor>& tensors() const { return tensors_; }
  /// A copy with every tensor moved to `device`.
  ModelInput to(const torch::Device& device) const;
  /// Batch size: size(0) of the first tensor (0 when empty).
  int64_t batch_size() const;

 private:
  std::map<std::string, torch::Tensor> tensors_;
};

/// A video classifier: named batch tensors in, raw logits [N, num_classes] out (no softmax or
/// sigmoid: the task's loss and score functions apply them).
class VideoModelImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const ModelInput& input) = 0;
  /// Whether the fast inference path (models/common/inference.h) may trace forward: true unless
  /// forward's control flow depends on tensor values read in C++ (item(), accessor, data_ptr),
  /// which a trace would bake in. Such a network returns false and runs eager.
  virtual bool supports_traced_inference() const { return true; }
  ~VideoModelImpl() override = default;
};

using VideoModelPtr = std::shared_ptr<VideoModelImpl>;

}  // namespace vc::models
