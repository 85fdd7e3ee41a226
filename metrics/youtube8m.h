// YouTube-8M metrics (spec §4.1), as the YouTube-8M starter code defines them: Hit@1, PERR,
// GAP over the pooled top-20 predictions of the whole split (normalised by every positive label,
// including those outside any top-20), and per-class AP / mAP over the same sparse predictions.
// Reference: google/youtube-8m eval_util.py, average_precision_calculator.py (`ap_at_n` with
// n = None), mean_average_precision_calculator.py, utils.py (`mean_ap = numpy.mean(aps)`), copied
// unchanged into PaddleCV/video metrics/youtube8m/. All values are fractions in [0, 1], as the
// original prints them (not percent). docs/metrics.md has the definitions and the tie rules.
//
// Ties. Selecting classes (the argmax of Hit@1, the k best classes of PERR, the top-k of
// GAP / mAP) breaks ties towards the lower class index, as numpy's argmax and
// metrics/classification's ranked_classes do (the starter code's argpartition picks an
// unspecified one). Ranking the pooled predictions for an AP: the starter code shuffles them with
// random.seed(0) before a stable sort, so tied predictions come in an arbitrary order that
// depends on the list's length; we return the exact mean of the AP over all orders of the tied
// predictions (what the shuffle samples from), computed in closed form. Without ties both are
// the plain AP.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "metrics/meter.h"

namespace vc::metrics {

/// One of the sparse top-k predictions: a class's score in one video and whether the class is
/// one of that video's labels.
struct ScoredLabel {
  float score;
  bool positive;
};

/// Non-interpolated average precision of `items` in any order (the starter code's `ap_at_n`
/// with n = None): items ranked by score, highest first; AP = sum over the positive items of
/// (positives up to and including it / its rank), divided by `total_positives`, which counts
/// every positive of the evaluation, also those not among `items`. Tied scores: the mean over
/// all orders of the tied items. 0 when `items` is empty or total_positives is 0 (as the
/// original). Throws std::invalid_argument for a NaN score or when total_positives is smaller
/// than the number of positive items.
double average_precision(std::vector<ScoredLabel> items, int64_t total_positives);

/// The per-batch functions below take scores: probabilities [N, C] in [0, 1] (sigmoid outputs,
/// what the original passes), and labels: multi-hot [N, C] of 0 / 1 (any dtype). They throw
/// std::invalid_argument naming the mismatch (shapes, a NaN or out-of-range score, a label that
/// is not 0 or 1, top_k < 1). An empty batch (N = 0) gives 0.

/// Hit@1: mean over videos of labels[argmax(scores)] (ties: the lowest class index).
double hit_at_one(const at::Tensor& scores, const at::Tensor& labels);

/// PERR, precision at equal recall rate: per video with k labels, the fraction of its k
/// best-scored classes (ties: lower index first) that are labels and score > 0 (the starter
/// code's condition); mean over videos. A video without labels contributes 0 and still counts
/// in the mean (the starter code's argpartition(-0) takes every class, none of them positive).
double perr(const at::Tensor& scores, const at::Tensor& labels);

/// GAP of this batch alone (the original's per-batch log line): each video's top_k classes
/// (score, is-label) pooled, AP over the pool with every label of the batch as the positives.
double gap(const at::Tensor& scores, const at::Tensor& labels, int64_t top_k = 20);

/// Per-class AP of this batch alone (MeanAveragePrecisionCalculator over the top_k sparse
/// predictions): class c's AP ranks the videos that have c in their top_k and is normalised by
/// all videos labelled c. A class never in any top_k, or without labels, has AP 0. [C] values.
std::vector<double> class_average_precisions(const at::Tensor& scores, const at::Tensor& labels,
                                             int64_t top_k = 20);

/// Accumulates over an evaluation or an epoch. update() takes logits [N, C] (scores are
/// sigmoid(logits) in float32, as the original's sigmoid output) and multi-hot float targets
/// [N, C]. values(): loss, hit_at_one, perr, gap, map (fractions); primary: gap. reports(): the
/// per-class APs (class_aps.csv: class, name, ap, positives).
///
/// Hit@1, PERR and loss are means over videos (loss weighted by batch size). GAP and the class
/// APs use every update() since reset(): the result equals one update() with all the videos.
/// Memory: 4 bytes per (video, top-k class) pair (score and label packed), e.g. ~90 MB for the
/// 1.1 M videos of YouTube-8M validate at top 20 (up to twice that while vectors grow), never a
/// dense [N, C]. Not thread-safe.
class Youtube8mMeter : public Meter {
 public:
  /// num_classes >= 1 (3862 for YouTube-8M 2018), top_k >= 1 (clamped to num_classes);
  /// std::invalid_argument otherwise.
  explicit Youtube8mMeter(int64_t num_classes, int64_t top_k = 20);
  ~Youtube8mMeter() override;

  /// logits: [N, C] (no NaN); target: [N, C] of 0 / 1; std::invalid_argument naming the
  /// mismatch otherwise (the meter is then unchanged).
  void update(const at::Tensor& logits, const at::Tensor& target, double mean_loss) override;
  void reset() override;
  int64_t count() const override;
  std::vector<std::pair<std::string, double>> values() const override;
  std::string primary() const override { return "gap"; }
  std::vector<std::pair<std::string, std::string>> reports(
      const std::vector<std::string>& class_names) const override;
  std::unique_ptr<Meter> clone_empty() const override;

  int64_t num_classes() const { return num_classes_; }
  int64_t top_k() const { return top_k_; }
  /// The values() entries, 0 before the first video.
  double loss() const;
  double hit_at_one() const;
  double perr() const;
  double gap() const;
  /// Mean of class_aps() over all num_classes classes, those without labels included as 0
  /// (the starter code's `numpy.mean(aps)`).
  double mean_ap() const;
  /// [C] per-class APs over the accumulated top-k predictions (see class_average_precisions).
  std::vector<double> class_aps() const;
  /// [C] labels seen per class.
  std::vector<int64_t> class_positives() const;

 private:
  struct State;
  /// Sorts the accumulated lists and computes GAP and the class APs when an update() came
  /// since the last call.
  void finalize() const;
  std::unique_ptr<State> state_;
  int64_t num_classes_;
  int64_t top_k_;
};

}  // namespace vc::metrics
