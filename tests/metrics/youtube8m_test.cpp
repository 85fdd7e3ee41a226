// YouTube-8M metrics (metrics/youtube8m.h): hand-computed Hit@1, PERR, GAP and per-class APs
// (ties, videos without labels, classes never predicted, positives outside the top-k), the
// meter's accumulation, and a cross-check against an independent numpy implementation of the
// starter code's formulas (tests/metrics/yt8m_metrics_reference.py).
#include "metrics/youtube8m.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "tests/support/temp_dir.h"

namespace vc::metrics {
namespace {

using vc::testing::message_of;

// sigmoid^-1, so that the meter (which takes logits) sees exactly these scores' order.
torch::Tensor inverse_sigmoid(const torch::Tensor& p) { return (p / (1 - p)).log(); }

// The running example (C = 4, top_k = 2), worked by hand:
//  video A: scores .9 .8 .1 .05, labels 1 0 0 1 -> top-2 (.9,+) (.8,-); label 3 is outside it
//  video B: scores .2 .7 .6 .3,  labels 0 1 0 0 -> top-2 (.7,+) (.6,-)
// Pooled: .9+ .8- .7+ .6-, 3 labels in all -> GAP = (1/1 + 2/3) / 3 = 5/9.
// Hit@1: A argmax 0 (label), B argmax 1 (label) -> 1. PERR: A k=2 {0,1} -> 1/2; B k=1 {1} -> 1;
// mean 3/4. Class APs: 0: (.9,+) of 1 label -> 1; 1: .8- .7+ of 1 label -> 1/2; 2: (.6,-), no
// label -> 0; 3: never in a top-2, 1 label -> 0. mAP = 1.5 / 4.
torch::Tensor example_scores() {
  return torch::tensor({{0.9f, 0.8f, 0.1f, 0.05f}, {0.2f, 0.7f, 0.6f, 0.3f}});
}
torch::Tensor example_labels() {
  return torch::tensor({{1.f, 0.f, 0.f, 1.f}, {0.f, 1.f, 0.f, 0.f}});
}

TEST(Youtube8m, HandComputedExample) {
  const auto s = example_scores();
  const auto l = example_labels();
  EXPECT_DOUBLE_EQ(hit_at_one(s, l), 1.0);
  EXPECT_DOUBLE_EQ(perr(s, l), 0.75);
  EXPECT_DOUBLE_EQ(gap(s, l, 2), 5.0 / 9.0);
  const auto aps = class_average_precisions(s, l, 2);
  ASSERT_EQ(aps.size(), 4u);
  EXPECT_DOUBLE_EQ(aps[0], 1.0);
  EXPECT_DOUBLE_EQ(aps[1], 0.5);
  EXPECT_DOUBLE_EQ(aps[2], 0.0);
  EXPECT_DOUBLE_EQ(aps[3], 0.0);
  // With top_k = 4 every prediction is kept: .9+ .8- .7+ .6- .3- .2- .1- .05+ ->
  // (1/1 + 2/3 + 3/8) / 3.
  EXPECT_DOUBLE_EQ(gap(s, l, 4), (1.0 + 2.0 / 3.0 + 3.0 / 8.0) / 3.0);
  // top_k above C is clamped to C.
  EXPECT_DOUBLE_EQ(gap(s, l, 20), gap(s, l, 4));
}

TEST(Youtube8m, MeterOnTheExample) {
  Youtube8mMeter m(4, 2);
  m.update(inverse_sigmoid(example_scores()), example_labels(), 0.5);
  EXPECT_EQ(m.count(), 2);
  EXPECT_EQ(m.primary(), "gap");
  EXPECT_DOUBLE_EQ(m.value("loss"), 0.5);
  EXPECT_DOUBLE_EQ(m.value("hit_at_one"), 1.0);
  EXPECT_DOUBLE_EQ(m.value("perr"), 0.75);
  EXPECT_NEAR(m.value("gap"), 5.0 / 9.0, 1e-12);
  EXPECT_NEAR(m.value("map"), 1.5 / 4.0, 1e-12);
  std::vector<std::string> keys;
  for (const auto& [k, v] : m.values()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"loss", "hit_at_one", "perr", "gap", "map"}));
  EXPECT_EQ(m.class_positives(), (std::vector<int64_t>{1, 1, 0, 1}));
}

TEST(Youtube8m, PositivesOutsideTopKCountInTheDenominator) {
  // One video, 3 labels, top_k = 1: the single kept prediction is a label, yet GAP = 1/3.
  auto s = torch::tensor({{0.9f, 0.8f, 0.7f, 0.1f}});
  auto l = torch::tensor({{1.f, 1.f, 1.f, 0.f}});
  EXPECT_DOUBLE_EQ(gap(s, l, 1), 1.0 / 3.0);
  const auto aps = class_average_precisions(s, l, 1);
  EXPECT_EQ(aps, (std::vector<double>{1.0, 0.0, 0.0, 0.0}));  // 1 and 2 never kept
}

TEST(Youtube8m, VideosWithoutLabels) {
  // C = 3, top_k = 1. A has no labels: Hit@1 0, PERR 0 (but counted), and its top-1 (.9,-) is
  // pooled ahead of B's (.8,+) -> GAP = (1/2) / 1.
  auto s = torch::tensor({{0.9f, 0.1f, 0.2f}, {0.3f, 0.8f, 0.1f}});
  auto l = torch::tensor({{0.f, 0.f, 0.f}, {0.f, 1.f, 0.f}});
  EXPECT_DOUBLE_EQ(hit_at_one(s, l), 0.5);
  EXPECT_DOUBLE_EQ(perr(s, l), 0.5);
  EXPECT_DOUBLE_EQ(gap(s, l, 1), 0.5);
  // Only unlabelled videos: no positives, GAP and every class AP are 0.
  auto none = torch::zeros({2, 3});
  EXPECT_DOUBLE_EQ(gap(s, none, 2), 0.0);
  EXPECT_DOUBLE_EQ(perr(s, none), 0.0);
  EXPECT_EQ(class_average_precisions(s, none, 2), (std::vector<double>{0.0, 0.0, 0.0}));
}

TEST(Youtube8m, ClassesNeverPredictedAndMapOverAllClasses) {
  // C = 5, top_k = 1: class 4 is labelled but never a top-1; class 3 is neither labelled nor
  // predicted. Top-1s: A class 0 (+), B class 0 (-), C class 1 (+).
  auto s = torch::tensor({{0.9f, 0.1f, 0.1f, 0.1f, 0.5f},
                          {0.8f, 0.2f, 0.1f, 0.1f, 0.3f},
                          {0.1f, 0.7f, 0.2f, 0.1f, 0.3f}});
  auto l = torch::tensor(
      {{1.f, 0.f, 0.f, 0.f, 1.f}, {0.f, 0.f, 0.f, 0.f, 1.f}, {0.f, 1.f, 0.f, 0.f, 0.f}});
  Youtube8mMeter m(5, 1);
  m.update(inverse_sigmoid(s), l, 0.0);
  const auto aps = m.class_aps();
  // class 0: .9+ .8-, 1 label -> 1; class 1: .7+, 1 label -> 1; 2, 3: 0; 4: 2 labels, never kept.
  EXPECT_NEAR(aps[0], 1.0, 1e-12);
  EXPECT_NEAR(aps[1], 1.0, 1e-12);
  EXPECT_EQ(aps[2], 0.0);
  EXPECT_EQ(aps[3], 0.0);
  EXPECT_EQ(aps[4], 0.0);
  EXPECT_NEAR(m.mean_ap(), 2.0 / 5.0, 1e-12);  // the mean over all 5 classes
  // Pooled .9+ .8- .7+ with 4 labels in all: (1 + 2/3) / 4.
  EXPECT_NEAR(m.gap(), (1.0 + 2.0 / 3.0) / 4.0, 1e-12);
  const auto reports = m.reports({"zero", "one", "two \"2\""});
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].first, "class_aps.csv");
  EXPECT_EQ(reports[0].second,
            "class,name,ap,positives\n"
            "0,\"zero\",1.000000,1\n"
            "1,\"one\",1.000000,1\n"
            "2,\"two \"\"2\"\"\",0.000000,0\n"
            "3,\"\",0.000000,0\n"
            "4,\"\",0.000000,2\n");
}

TEST(Youtube8m, PerrCountsOnlyPositiveScores) {
  // Both scores 0 (as sigmoid(-200) in float32): the one label is the top-1 by index, so Hit@1 is
  // 1, but PERR counts a label only when its score is > 0 (the starter code's condition).
  auto s = torch::tensor({{0.f, 0.f}});
  auto l = torch::tensor({{1.f, 0.f}});
  EXPECT_DOUBLE_EQ(hit_at_one(s, l), 1.0);
  EXPECT_DOUBLE_EQ(perr(s, l), 0.0);
  Youtube8mMeter m(2);
  m.update(torch::tensor({{-200.f, -300.f}}), l, 0.0);
  EXPECT_DOUBLE_EQ(m.hit_at_one(), 1.0);
  EXPECT_DOUBLE_EQ(m.perr(), 0.0);
}

TEST(Youtube8m, SelectionTiesGoToTheLowerClassIndex) {
  // Hit@1: argmax ties -> lowest index (numpy argmax).
  auto tied = torch::tensor({{0.5f, 0.5f, 0.1f}});
  EXPECT_DOUBLE_EQ(hit_at_one(tied, torch::tensor({{0.f, 1.f, 0.f}})), 0.0);
  EXPECT_DOUBLE_EQ(hit_at_one(tied, torch::tensor({{1.f, 0.f, 0.f}})), 1.0);
  // PERR, k = 2 labels {0, 2}: classes 1 and 2 tie for the second place -> class 1 is taken.
  auto s = torch::tensor({{0.7f, 0.5f, 0.5f}});
  EXPECT_DOUBLE_EQ(perr(s, torch::tensor({{1.f, 0.f, 1.f}})), 0.5);
  EXPECT_DOUBLE_EQ(perr(s, torch::tensor({{1.f, 1.f, 0.f}})), 1.0);
  // Top-k, k = 2: class 1 kept, class 2 not -> class 2's AP is 0 though it is labelled.
  const auto aps = class_average_precisions(s, torch::tensor({{0.f, 0.f, 1.f}}), 2);
  EXPECT_EQ(aps, (std::vector<double>{0.0, 0.0, 0.0}));
  EXPECT_DOUBLE_EQ(class_average_precisions(s, torch::tensor({{0.f, 1.f, 0.f}}), 2)[1], 1.0);
}

// AP of a list in exactly the given order (no tie handling): the starter code after its shuffle.
double ap_in_order(const std::vector<ScoredLabel>& items, int64_t total) {
  double ap = 0.0;
  int64_t seen = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].positive) ap += static_cast<double>(++seen) / static_cast<double>(i + 1);
  }
  return total ? ap / static_cast<double>(total) : 0.0;
}

TEST(Youtube8m, RankingTiesGiveTheMeanOverTieOrders) {
  // Three tied predictions, one positive: precision 1, 1/2 or 1/3 by its place -> mean 11/18
  // (a positives-last rule would give 1/3, positives-first 1).
  EXPECT_DOUBLE_EQ(average_precision({{0.5f, false}, {0.5f, true}, {0.5f, false}}, 1), 11.0 / 18.0);
  // After a positive at rank 1, a tied (+, -) pair: 2/2 or 2/3 -> (1 + 5/6) / 2 = 11/12.
  EXPECT_DOUBLE_EQ(average_precision({{0.5f, false}, {0.9f, true}, {0.5f, true}}, 2), 11.0 / 12.0);
  // All tied predictions positive: no uncertainty, (1/1 + 2/2) / 3 labels.
  EXPECT_DOUBLE_EQ(average_precision({{0.5f, true}, {0.5f, true}}, 3), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(average_precision({}, 3), 0.0);
  EXPECT_DOUBLE_EQ(average_precision({{0.5f, false}}, 0), 0.0);

  // Against brute force: the mean of the in-order AP over every permutation of 8 items with
  // three tie groups (a stable sort of each permutation orders tied items as permuted).
  std::vector<ScoredLabel> items = {{0.9f, true}, {0.7f, false}, {0.7f, true},  {0.7f, false},
                                    {0.7f, true}, {0.4f, true},  {0.4f, false}, {0.2f, true}};
  std::vector<int> perm(items.size());
  std::iota(perm.begin(), perm.end(), 0);
  double sum = 0.0;
  int64_t orders = 0;
  do {
    std::vector<ScoredLabel> order;
    for (int i : perm) order.push_back(items[static_cast<size_t>(i)]);
    std::stable_sort(order.begin(), order.end(),
                     [](const ScoredLabel& a, const ScoredLabel& b) { return a.score > b.score; });
    sum += ap_in_order(order, 7);
    ++orders;
  } while (std::next_permutation(perm.begin(), perm.end()));
  EXPECT_NEAR(average_precision(items, 7), sum / static_cast<double>(orders), 1e-12);

  // Through GAP: two videos whose top-1 scores tie, one a label -> (1 + 1/2) / 2 over 1 label.
  auto s = torch::tensor({{0.6f, 0.1f}, {0.1f, 0.6f}});
  auto l = torch::tensor({{1.f, 0.f}, {0.f, 0.f}});
  EXPECT_DOUBLE_EQ(gap(s, l, 1), 0.75);
  // ... the same whichever video comes first.
  EXPECT_DOUBLE_EQ(gap(s.flip(0), l.flip(0), 1), 0.75);
}

TEST(Youtube8m, AccumulationOverUpdatesEqualsOneCall) {
  torch::manual_seed(7);
  const int64_t n = 300, c = 50;
  // Logits on a coarse grid, so that many scores tie within and across batches.
  auto logits = torch::randint(-8, 9, {n, c}).to(torch::kFloat) * 0.5;
  auto labels = (torch::rand({n, c}) < 0.06).to(torch::kFloat);
  labels.select(0, 3).zero_();  // a video without labels
  labels.select(1, 7).zero_();  // a class without labels
  Youtube8mMeter whole(c);
  whole.update(logits, labels, 2.0);
  Youtube8mMeter parts(c);
  const std::vector<int64_t> cuts = {0, 1, 40, 41, 170, 300};
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    parts.update(logits.slice(0, cuts[i], cuts[i + 1]), labels.slice(0, cuts[i], cuts[i + 1]), 2.0);
  }
  EXPECT_EQ(parts.count(), n);
  for (const auto& [k, v] : whole.values()) EXPECT_EQ(parts.value(k), v) << k;
  EXPECT_EQ(parts.class_aps(), whole.class_aps());
  // The videos in reverse order give the same GAP and APs (ties do not depend on order).
  Youtube8mMeter reversed(c);
  reversed.update(logits.flip(0), labels.flip(0), 2.0);
  EXPECT_NEAR(reversed.gap(), whole.gap(), 1e-12);
  // values() may be called between updates.
  Youtube8mMeter interleaved(c);
  interleaved.update(logits.slice(0, 0, 100), labels.slice(0, 0, 100), 2.0);
  EXPECT_GT(interleaved.gap(), 0.0);
  interleaved.update(logits.slice(0, 100, n), labels.slice(0, 100, n), 2.0);
  EXPECT_EQ(interleaved.gap(), whole.gap());
  EXPECT_EQ(interleaved.class_aps(), whole.class_aps());
  // The meter's top-k GAP equals the per-batch function on sigmoid scores.
  EXPECT_NEAR(whole.gap(), gap(logits.sigmoid(), labels, 20), 1e-12);
}

TEST(Youtube8m, LossIsWeightedByBatchSize) {
  Youtube8mMeter m(4, 2);
  m.update(inverse_sigmoid(example_scores()).slice(0, 0, 1), example_labels().slice(0, 0, 1), 1.0);
  m.update(inverse_sigmoid(example_scores()), example_labels(), 4.0);  // 2 videos
  EXPECT_DOUBLE_EQ(m.loss(), (1.0 + 8.0) / 3.0);
}

TEST(Youtube8m, CloneEmptyAndReset) {
  Youtube8mMeter m(4, 2);
  m.update(inverse_sigmoid(example_scores()), example_labels(), 0.5);
  auto clone = m.clone_empty();
  EXPECT_EQ(clone->count(), 0);
  for (const auto& [k, v] : clone->values()) EXPECT_EQ(v, 0.0) << k;
  auto* typed = dynamic_cast<Youtube8mMeter*>(clone.get());
  ASSERT_NE(typed, nullptr);
  EXPECT_EQ(typed->num_classes(), 4);
  EXPECT_EQ(typed->top_k(), 2);
  clone->update(inverse_sigmoid(example_scores()), example_labels(), 0.5);
  for (const auto& [k, v] : m.values()) EXPECT_EQ(clone->value(k), v) << k;
  m.reset();
  EXPECT_EQ(m.count(), 0);
  EXPECT_EQ(m.gap(), 0.0);
  EXPECT_EQ(m.class_positives(), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(m.summary(), "loss 0.000000 hit_at_one 0.00 perr 0.00 gap 0.00 map 0.00");
}

TEST(Youtube8m, EmptyBatch) {
  Youtube8mMeter m(4);
  m.update(torch::zeros({0, 4}), torch::zeros({0, 4}), 1.0);
  EXPECT_EQ(m.count(), 0);
  EXPECT_EQ(m.gap(), 0.0);
  EXPECT_EQ(gap(torch::zeros({0, 4}), torch::zeros({0, 4})), 0.0);
  EXPECT_EQ(hit_at_one(torch::zeros({0, 4}), torch::zeros({0, 4})), 0.0);
}

TEST(Youtube8m, RejectsBadInputNamingIt) {
  Youtube8mMeter m(4);
  auto msg = message_of([&] { m.update(torch::zeros({2, 5}), torch::zeros({2, 5}), 0.0); });
  EXPECT_NE(msg.find("logits must be [N, 4], got [2, 5]"), std::string::npos) << msg;
  msg = message_of([&] { m.update(torch::zeros({2, 4}), torch::zeros({2}), 0.0); });
  EXPECT_NE(msg.find("target must be multi-hot [2, 4] like the logits, got [2]"), std::string::npos)
      << msg;
  msg = message_of([&] { m.update(torch::zeros({4}), torch::zeros({4}), 0.0); });
  EXPECT_NE(msg.find("logits must be [N, 4], got [4]"), std::string::npos) << msg;
  auto labels = torch::zeros({2, 4});
  labels[1][2] = 0.5;
  msg = message_of([&] { m.update(torch::zeros({2, 4}), labels, 0.0); });
  EXPECT_NE(msg.find("target must be multi-hot (0 or 1), got 0.5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 1, class 2"), std::string::npos) << msg;
  auto logits = torch::zeros({2, 4});
  logits[0][3] = std::nanf("");
  msg = message_of([&] { m.update(logits, torch::zeros({2, 4}), 0.0); });
  EXPECT_NE(msg.find("logits has NaN at row 0, class 3"), std::string::npos) << msg;
  EXPECT_EQ(m.count(), 0);  // nothing was accumulated
  EXPECT_THROW(m.update(torch::zeros({2, 4}), torch::zeros({2, 4}).fill_(2), 0.0),
               std::invalid_argument);

  auto scores = torch::full({1, 3}, 0.5);
  scores[0][1] = 1.5;
  msg = message_of([&] { gap(scores, torch::zeros({1, 3})); });
  EXPECT_NE(msg.find("gap: scores must be probabilities in [0, 1], got 1.5"), std::string::npos)
      << msg;
  EXPECT_THROW(gap(torch::full({1, 3}, 0.5), torch::zeros({1, 3}), 0), std::invalid_argument);
  EXPECT_THROW(perr(torch::full({1, 3}, 0.5), torch::zeros({1, 2})), std::invalid_argument);
  EXPECT_THROW(Youtube8mMeter(0), std::invalid_argument);
  EXPECT_THROW(Youtube8mMeter(4, 0), std::invalid_argument);
  EXPECT_THROW(average_precision({{0.5f, true}, {0.4f, true}}, 1), std::invalid_argument);
  EXPECT_THROW(average_precision({{std::nanf(""), true}}, 1), std::invalid_argument);
}

// ---- cross-check against tests/metrics/yt8m_metrics_reference.py ------------------------------

bool have_numpy() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return ok;
}

torch::Tensor read_f32(const std::string& path, int64_t n, int64_t c) {
  auto t = torch::empty({n, c});
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(t.data_ptr<float>()), n * c * 4);
  EXPECT_TRUE(in.good()) << path;
  return t;
}

TEST(Youtube8m, MatchesTheStarterCodeFormulas) {
  if (!have_numpy()) {
    GTEST_SKIP() << "skipped: /usr/bin/python3 cannot import numpy (install python3-numpy)";
  }
  vc::testing::TempDir dir("yt8m_metrics");
  const std::string cmd = std::string("/usr/bin/python3 ") + VC_SOURCE_DIR +
                          "/tests/metrics/yt8m_metrics_reference.py " + dir.str();
  const auto run = vc::testing::run_command(cmd);
  ASSERT_EQ(run.exit_code, 0) << cmd << "\n" << run.output;
  std::map<std::string, std::vector<double>> expected;
  {
    std::ifstream in(dir.file("expected.txt"));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string key;
      words >> key;
      double v;
      while (words >> v) expected[key].push_back(v);
    }
  }
  for (const char* key : {"N", "C", "batches", "losses", "gap@20", "aps@5", "batch3.aps@20"}) {
    ASSERT_TRUE(expected.count(key)) << "expected.txt has no " << key;
  }
  const auto n = static_cast<int64_t>(expected["N"][0]);
  const auto c = static_cast<int64_t>(expected["C"][0]);
  const auto logits = read_f32(dir.file("logits.f32"), n, c);
  const auto labels = read_f32(dir.file("labels.f32"), n, c);
  for (int64_t top_k : {20, 5}) {
    Youtube8mMeter m(c, top_k);
    int64_t start = 0;
    for (size_t b = 0; b < expected["batches"].size(); ++b) {
      const auto size = static_cast<int64_t>(expected["batches"][b]);
      m.update(logits.slice(0, start, start + size), labels.slice(0, start, start + size),
               expected["losses"][b]);
      start += size;
    }
    ASSERT_EQ(start, n);
    const std::string at = "@" + std::to_string(top_k);
    EXPECT_NEAR(m.hit_at_one(), expected["hit_at_one"][0], 1e-6);
    EXPECT_NEAR(m.perr(), expected["perr"][0], 1e-6);
    EXPECT_NEAR(m.loss(), expected["loss"][0], 1e-6);
    EXPECT_NEAR(m.gap(), expected["gap" + at][0], 1e-6) << at;
    EXPECT_NEAR(m.mean_ap(), expected["map" + at][0], 1e-6) << at;
    const auto aps = m.class_aps();
    ASSERT_EQ(aps.size(), expected["aps" + at].size());
    for (size_t j = 0; j < aps.size(); ++j) {
      EXPECT_NEAR(aps[j], expected["aps" + at][j], 1e-6) << "class " << j << at;
    }
    std::cout << "top " << top_k << ": hit@1 " << m.hit_at_one() << " perr " << m.perr() << " gap "
              << m.gap() << " map " << m.mean_ap() << " (reference gap " << expected["gap" + at][0]
              << ")\n";
  }
  // One batch alone, through the per-batch functions on sigmoid scores.
  const auto s = logits.slice(0, 82, 182).sigmoid();
  const auto l = labels.slice(0, 82, 182);
  EXPECT_NEAR(hit_at_one(s, l), expected["batch3.hit_at_one"][0], 1e-6);
  EXPECT_NEAR(perr(s, l), expected["batch3.perr"][0], 1e-6);
  EXPECT_NEAR(gap(s, l, 20), expected["batch3.gap@20"][0], 1e-6);
  const auto aps = class_average_precisions(s, l, 20);
  ASSERT_EQ(aps.size(), expected["batch3.aps@20"].size());
  for (size_t j = 0; j < aps.size(); ++j) {
    EXPECT_NEAR(aps[j], expected["batch3.aps@20"][j], 1e-6) << "class " << j;
  }
}

}  // namespace
}  // namespace vc::metrics
