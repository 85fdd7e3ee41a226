// The data contract (datareader/dataset.h): collation by stacking or padding with a mask, the
// two target kinds, and errors that name the sample.
#include "datareader/dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using namespace vc::data;

Sample make(const std::string& id, std::map<std::string, torch::Tensor> inputs, Target t) {
  Sample s;
  s.inputs = std::move(inputs);
  s.target = std::move(t);
  s.id = id;
  s.source = "l.list";
  s.line_no = 7;
  return s;
}

// Padded batches come from recycled (pooled, uninitialised) memory: the padding of a batch must
// be zero even when its buffer last held another batch's frames there.
TEST(Collate, PaddingIsZeroInRecycledBatchMemory) {
  constexpr int64_t kF = 65536;  // [2, 4, kF] floats = 2 MiB: a pooled buffer
  for (int round = 0; round < 3; ++round) {
    {
      std::vector<Sample> full;
      full.push_back(make("a", {{"rgb", torch::full({4, kF}, 7.0)}}, Target::multi({0}, 2)));
      full.push_back(make("b", {{"rgb", torch::full({4, kF}, 7.0)}}, Target::multi({1}, 2)));
      Batch b = collate(std::move(full), CollatePolicy::pad({"rgb"}));
      ASSERT_EQ(b.input("rgb").sizes(), (std::vector<int64_t>{2, 4, kF}));
    }  // the batch buffer goes back to the pool here
    std::vector<Sample> v;
    v.push_back(make("c", {{"rgb", torch::full({1, kF}, 3.0)}}, Target::multi({0}, 2)));
    v.push_back(make("d", {{"rgb", torch::full({4, kF}, 5.0)}}, Target::multi({1}, 2)));
    Batch b = collate(std::move(v), CollatePolicy::pad({"rgb"}));
    const torch::Tensor rgb = b.input("rgb");  // [2, 4, kF]
    EXPECT_TRUE(torch::equal(rgb[0][0], torch::full({kF}, 3.0))) << "round " << round;
    EXPECT_EQ(rgb[0].narrow(0, 1, 3).abs().sum().item<float>(), 0.0f) << "round " << round;
    EXPECT_TRUE(torch::equal(rgb[1], torch::full({4, kF}, 5.0))) << "round " << round;
  }
}

TEST(Collate, StacksEqualShapesAndClassTargets) {
  std::vector<Sample> v;
  v.push_back(make("a", {{"video", torch::ones({2, 3, 4, 4})}}, Target::single(1)));
  v.push_back(make("b", {{"video", torch::zeros({2, 3, 4, 4})}}, Target::single(-1)));
  Batch b = collate(std::move(v), CollatePolicy::stack());
  EXPECT_EQ(b.input("video").sizes(), (std::vector<int64_t>{2, 2, 3, 4, 4}));
  EXPECT_TRUE(torch::equal(b.target, torch::tensor({1, -1}, torch::kInt64)));
  EXPECT_EQ(b.labelled, (std::vector<bool>{true, false}));
  EXPECT_EQ(b.ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(b.inputs.count("mask"), 0u);
}

TEST(Collate, PadsSequencesAndAddsMaskAndLengths) {
  std::vector<Sample> v;
  v.push_back(make("a", {{"rgb", torch::ones({2, 4})}, {"audio", torch::ones({2, 1})}},
                   Target::multi({0, 3}, 5)));
  v.push_back(make("b", {{"rgb", torch::full({4, 4}, 2.0)}, {"audio", torch::ones({4, 1})}},
                   Target::multi({4}, 5)));
  Batch b = collate(std::move(v), CollatePolicy::pad({"rgb", "audio"}));
  EXPECT_EQ(b.input("rgb").sizes(), (std::vector<int64_t>{2, 4, 4}));
  EXPECT_EQ(b.input("audio").sizes(), (std::vector<int64_t>{2, 4, 1}));
  EXPECT_TRUE(torch::equal(b.input("lengths"), torch::tensor({2, 4}, torch::kInt64)));
  EXPECT_TRUE(
      torch::equal(b.input("mask"), torch::tensor({{1.f, 1.f, 0.f, 0.f}, {1.f, 1.f, 1.f, 1.f}})));
  EXPECT_EQ(b.input("rgb")[0][3].abs().sum().item<float>(), 0.0f);  // zero padding
  EXPECT_EQ(b.target_kind, TargetKind::kMultiHot);
  EXPECT_TRUE(torch::equal(b.target,
                           torch::tensor({{1.f, 0.f, 0.f, 1.f, 0.f}, {0.f, 0.f, 0.f, 0.f, 1.f}})));
}

// CollatePolicy::widen: uint8 samples converted by the policy's function straight into the
// float32 batch (padded and stacked), float32 samples of the same input copied as they are,
// other types an error naming the sample.
TEST(Collate, WidensUint8InputsIntoTheFloatBatch) {
  CollatePolicy::WidenFn half = [](const uint8_t* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * 0.5f - 1.0f;
  };
  const torch::Tensor a = torch::arange(8, torch::kUInt8).reshape({2, 4});         // 2 steps
  const torch::Tensor b = torch::arange(12, torch::kUInt8).reshape({3, 4}) + 100;  // 3 steps
  {
    std::vector<Sample> v;
    v.push_back(make("a", {{"rgb", a}, {"n", torch::ones({1})}}, Target::multi({0}, 2)));
    v.push_back(make("b", {{"rgb", b}, {"n", torch::ones({1})}}, Target::multi({1}, 2)));
    v.push_back(make("f", {{"rgb", torch::full({1, 4}, 9.0)}, {"n", torch::ones({1})}},
                     Target::multi({1}, 2)));
    CollatePolicy p = CollatePolicy::pad({"rgb"});
    p.widen["rgb"] = half;
    Batch batch = collate(std::move(v), p);
    const torch::Tensor rgb = batch.input("rgb");  // [3, 3, 4]
    ASSERT_EQ(rgb.scalar_type(), torch::kFloat32);
    ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 3, 4}));
    EXPECT_TRUE(torch::equal(rgb[0].narrow(0, 0, 2), a.to(torch::kFloat) * 0.5 - 1.0));
    EXPECT_EQ(rgb[0][2].abs().sum().item<float>(), 0.0f);  // padding zero, not widen(0)
    EXPECT_TRUE(torch::equal(rgb[1], b.to(torch::kFloat) * 0.5 - 1.0));
    EXPECT_TRUE(torch::equal(rgb[2][0], torch::full({4}, 9.0)));  // a float sample: as it is
    EXPECT_EQ(batch.input("n").scalar_type(), torch::kFloat32);   // not listed: stacked as is
  }
  {
    std::vector<Sample> v;
    v.push_back(make("a", {{"rgb", a}}, Target::single(0)));
    v.push_back(make("b", {{"rgb", a + 1}}, Target::single(1)));
    CollatePolicy p = CollatePolicy::stack();
    p.widen["rgb"] = half;
    Batch batch = collate(std::move(v), p);
    ASSERT_EQ(batch.input("rgb").sizes(), (std::vector<int64_t>{2, 2, 4}));
    EXPECT_TRUE(torch::equal(batch.input("rgb")[1], (a + 1).to(torch::kFloat) * 0.5 - 1.0));
  }
  {
    std::vector<Sample> v;
    v.push_back(make("a", {{"rgb", a}}, Target::single(0)));
    v.push_back(make("int32", {{"rgb", a.to(torch::kInt32)}}, Target::single(1)));
    v.back().line_no = 7;
    CollatePolicy p = CollatePolicy::pad({"rgb"});
    p.widen["rgb"] = half;
    try {
      collate(std::move(v), p);
      FAIL() << "an int32 sample was accepted";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("int32 (list line 7)"), std::string::npos) << e.what();
    }
  }
}

TEST(Collate, ErrorsNameTheSample) {
  auto expect = [](std::vector<Sample> v, const CollatePolicy& p, const std::string& frag) {
    try {
      collate(std::move(v), p);
      FAIL() << "no error, expected " << frag;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("list line 7"), std::string::npos) << e.what();
    }
  };
  {
    std::vector<Sample> v;
    v.push_back(make("a", {{"video", torch::ones({2, 3})}}, Target::single(0)));
    v.push_back(make("bad", {{"video", torch::ones({3, 3})}}, Target::single(0)));
    expect(std::move(v), CollatePolicy::stack(), "bad");
  }
  {
    std::vector<Sample> v;
    v.push_back(make("a", {{"rgb", torch::ones({2, 4})}, {"audio", torch::ones({2, 1})}},
                     Target::multi({}, 5)));
    v.push_back(make("uneven", {{"rgb", torch::ones({2, 4})}, {"audio", torch::ones({3, 1})}},
                     Target::multi({}, 5)));
    expect(std::move(v), CollatePolicy::pad({"rgb", "audio"}), "uneven");
  }
  {
    std::vector<Sample> v;
    v.push_back(make("range", {{"rgb", torch::ones({2, 4})}}, Target::multi({9}, 5)));
    expect(std::move(v), CollatePolicy::pad({"rgb"}), "class 9");
  }
  {
    std::vector<Sample> v;
    v.push_back(make("a", {{"video", torch::ones({2})}}, Target::single(0)));
    v.push_back(make("kind", {{"video", torch::ones({2})}}, Target::multi({1}, 5)));
    expect(std::move(v), CollatePolicy::stack(), "kind");
  }
}

}  // namespace
