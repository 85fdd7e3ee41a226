#include "models/video_model.h"

#include <stdexcept>

namespace vc::models {

ModelInput::ModelInput(torch::Tensor video) { tensors_.emplace("video", std::move(video)); }

ModelInput::ModelInput(std::map<std::string, torch::Tensor> tensors)
    : tensors_(std::move(tensors)) {}

const torch::Tensor& ModelInput::at(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end() || !it->second.defined()) {
    std::string have;
    for (const auto& [k, v] : tensors_) have += (have.empty() ? "" : ", ") + k;
    throw std::invalid_argument("model input '" + name + "' is missing (inputs given: " +
                                (have.empty() ? std::string("none") : have) + ")");
  }
  return it->second;
}

ModelInput ModelInput::to(const torch::Device& device) const {
  ModelInput out;
  for (const auto& [k, v] : tensors_) out.tensors_.emplace(k, v.to(device));
  return out;
}

int64_t ModelInput::batch_size() const {
  for (const auto& [k, v] : tensors_)
    if (v.defined() && v.dim() > 0) return v.size(0);
  return 0;
}

}  // namespace vc::models
