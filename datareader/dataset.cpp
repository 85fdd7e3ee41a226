#include "datareader/dataset.h"

#include <torch/torch.h>

#include <algorithm>

#include "datareader/buffer_pool.h"

namespace vc::data {

const char* to_string(Phase p) {
  switch (p) {
    case Phase::kTrain:
      return "train";
    case Phase::kValid:
      return "valid";
    case Phase::kTest:
      return "test";
    case Phase::kInfer:
      return "infer";
  }
  return "?";
}

Target Target::single(int64_t class_index) {
  Target t;
  t.kind = TargetKind::kClass;
  t.class_index = class_index;
  t.labelled = class_index >= 0;
  return t;
}

Target Target::multi(std::vector<int64_t> classes, int64_t num_classes, bool labelled) {
  Target t;
  t.kind = TargetKind::kMultiHot;
  t.classes = std::move(classes);
  t.num_classes = num_classes;
  t.labelled = labelled;
  return t;
}

std::string ViewInfo::describe() const {
  if (views == 1 && layout.empty()) return "1 view";
  return std::to_string(views) + (views == 1 ? " view" : " views") +
         (layout.empty() ? "" : " " + layout);
}

const torch::Tensor& Batch::input(const std::string& name) const {
  auto it = inputs.find(name);
  if (it == inputs.end()) {
    std::string have;
    for (const auto& [k, v] : inputs) have += (have.empty() ? "" : ", ") + k;
    throw DataError("batch has no input '" + name + "' (inputs: " + have + ")");
  }
  return it->second;
}

namespace {

std::string where(const Sample& s) {
  return s.id + " (list line " + std::to_string(s.line_no) + ")";
}

// [N, ...] in recycled memory (buffer_pool.h): no fresh pages to fault for large clips.
torch::Tensor stack_pooled(const std::vector<torch::Tensor>& parts) {
  std::vector<int64_t> shape{static_cast<int64_t>(parts.size())};
  for (int64_t d : parts.front().sizes()) shape.push_back(d);
  torch::Tensor out = pooled_empty(shape, parts.front().scalar_type());
  torch::stack_out(out, parts, 0);
  return out;
}

// `dst` (float32, contiguous, the shape of `src`) <- src: converted by `widen` when src is uint8
// and a function is given, copied otherwise.
void write_into(torch::Tensor& dst, const torch::Tensor& src, const CollatePolicy::WidenFn* widen) {
  if (widen != nullptr && src.scalar_type() == torch::kUInt8) {
    const torch::Tensor in = src.contiguous();
    (*widen)(in.data_ptr<uint8_t>(), dst.data_ptr<float>(), in.numel());
  } else {
    dst.copy_(src);
  }
}

}  // namespace

Batch collate(std::vector<Sample>&& samples, const CollatePolicy& policy) {
  if (samples.empty()) throw DataError("collate: no samples");
  const Sample& first = samples.front();
  const bool pad = policy.kind == CollatePolicy::Kind::kPad;
  for (const auto& name : policy.padded_inputs) {
    if (!first.inputs.count(name)) {
      throw DataError("collate: sample " + where(first) + " has no input '" + name + "' to pad");
    }
  }
  auto is_padded = [&](const std::string& name) {
    return pad && std::find(policy.padded_inputs.begin(), policy.padded_inputs.end(), name) !=
                      policy.padded_inputs.end();
  };

  Batch b;
  b.target_kind = first.target.kind;
  b.views = first.views;
  const auto n = static_cast<int64_t>(samples.size());
  // Sequence lengths (kPad): the first dim of the padded inputs, equal within a sample.
  std::vector<int64_t> lengths;
  for (const Sample& s : samples) {
    if (s.inputs.size() != first.inputs.size()) {
      throw DataError("collate: sample " + where(s) + " has " + std::to_string(s.inputs.size()) +
                      " inputs, the batch has " + std::to_string(first.inputs.size()));
    }
    if (s.views != first.views || s.views < 1) {
      throw DataError("collate: sample " + where(s) + " has " + std::to_string(s.views) +
                      " views, the batch has " + std::to_string(first.views));
    }
    if (pad && s.views != 1) {
      throw DataError("collate: sample " + where(s) + " has " + std::to_string(s.views) +
                      " views; padded (sequence) batches take single-view samples only");
    }
    if (s.target.kind != first.target.kind || (s.target.kind == TargetKind::kMultiHot &&
                                               s.target.num_classes != first.target.num_classes)) {
      throw DataError("collate: sample " + where(s) + " has a different target kind or width");
    }
    int64_t len = -1;
    for (const auto& name : policy.padded_inputs) {
      auto it = s.inputs.find(name);
      if (it == s.inputs.end() || it->second.dim() < 1) {
        throw DataError("collate: sample " + where(s) + ": input '" + name +
                        "' is missing or not a sequence");
      }
      const int64_t t = it->second.size(0);
      if (len >= 0 && t != len) {
        throw DataError("collate: sample " + where(s) + ": padded inputs differ in length (" +
                        std::to_string(len) + " vs " + std::to_string(t) + " for '" + name + "')");
      }
      len = t;
    }
    if (pad) lengths.push_back(len);
  }

  for (const auto& [name, t0] : first.inputs) {
    auto widen_it = policy.widen.find(name);
    const CollatePolicy::WidenFn* widen =
        widen_it != policy.widen.end() && widen_it->second ? &widen_it->second : nullptr;
    // The batch's type; a widened input may come as uint8 or float32 in each sample.
    const torch::ScalarType batch_type = widen != nullptr ? torch::kFloat32 : t0.scalar_type();
    auto type_fits = [&](const torch::Tensor& t) {
      return widen != nullptr
                 ? (t.scalar_type() == torch::kUInt8 || t.scalar_type() == torch::kFloat32)
                 : t.scalar_type() == t0.scalar_type();
    };
    std::vector<torch::Tensor> parts;
    parts.reserve(samples.size());
    for (const Sample& s : samples) {
      auto it = s.inputs.find(name);
      if (it == s.inputs.end()) {
        throw DataError("collate: sample " + where(s) + " has no input '" + name + "'");
      }
      parts.push_back(it->second);
    }
    if (!is_padded(name)) {
      for (const Sample& s : samples) {
        const torch::Tensor& t = s.inputs.at(name);
        if (t.sizes() != t0.sizes() || !type_fits(t)) {
          throw DataError("collate: sample " + where(s) + " has " + name + " shape " +
                          c10::str(t.sizes()) + " (" + c10::toString(t.scalar_type()) +
                          "), the batch has " + c10::str(t0.sizes()) + " (" +
                          c10::toString(t0.scalar_type()) + ")");
        }
      }
      torch::Tensor stacked;  // [N, ...] or [N, V, ...]
      if (widen != nullptr) {
        std::vector<int64_t> shape{n};
        for (int64_t d : t0.sizes()) shape.push_back(d);
        stacked = pooled_empty(shape, batch_type);
        for (int64_t i = 0; i < n; ++i) {
          torch::Tensor row = stacked[i];
          write_into(row, parts[static_cast<std::size_t>(i)], widen);
        }
      } else {
        stacked = stack_pooled(parts);
      }
      if (first.views > 1) {
        if (t0.dim() < 1 || t0.size(0) != first.views) {
          throw DataError("collate: sample " + where(first) + ": input '" + name + "' has shape " +
                          c10::str(t0.sizes()) + ", expected a leading view dim of " +
                          std::to_string(first.views));
        }
        stacked = stacked.flatten(0, 1);  // [N*V, ...] (a view of the contiguous stack)
      }
      b.inputs[name] = stacked;
      continue;
    }
    const int64_t t_max = *std::max_element(lengths.begin(), lengths.end());
    std::vector<int64_t> shape{n, t_max};
    for (int64_t d = 1; d < t0.dim(); ++d) shape.push_back(t0.size(d));
    // Recycled memory, written once: each row's frames copied, only its padding tail zeroed.
    torch::Tensor out = pooled_empty(shape, batch_type);  // [N, T_max, ...]
    for (int64_t i = 0; i < n; ++i) {
      const torch::Tensor& t = parts[static_cast<std::size_t>(i)];
      if (t.dim() != t0.dim() || t.sizes().slice(1) != t0.sizes().slice(1) || !type_fits(t)) {
        throw DataError("collate: sample " + where(samples[static_cast<std::size_t>(i)]) + " has " +
                        name + " shape " + c10::str(t.sizes()) + " (" +
                        c10::toString(t.scalar_type()) + "), the batch has [T, ...] = " +
                        c10::str(t0.sizes()) + " (" + c10::toString(t0.scalar_type()) + ")");
      }
      torch::Tensor row = out[i];  // [T_max, ...]
      if (t.size(0) > 0) {
        torch::Tensor head = row.narrow(0, 0, t.size(0));  // contiguous: the leading rows
        write_into(head, t, widen);
      }
      if (t.size(0) < t_max) row.narrow(0, t.size(0), t_max - t.size(0)).zero_();
    }
    b.inputs[name] = out;
  }
  if (pad) {
    torch::Tensor len_t = torch::tensor(lengths, torch::kInt64);  // [N]
    const int64_t t_max = *std::max_element(lengths.begin(), lengths.end());
    b.inputs["lengths"] = len_t;
    b.inputs["mask"] = (torch::arange(t_max, torch::kInt64).unsqueeze(0) < len_t.unsqueeze(1))
                           .to(torch::kFloat32);  // [N, T_max]
  }

  if (first.target.kind == TargetKind::kClass) {
    std::vector<int64_t> labels;
    labels.reserve(samples.size());
    for (const Sample& s : samples) labels.push_back(s.target.class_index);
    b.target = torch::tensor(labels, torch::kInt64);  // [N]
  } else {
    const int64_t c = first.target.num_classes;
    b.target = torch::zeros({n, c}, torch::kFloat32);  // [N, C]
    auto acc = b.target.accessor<float, 2>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k : samples[static_cast<std::size_t>(i)].target.classes) {
        if (k < 0 || k >= c) {
          throw DataError("collate: sample " + where(samples[static_cast<std::size_t>(i)]) +
                          ": class " + std::to_string(k) + " outside [0, " + std::to_string(c) +
                          ")");
        }
        acc[i][k] = 1.0f;
      }
    }
  }
  for (Sample& s : samples) {
    b.labelled.push_back(s.target.labelled);
    b.ids.push_back(std::move(s.id));
    b.sources.push_back(std::move(s.source));
    b.line_nos.push_back(s.line_no);
    b.indices.push_back(s.index);
  }
  return b;
}

}  // namespace vc::data
