#include "metrics/youtube8m.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace vc::metrics {
namespace {

std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

[[noreturn]] void fail(const std::string& who, const std::string& what) {
  throw std::invalid_argument(who + ": " + what);
}

/// scores: [N, C] (C = num_classes unless num_classes < 0); labels: the same shape.
void check_shapes(const std::string& who, const char* scores_name, const at::Tensor& scores,
                  const char* labels_name, const at::Tensor& labels, int64_t num_classes) {
  const bool columns_ok =
      num_classes < 0 || (scores.defined() && scores.dim() == 2 && scores.size(1) == num_classes);
  if (!scores.defined() || scores.dim() != 2 || !columns_ok) {
    fail(who, std::string(scores_name) + " must be [N, " +
                  (num_classes < 0 ? std::string("C") : std::to_string(num_classes)) + "], got " +
                  shape_of(scores));
  }
  if (!labels.defined() || labels.sizes() != scores.sizes()) {
    fail(who, std::string(labels_name) + " must be multi-hot " + shape_of(scores) + " like the " +
                  scores_name + ", got " + shape_of(labels));
  }
}

at::Tensor cpu_float(const at::Tensor& t) {
  return t.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
}

/// One sparse prediction packed in 4 bytes: the score's IEEE-754 bits shifted left by one, the
/// label in bit 0. Non-negative floats order like their bit patterns, so for scores in [0, 1]
/// keys order like scores (bits <= 0x3F800000, the shift cannot overflow) and two predictions
/// tie exactly when their keys agree above bit 0.
uint32_t pack(float score, bool positive) {
  if (score == 0.f) score = 0.f;  // -0 -> +0
  uint32_t bits;
  std::memcpy(&bits, &score, sizeof bits);
  return (bits << 1) | (positive ? 1u : 0u);
}

/// The sum, over the positives of a group of tied predictions, of the precision at their rank,
/// averaged over all n! orders of the group. `rank` predictions precede the group, `before` of
/// them positive; the group has n predictions, p of them positive. In a uniformly random order,
/// group position i (1-based) holds a positive with probability p / n, and given that, the
/// expected number of positives ahead of it in the group is (i - 1)(p - 1)/(n - 1)
/// (hypergeometric); precision is linear in that count, so its mean is exact.
double tie_group_precision_sum(int64_t rank, int64_t before, int64_t n, int64_t p) {
  if (p == 0) return 0.0;
  if (n == 1) return static_cast<double>(before + 1) / static_cast<double>(rank + 1);
  const double ahead_per_step = static_cast<double>(p - 1) / static_cast<double>(n - 1);
  double sum = 0.0;
  for (int64_t i = 1; i <= n; ++i) {
    sum += (static_cast<double>(before + 1) + static_cast<double>(i - 1) * ahead_per_step) /
           static_cast<double>(rank + i);
  }
  return sum * static_cast<double>(p) / static_cast<double>(n);
}

/// AP of `n` predictions sorted by score, highest first: tie(i, j) says whether i and j have the
/// same score, positive(i) whether i is a label. 0 when n or total_positives is 0.
template <class Tie, class Positive>
double sorted_average_precision(size_t n, Tie tie, Positive positive, int64_t total_positives) {
  if (n == 0 || total_positives <= 0) return 0.0;
  double sum = 0.0;
  int64_t rank = 0;
  int64_t before = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    int64_t p = 0;
    for (; j < n && tie(i, j); ++j) p += positive(j) ? 1 : 0;
    const auto group = static_cast<int64_t>(j - i);
    sum += tie_group_precision_sum(rank, before, group, p);
    rank += group;
    before += p;
    i = j;
  }
  return sum / static_cast<double>(total_positives);
}

/// Sorts `keys` (packed predictions) by score, highest first, and returns their AP.
double keys_average_precision(std::vector<uint32_t>& keys, int64_t total_positives) {
  std::sort(keys.begin(), keys.end(), std::greater<uint32_t>());
  return sorted_average_precision(
      keys.size(), [&](size_t i, size_t j) { return (keys[i] >> 1) == (keys[j] >> 1); },
      [&](size_t i) { return (keys[i] & 1u) != 0; }, total_positives);
}

/// The sums and sparse top-k lists shared by the meter and the per-batch functions.
struct Accumulator {
  int64_t num_classes;
  int64_t top_k;  // clamped to num_classes
  int64_t videos = 0;
  int64_t hits = 0;
  double perr_sum = 0.0;
  std::vector<std::vector<uint32_t>> lists;  // [C]: packed (score, label) of each class's top-k
  std::vector<int64_t> positives;            // [C]: labels seen per class
  // finalize() results, valid while !dirty.
  bool dirty = false;
  double gap = 0.0;
  std::vector<double> aps;

  Accumulator(int64_t classes, int64_t k)
      : num_classes(classes),
        top_k(std::min(k, classes)),
        lists(static_cast<size_t>(classes)),
        positives(static_cast<size_t>(classes), 0),
        aps(static_cast<size_t>(classes), 0.0) {}

  /// What the scan of add() checks. `who` and the names go into the error messages.
  struct Check {
    std::string who;
    const char* scores_name;
    const char* labels_name;
    bool probabilities;  // scores must lie in [0, 1] (else only NaN is an error)
  };

  /// scores, labels: CPU float32 contiguous [N, C] (C = num_classes). Validates every value
  /// first (NaN score, a score outside [0, 1] when check.probabilities, a label not 0 or 1:
  /// std::invalid_argument naming the first by row and class) and changes nothing on error.
  void add(const at::Tensor& scores, const at::Tensor& labels, const Check& check) {
    const int64_t n = scores.size(0);
    const int64_t c = num_classes;
    const int64_t k = top_k;
    if (n == 0) return;
    const float* s = scores.data_ptr<float>();
    const float* l = labels.data_ptr<float>();
    std::vector<int64_t> top(static_cast<size_t>(n * k));  // [N, k] best classes, best first
    std::vector<uint8_t> hit(static_cast<size_t>(n));
    std::vector<double> precision(static_cast<size_t>(n));
    std::vector<int64_t> bad(static_cast<size_t>(n), -1);  // first bad class of each row
    std::vector<int64_t> per_class(static_cast<size_t>(c), 0);
    std::mutex per_class_mutex;
    at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
      std::vector<int64_t> order(static_cast<size_t>(c));
      std::vector<int64_t> counts(static_cast<size_t>(c), 0);
      for (int64_t r = begin; r < end; ++r) {
        const float* sr = s + r * c;
        const float* lr = l + r * c;
        int64_t labelled = 0;
        for (int64_t j = 0; j < c; ++j) {
          const bool bad_score =
              std::isnan(sr[j]) || (check.probabilities && (sr[j] < 0.f || sr[j] > 1.f));
          const bool bad_label = lr[j] != 0.f && lr[j] != 1.f;  // NaN included
          if (bad_score || bad_label) {
            bad[static_cast<size_t>(r)] = j;
            break;
          }
          if (lr[j] != 0.f) {
            ++labelled;
            ++counts[static_cast<size_t>(j)];
          }
        }
        if (bad[static_cast<size_t>(r)] >= 0) continue;
        // A strict total order: score descending, then class index ascending.
        auto better = [sr](int64_t a, int64_t b) {
          return sr[a] > sr[b] || (sr[a] == sr[b] && a < b);
        };
        const int64_t m = std::max(k, labelled);  // <= c
        std::iota(order.begin(), order.end(), int64_t{0});
        std::partial_sort(order.begin(), order.begin() + m, order.end(), better);
        hit[static_cast<size_t>(r)] = lr[order[0]] != 0.f ? 1 : 0;
        int64_t good = 0;
        for (int64_t j = 0; j < labelled; ++j) {
          good += (lr[order[j]] != 0.f && sr[order[j]] > 0.f) ? 1 : 0;
        }
        precision[static_cast<size_t>(r)] =
            labelled ? static_cast<double>(good) / static_cast<double>(labelled) : 0.0;
        std::copy(order.begin(), order.begin() + k, top.begin() + r * k);
      }
      std::lock_guard<std::mutex> lock(per_class_mutex);
      for (int64_t j = 0; j < c; ++j)
        per_class[static_cast<size_t>(j)] += counts[static_cast<size_t>(j)];
    });
    for (int64_t r = 0; r < n; ++r) {
      const int64_t j = bad[static_cast<size_t>(r)];
      if (j < 0) continue;
      const float sv = s[r * c + j];
      const float lv = l[r * c + j];
      const std::string where = " at row " + std::to_string(r) + ", class " + std::to_string(j);
      if (std::isnan(sv)) fail(check.who, std::string(check.scores_name) + " has NaN" + where);
      if (lv != 0.f && lv != 1.f) {
        fail(check.who, std::string(check.labels_name) + " must be multi-hot (0 or 1), got " +
                            std::to_string(lv) + where);
      }
      fail(check.who, std::string(check.scores_name) + " must be probabilities in [0, 1], got " +
                          std::to_string(sv) + where);
    }
    for (int64_t j = 0; j < c; ++j)
      positives[static_cast<size_t>(j)] += per_class[static_cast<size_t>(j)];
    for (int64_t r = 0; r < n; ++r) {
      hits += hit[static_cast<size_t>(r)];
      perr_sum += precision[static_cast<size_t>(r)];
      for (int64_t j = 0; j < k; ++j) {
        const int64_t cls = top[static_cast<size_t>(r * k + j)];
        lists[static_cast<size_t>(cls)].push_back(pack(s[r * c + cls], l[r * c + cls] != 0.f));
      }
    }
    videos += n;
    dirty = true;
  }

  /// Per-class APs and the GAP of the pooled lists (sorts the lists in place).
  void compute() {
    size_t pooled_size = 0;
    int64_t total_positives = 0;
    for (int64_t j = 0; j < num_classes; ++j) {
      auto& list = lists[static_cast<size_t>(j)];
      aps[static_cast<size_t>(j)] = keys_average_precision(list, positives[static_cast<size_t>(j)]);
      pooled_size += list.size();
      total_positives += positives[static_cast<size_t>(j)];
    }
    std::vector<uint32_t> pooled;
    pooled.reserve(pooled_size);
    for (const auto& list : lists) pooled.insert(pooled.end(), list.begin(), list.end());
    gap = keys_average_precision(pooled, total_positives);
    dirty = false;
  }
};

/// An Accumulator over one batch of probabilities, validated as the per-batch functions promise.
std::unique_ptr<Accumulator> batch_state(const char* who, const at::Tensor& scores,
                                         const at::Tensor& labels, int64_t top_k) {
  if (top_k < 1) fail(who, "top_k must be >= 1, got " + std::to_string(top_k));
  check_shapes(who, "scores", scores, "labels", labels, -1);
  if (scores.size(1) == 0)
    fail(who, "scores must have at least one class, got " + shape_of(scores));
  auto st = std::make_unique<Accumulator>(scores.size(1), top_k);
  st->add(cpu_float(scores), cpu_float(labels), {who, "scores", "labels", true});
  return st;
}

}  // namespace

struct Youtube8mMeter::State : Accumulator {
  using Accumulator::Accumulator;
  double loss_sum = 0.0;
};

// ---- per-batch functions ----------------------------------------------------------------------

double average_precision(std::vector<ScoredLabel> items, int64_t total_positives) {
  int64_t positive_items = 0;
  for (const auto& item : items) {
    if (std::isnan(item.score)) fail("average_precision", "a score is NaN");
    positive_items += item.positive ? 1 : 0;
  }
  if (total_positives < positive_items) {
    fail("average_precision", "total_positives " + std::to_string(total_positives) +
                                  " is smaller than the " + std::to_string(positive_items) +
                                  " positive items given");
  }
  std::sort(items.begin(), items.end(),
            [](const ScoredLabel& a, const ScoredLabel& b) { return a.score > b.score; });
  return sorted_average_precision(
      items.size(), [&](size_t i, size_t j) { return items[i].score == items[j].score; },
      [&](size_t i) { return items[i].positive; }, total_positives);
}

double hit_at_one(const at::Tensor& scores, const at::Tensor& labels) {
  auto st = batch_state("hit_at_one", scores, labels, 1);
  return st->videos ? static_cast<double>(st->hits) / static_cast<double>(st->videos) : 0.0;
}

double perr(const at::Tensor& scores, const at::Tensor& labels) {
  auto st = batch_state("perr", scores, labels, 1);
  return st->videos ? st->perr_sum / static_cast<double>(st->videos) : 0.0;
}

double gap(const at::Tensor& scores, const at::Tensor& labels, int64_t top_k) {
  auto st = batch_state("gap", scores, labels, top_k);
  st->compute();
  return st->gap;
}

std::vector<double> class_average_precisions(const at::Tensor& scores, const at::Tensor& labels,
                                             int64_t top_k) {
  auto st = batch_state("class_average_precisions", scores, labels, top_k);
  st->compute();
  return st->aps;
}

// ---- the meter --------------------------------------------------------------------------------

Youtube8mMeter::Youtube8mMeter(int64_t num_classes, int64_t top_k)
    : num_classes_(num_classes), top_k_(top_k) {
  if (num_classes < 1) {
    fail("Youtube8mMeter", "num_classes must be >= 1, got " + std::to_string(num_classes));
  }
  if (top_k < 1) fail("Youtube8mMeter", "top_k must be >= 1, got " + std::to_string(top_k));
  state_ = std::make_unique<State>(num_classes, top_k);
}

Youtube8mMeter::~Youtube8mMeter() = default;

void Youtube8mMeter::update(const at::Tensor& logits, const at::Tensor& target, double mean_loss) {
  const std::string who = "Youtube8mMeter";
  check_shapes(who, "logits", logits, "target", target, num_classes_);
  auto scores = cpu_float(logits).sigmoid();  // [N, C] in [0, 1], float32 as the original's
  state_->add(scores, cpu_float(target), {who, "logits", "target", false});
  state_->loss_sum += mean_loss * static_cast<double>(scores.size(0));
}

void Youtube8mMeter::reset() { state_ = std::make_unique<State>(num_classes_, top_k_); }

int64_t Youtube8mMeter::count() const { return state_->videos; }

void Youtube8mMeter::finalize() const {
  if (state_->dirty) state_->compute();
}

double Youtube8mMeter::loss() const {
  return state_->videos ? state_->loss_sum / static_cast<double>(state_->videos) : 0.0;
}

double Youtube8mMeter::hit_at_one() const {
  return state_->videos ? static_cast<double>(state_->hits) / static_cast<double>(state_->videos)
                        : 0.0;
}

double Youtube8mMeter::perr() const {
  return state_->videos ? state_->perr_sum / static_cast<double>(state_->videos) : 0.0;
}

double Youtube8mMeter::gap() const {
  finalize();
  return state_->gap;
}

std::vector<double> Youtube8mMeter::class_aps() const {
  finalize();
  return state_->aps;
}

std::vector<int64_t> Youtube8mMeter::class_positives() const { return state_->positives; }

double Youtube8mMeter::mean_ap() const {
  finalize();
  double sum = 0.0;
  for (double ap : state_->aps) sum += ap;
  return sum / static_cast<double>(num_classes_);
}

std::vector<std::pair<std::string, double>> Youtube8mMeter::values() const {
  return {{"loss", loss()},
          {"hit_at_one", hit_at_one()},
          {"perr", perr()},
          {"gap", gap()},
          {"map", mean_ap()}};
}

std::unique_ptr<Meter> Youtube8mMeter::clone_empty() const {
  return std::make_unique<Youtube8mMeter>(num_classes_, top_k_);
}

std::vector<std::pair<std::string, std::string>> Youtube8mMeter::reports(
    const std::vector<std::string>& class_names) const {
  finalize();
  auto quoted = [](const std::string& s) {
    std::string out = "\"";
    for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
  };
  std::string csv = "class,name,ap,positives\n";
  char ap[32];
  for (int64_t j = 0; j < num_classes_; ++j) {
    const auto i = static_cast<size_t>(j);
    std::snprintf(ap, sizeof ap, "%.6f", state_->aps[i]);
    csv += std::to_string(j) + "," + quoted(i < class_names.size() ? class_names[i] : "") + "," +
           ap + "," + std::to_string(state_->positives[i]) + "\n";
  }
  return {{"class_aps.csv", csv}};
}

}  // namespace vc::metrics
