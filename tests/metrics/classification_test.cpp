#include "metrics/classification.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using vc::metrics::ClassificationMeter;
using vc::metrics::count_topk_correct;

// 4 samples, 6 classes. Rankings worked out by hand:
//  s0: label 2, scores best-first 2,0,...         -> top1 hit
//  s1: label 0, ranking 5,4,3,2,1,0 (0 is 6th)    -> top1 miss, top5 miss
//  s2: label 1, ranking 3,1,...                   -> top1 miss, top5 hit
//  s3: label 4, ranking 4,...                     -> top1 hit
torch::Tensor scores() {
  return torch::tensor({{0.5f, 0.0f, 0.9f, 0.1f, 0.2f, 0.3f},
                        {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f},
                        {0.1f, 0.8f, 0.0f, 0.9f, 0.2f, 0.3f},
                        {0.1f, 0.2f, 0.3f, 0.0f, 0.9f, 0.4f}});
}
torch::Tensor labels() { return torch::tensor({2, 0, 1, 4}, torch::kLong); }

TEST(Classification, TopKCounts) {
  EXPECT_EQ(count_topk_correct(scores(), labels(), 1), 2);
  EXPECT_EQ(count_topk_correct(scores(), labels(), 5), 3);
  EXPECT_EQ(count_topk_correct(scores(), labels(), 6), 4);
  EXPECT_EQ(count_topk_correct(scores(), labels(), 100), 4);  // k clamped to C
}

TEST(Classification, MeterAggregatesWeightedByBatchSize) {
  ClassificationMeter m(6);
  m.update(scores().slice(0, 0, 1), labels().slice(0, 0, 1), 1.0);  // 1 sample, loss 1
  m.update(scores().slice(0, 1, 4), labels().slice(0, 1, 4), 3.0);  // 3 samples, loss 3
  EXPECT_EQ(m.count(), 4);
  EXPECT_DOUBLE_EQ(m.loss(), (1.0 + 9.0) / 4.0);
  EXPECT_DOUBLE_EQ(m.top1(), 50.0);
  EXPECT_DOUBLE_EQ(m.top5(), 75.0);
  // Classes with samples: 0 (0/1), 1 (0/1), 2 (1/1), 4 (1/1) -> mean 50 %.
  EXPECT_DOUBLE_EQ(m.mean_class_accuracy(), 50.0);
  const auto& cm = m.confusion();
  EXPECT_EQ(cm[2 * 6 + 2], 1);
  EXPECT_EQ(cm[0 * 6 + 5], 1);
  EXPECT_EQ(cm[1 * 6 + 3], 1);
  EXPECT_EQ(cm[4 * 6 + 4], 1);
  int64_t total = 0;
  for (auto v : cm) total += v;
  EXPECT_EQ(total, 4);
  m.reset();
  EXPECT_EQ(m.count(), 0);
  EXPECT_DOUBLE_EQ(m.top1(), 0.0);
}

TEST(Classification, MeanClassAccuracyDiffersFromTop1OnImbalance) {
  // 3 samples of class 0 all right, 1 sample of class 1 wrong: top1 75 %, mean class 50 %.
  ClassificationMeter m(2);
  m.update(torch::tensor({{1.f, 0.f}, {1.f, 0.f}, {1.f, 0.f}, {1.f, 0.f}}),
           torch::tensor({0, 0, 0, 1}, torch::kLong), 0.0);
  EXPECT_DOUBLE_EQ(m.top1(), 75.0);
  EXPECT_DOUBLE_EQ(m.mean_class_accuracy(), 50.0);
}

TEST(Classification, RejectsBadShapesAndLabels) {
  ClassificationMeter m(6);
  EXPECT_THROW(m.update(torch::zeros({2, 5}), torch::tensor({0, 1}, torch::kLong), 0.0),
               c10::Error);
  EXPECT_THROW(m.update(torch::zeros({2, 6}), torch::tensor({0, 6}, torch::kLong), 0.0),
               c10::Error);
  EXPECT_THROW(ClassificationMeter(0), c10::Error);
}

}  // namespace
