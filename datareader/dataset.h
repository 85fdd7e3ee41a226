// The data contract of videocls: every reader (Kinetics clips, Non-local clips, YouTube-8M
// features, a test's own) implements Dataset; the loader (loader.h) and the run loops know no
// other type.
//
//   Dataset --get(i, seed)--> Sample {named inputs, target, id, list file + line}
//           --collate(policy)--> Batch {named inputs [N, ...] (+ "mask" / "lengths"), target}
//
// Input names are part of each network's documented contract (models/<id>/<id>.h), e.g.
// "video" [T, C, H, W] for the Kinetics networks, "rgb" [T, 1024] + "audio" [T, 128] for the
// YouTube-8M ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "datareader/errors.h"  // DataError, SampleError: part of this contract
#include "datareader/phase.h"

namespace vc::data {

/// What a sample is labelled with.
enum class TargetKind {
  kClass,     ///< one class index (softmax tasks); collated to int64 [N], -1 = no label
  kMultiHot,  ///< a set of classes (sigmoid tasks); collated to float32 [N, num_classes]
};

struct Target {
  TargetKind kind = TargetKind::kClass;
  /// kClass: the class index, -1 when the sample has no label (infer lists).
  int64_t class_index = -1;
  /// kMultiHot: the positive classes (any order, no duplicates needed), empty when unlabelled.
  std::vector<int64_t> classes;
  /// kMultiHot: width of the multi-hot vector.
  int64_t num_classes = 0;
  /// false for unlabelled samples (infer).
  bool labelled = false;

  static Target single(int64_t class_index);
  static Target multi(std::vector<int64_t> classes, int64_t num_classes, bool labelled = true);
};

/// Where a sample came from: the id printed in results (a video path or a YouTube-8M id) and the
/// list (or record file) + 1-based line (or record index).
struct SampleRef {
  std::string id;
  std::string source;
  std::size_t line_no = 0;
};

struct Sample {
  /// Named input tensors of one sample, e.g. {"video": float32 [T, C, H, W]}.
  std::map<std::string, torch::Tensor> inputs;
  Target target;
  std::string id;
  std::string source;       ///< list file (or record file) the sample came from
  std::size_t line_no = 0;  ///< 1-based line (record) in `source`
  std::size_t index = 0;    ///< dataset index
  /// Views of this one video for multi-view testing (temporal clips x spatial crops, decoded
  /// once). With views V > 1 every input has a leading view dim [V, ...], view v = clip
  /// v / num_crops, crop v % num_crops. 1 = a single view, inputs without that dim.
  int64_t views = 1;
};

/// The views of a dataset's samples (Sample::views), for logs and results.
struct ViewInfo {
  int64_t views = 1;   ///< views per sample
  std::string layout;  ///< how they are made, e.g. "10x3 (clips x crops)"; "" for one view
  /// "1 view" or "<views> views <layout>".
  std::string describe() const;
};

/// How samples become a batch.
struct CollatePolicy {
  enum class Kind {
    kStack,  ///< every input has the same shape in every sample: torch::stack
    kPad,    ///< inputs are sequences [T_i, ...] of varying T_i: zero-padded to max T_i
  };
  Kind kind = Kind::kStack;
  /// kPad: inputs padded along their first dim. All of them must have the same T within a
  /// sample. The batch gains "mask" float32 [N, T_max] (1 = real step) and "lengths" int64 [N].
  /// Inputs not listed are stacked.
  std::vector<std::string> padded_inputs;
  /// Converts n uint8 values to float32 (e.g. the YouTube-8M dequantization).
  using WidenFn = std::function<void(const uint8_t* in, float* out, int64_t n)>;
  /// Inputs that samples may carry as uint8 while the batch holds float32: each sample's values
  /// are converted by the function straight into the batch (no float copy per sample). Samples
  /// that carry such an input as float32 already are copied as they are.
  std::map<std::string, WidenFn> widen;

  static CollatePolicy stack() { return {}; }
  static CollatePolicy pad(std::vector<std::string> names) {
    return CollatePolicy{Kind::kPad, std::move(names), {}};
  }
};

struct Batch {
  /// Named inputs [N, ...]; with CollatePolicy::kPad also "mask" [N, T_max] and "lengths" [N].
  /// With views > 1: [N*V, ...], sample-major (rows i*V .. i*V+V-1 are the views of sample i),
  /// so a network sees every view as a batch entry; targets and ids stay per sample.
  std::map<std::string, torch::Tensor> inputs;
  /// Views per sample (Sample::views, equal for all samples of a batch).
  int64_t views = 1;
  TargetKind target_kind = TargetKind::kClass;
  /// int64 [N] class indices (-1 = none) or float32 [N, C] multi-hot.
  torch::Tensor target;
  /// Per sample: false when the list gave no label (infer).
  std::vector<bool> labelled;
  std::vector<std::string> ids;
  std::vector<std::string> sources;
  std::vector<std::size_t> line_nos;
  std::vector<std::size_t> indices;  ///< dataset indices

  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  /// inputs.at(name) with an error naming the missing input and the present ones.
  const torch::Tensor& input(const std::string& name) const;
};

/// Builds a batch from samples (consumed). Stacked inputs land in recycled memory
/// (buffer_pool.h); multi-view samples [V, ...] become [N*V, ...]. Throws DataError naming the
/// sample (id, list line) whose input is missing or whose shape does not fit the batch, whose
/// target kind / width or view count differs, or that has views with CollatePolicy::kPad.
Batch collate(std::vector<Sample>&& samples, const CollatePolicy& policy);

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::size_t size() const = 0;
  /// Sample `index`; all randomness comes from `seed`; thread-safe. Throws DataError (preferably
  /// SampleError) on a bad sample: the loader skips and counts it.
  virtual Sample get(std::size_t index, uint64_t seed) const = 0;
  /// The id and list line of `index` without loading it (for skip messages); throws DataError
  /// when out of range.
  virtual SampleRef ref(std::size_t index) const = 0;
  /// Messages "<list>:<line>: <why>" of the list lines skipped while the dataset was built.
  virtual const std::vector<std::string>& skipped_lines() const = 0;
  /// The views every sample carries (multi-view testing); one view unless overridden.
  virtual ViewInfo view_info() const { return {}; }
  /// How this dataset's samples are batched.
  virtual CollatePolicy collate_policy() const { return CollatePolicy::stack(); }
  /// One line for logs, e.g. "Kinetics video list data/train.list: 120 videos".
  virtual std::string describe() const = 0;
};

}  // namespace vc::data
