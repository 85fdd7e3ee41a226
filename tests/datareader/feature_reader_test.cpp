// The YouTube-8M feature reader (datareader/feature_reader.h) on the three formats: the same
// videos from a Python-2 cPickle, a Python-3 pickle, an h5py file and a TFRecord shard written
// here with an independent protobuf encoder give the same tensors; truncation, dequantization,
// seg_num sampling, padding, determinism; every kind of bad input skipped, counted and named.
#include "datareader/feature_reader.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "datareader/loader.h"
#include "datareader/tfrecord.h"
#include "tests/datareader/yt8m_fixtures.h"
#include "tests/support/temp_dir.h"

namespace vc::data {
namespace {

using vc::testing::message_of;
using vc::testing::YtVideo;

std::string write_list(const vc::testing::TempDir& dir, const std::string& name,
                       const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  const std::string path = dir / name;
  vc::testing::write_text(path, text);
  return path;
}

FeatureReaderOptions raw_all_frames(Phase phase = Phase::kTest) {
  FeatureReaderOptions o;
  o.phase = phase;
  o.dequantize = false;
  o.seg_num = 0;
  o.index_threads = 2;
  return o;
}

// The fixture videos as a frame-level TFRecord shard (the test's own protobuf encoder).
std::string write_tfrecord(const std::string& path) {
  tfrecord::RecordWriter w(path);
  const std::vector<YtVideo> videos = vc::testing::yt8m_fixture_videos();
  for (std::size_t v = 0; v < videos.size(); ++v) {
    const auto f = vc::testing::yt8m_features(static_cast<int>(v), videos[v].frames);
    w.write(vc::testing::sequence_example(videos[v].id, videos[v].labels, f, videos[v].frames));
  }
  return path;
}

// Checks the dataset holds the fixture videos in order, raw values, frames cut to 300.
void expect_fixture_samples(const FeatureDataset& ds, const std::string& what) {
  SCOPED_TRACE(what);
  const std::vector<YtVideo> videos = vc::testing::yt8m_fixture_videos();
  ASSERT_EQ(ds.size(), videos.size()) << ds.describe();
  for (std::size_t v = 0; v < videos.size(); ++v) {
    const Sample s = ds.get(v, 7);
    EXPECT_EQ(s.id, videos[v].id);
    EXPECT_EQ(s.line_no, v + 1);
    EXPECT_EQ(s.target.kind, TargetKind::kMultiHot);
    EXPECT_EQ(s.target.classes, videos[v].labels);
    EXPECT_EQ(s.target.num_classes, 3862);
    const int64_t T = std::min<int64_t>(videos[v].frames, 300);
    const auto f = vc::testing::yt8m_features(static_cast<int>(v), T);
    const torch::Tensor rgb = s.inputs.at("rgb");
    const torch::Tensor audio = s.inputs.at("audio");
    ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{T, 1024}));
    ASSERT_EQ(audio.sizes(), (std::vector<int64_t>{T, 128}));
    EXPECT_EQ(rgb.scalar_type(), torch::kFloat);
    const torch::Tensor want_rgb =
        torch::from_blob(const_cast<uint8_t*>(f.rgb.data()), {T, 1024}, torch::kByte)
            .to(torch::kFloat);
    const torch::Tensor want_audio =
        torch::from_blob(const_cast<uint8_t*>(f.audio.data()), {T, 128}, torch::kByte)
            .to(torch::kFloat);
    EXPECT_TRUE(rgb.equal(want_rgb)) << "video " << v;
    EXPECT_TRUE(audio.equal(want_audio)) << "video " << v;
  }
}

// Every batch of one shuffled training epoch of `ds`, loaded with `threads` threads.
std::vector<Batch> epoch_batches(std::shared_ptr<FeatureDataset> ds, int threads, uint64_t seed,
                                 int64_t epoch) {
  LoaderOptions lo;
  lo.batch_size = 3;
  lo.num_threads = threads;
  lo.shuffle = true;
  lo.seed = seed;
  Loader loader(std::move(ds), lo);
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

TEST(FeatureReader, SameVideosFromEveryFormat) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  const std::string fx = vc::testing::yt8m_fixtures();
  expect_fixture_samples(
      FeatureDataset(write_list(dir, "py2.list", {fx + "/py2.pkl"}), raw_all_frames()),
      "Python-2 cPickle");
  expect_fixture_samples(
      FeatureDataset(write_list(dir, "py3.list", {fx + "/py3.pkl"}), raw_all_frames()),
      "Python-3 pickle");
  const std::string tfr = write_tfrecord(dir / "v.tfrecord");
  expect_fixture_samples(FeatureDataset(write_list(dir, "tfr.list", {tfr}), raw_all_frames()),
                         "TFRecord");
  // format by content: no extension
  std::filesystem::copy_file(tfr, dir / "noext");
  std::filesystem::copy_file(fx + "/py2.pkl", dir / "noext_pkl");
  expect_fixture_samples(FeatureDataset(write_list(dir, "n.list", {"noext"}), raw_all_frames()),
                         "TFRecord without extension");
  expect_fixture_samples(
      FeatureDataset(write_list(dir, "np.list", {"noext_pkl"}), raw_all_frames()),
      "pkl without extension");
  if (vc::testing::have_h5py()) {
    expect_fixture_samples(
        FeatureDataset(write_list(dir, "h5.list", {fx + "/h5py.h5"}), raw_all_frames()), "h5py");
    std::filesystem::copy_file(fx + "/h5py.h5", dir / "noext_h5");
    expect_fixture_samples(
        FeatureDataset(write_list(dir, "nh.list", {"noext_h5"}), raw_all_frames()),
        "HDF5 without extension");
  } else {
    std::cout << "[ SKIPPED part ] h5py: /usr/bin/python3 cannot import h5py\n";
  }
}

TEST(FeatureReader, DequantizesAndTruncates) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  FeatureReaderOptions o = raw_all_frames();
  o.dequantize = true;
  o.max_frames = 10;
  const FeatureDataset ds(write_list(dir, "l", {vc::testing::yt8m_fixtures() + "/py2.pkl"}), o);
  const Sample s = ds.get(1, 0);  // 320 frames -> 10
  const torch::Tensor rgb = s.inputs.at("rgb");
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{10, 1024}));
  const auto f = vc::testing::yt8m_features(1, 10);
  for (int64_t t : {0, 9}) {
    for (int64_t c : {0, 1, 500, 1023}) {
      const double x = f.rgb[t * 1024 + c];
      EXPECT_NEAR(rgb[t][c].item<float>(), x * 4.0 / 255.0 + 4.0 / 512.0 - 2.0, 1e-6);
    }
  }
  EXPECT_NEAR(s.inputs.at("audio")[3][5].item<float>(),
              f.audio[3 * 128 + 5] * 4.0 / 255.0 + 4.0 / 512.0 - 2.0, 1e-6);
  EXPECT_EQ(ds.collate_policy().kind, CollatePolicy::Kind::kPad);
}

TEST(FeatureReader, SegNumSampling) {
  Rng rng(1);
  // centre: stride 40/4 = 10 -> 5, 15, 25, 35
  EXPECT_EQ(feature_frame_indices(40, 4, false, rng), (std::vector<int64_t>{5, 15, 25, 35}));
  // fewer frames than segments: repeats, never past n-1
  EXPECT_EQ(feature_frame_indices(3, 6, false, rng), (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  for (int k = 0; k < 50; ++k) {
    const auto idx = feature_frame_indices(7, 100, true, rng);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      ASSERT_GE(idx[i], static_cast<int64_t>(i * 7 / 100));
      ASSERT_LE(idx[i], std::min<int64_t>(6, static_cast<int64_t>((i + 1) * 7.0 / 100)));
    }
  }

  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  const std::string list = write_list(dir, "l", {vc::testing::yt8m_fixtures() + "/py2.pkl"});
  FeatureReaderOptions o = raw_all_frames(Phase::kTrain);
  o.seg_num = 8;
  const FeatureDataset train(list, o);
  EXPECT_EQ(train.collate_policy().kind, CollatePolicy::Kind::kStack);
  const Sample a = train.get(3, 11), b = train.get(3, 11), c = train.get(3, 12);
  ASSERT_EQ(a.inputs.at("rgb").sizes(), (std::vector<int64_t>{8, 1024}));
  ASSERT_EQ(a.inputs.at("audio").sizes(), (std::vector<int64_t>{8, 128}));
  EXPECT_TRUE(a.inputs.at("rgb").equal(b.inputs.at("rgb")));
  EXPECT_FALSE(a.inputs.at("rgb").equal(c.inputs.at("rgb")));
  // rgb and audio rows come from the same frames: frame t has rgb[0] = (3*37 + 11t) % 256 and
  // audio[0] = (3*91 + 5t) % 256
  for (int64_t i = 0; i < 8; ++i) {
    const int64_t r0 = a.inputs.at("rgb")[i][0].item<float>();
    const int64_t a0 = a.inputs.at("audio")[i][0].item<float>();
    bool found = false;
    for (int64_t t = 0; t < 40; ++t) {
      found |= (3 * 37 + 11 * t) % 256 == r0 && (3 * 91 + 5 * t) % 256 == a0 && t >= i * 5 &&
               t < (i + 1) * 5;
    }
    EXPECT_TRUE(found) << "segment " << i;
  }
  // eval: centre (deterministic, whatever the seed) or random
  o.phase = Phase::kTest;
  const FeatureDataset center(list, o);
  const Sample e1 = center.get(3, 1), e2 = center.get(3, 2);
  EXPECT_TRUE(e1.inputs.at("rgb").equal(e2.inputs.at("rgb")));
  const auto f = vc::testing::yt8m_features(3, 40);
  EXPECT_EQ(e1.inputs.at("rgb")[1][0].item<float>(), f.rgb[7 * 1024]);  // int(1.5 * 5) = 7
  o.eval_sampling = EvalSampling::kRandom;
  const FeatureDataset random(list, o);
  EXPECT_FALSE(random.get(3, 1).inputs.at("rgb").equal(random.get(3, 2).inputs.at("rgb")));
}

TEST(FeatureReader, PaddedBatchesAndThreadIndependentLoading) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  const std::string fx = vc::testing::yt8m_fixtures();
  const std::string list =
      write_list(dir, "l", {fx + "/py2.pkl", "# a comment", "", fx + "/py3.pkl"});
  FeatureReaderOptions o = raw_all_frames(Phase::kTrain);
  o.dequantize = true;
  auto ds = std::make_shared<FeatureDataset>(list, o);
  ASSERT_EQ(ds->size(), 8u);
  const std::vector<Batch> one = epoch_batches(ds, 1, 5, 2), three = epoch_batches(ds, 3, 5, 2);
  ASSERT_EQ(one.size(), 3u);
  ASSERT_EQ(three.size(), one.size());
  for (std::size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(one[k].ids, three[k].ids);
    EXPECT_TRUE(one[k].input("rgb").equal(three[k].input("rgb")));
    const torch::Tensor lengths = one[k].input("lengths");
    const torch::Tensor mask = one[k].input("mask");
    const int64_t T = one[k].input("rgb").size(1);
    EXPECT_EQ(lengths.max().item<int64_t>(), T);
    EXPECT_EQ(one[k].target.sizes(), (std::vector<int64_t>{one[k].size(), 3862}));
    for (int64_t i = 0; i < one[k].size(); ++i) {
      const int64_t L = lengths[i].item<int64_t>();
      EXPECT_EQ(mask[i].sum().item<float>(), L);
      if (L < T) {
        EXPECT_EQ(one[k].input("rgb")[i].slice(0, L).abs().sum().item<float>(), 0.f);
      }
    }
  }
}

// widen_in_batch (what the executables use): samples carry the stored uint8 rows and the
// collate converts them into the batch; the batches are bit for bit those of float samples, on
// every format, padded (all frames, truncated to 300) and stacked (seg_num sampling), with and
// without dequantization, one or two loader threads.
TEST(FeatureReader, WidenInBatchGivesTheSameBatches) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  const std::string fx = vc::testing::yt8m_fixtures();
  std::vector<std::pair<std::string, std::string>> lists = {
      {"pkl", write_list(dir, "pkl.list", {fx + "/py2.pkl", fx + "/py3.pkl"})},
      {"tfrecord", write_list(dir, "tfr.list", {write_tfrecord(dir / "v.tfrecord")})}};
  if (vc::testing::have_h5py()) {
    lists.emplace_back("hdf5", write_list(dir, "h5.list", {fx + "/h5py.h5"}));
  }
  for (const auto& [format, list] : lists) {
    for (const int64_t seg_num : {int64_t{0}, int64_t{8}}) {
      for (const bool deq : {true, false}) {
        SCOPED_TRACE(format + " seg_num " + std::to_string(seg_num) + " dequantize " +
                     std::to_string(deq));
        FeatureReaderOptions o = raw_all_frames(Phase::kTrain);
        o.seg_num = seg_num;
        o.dequantize = deq;
        auto floats = std::make_shared<FeatureDataset>(list, o);
        o.widen_in_batch = true;
        auto widened = std::make_shared<FeatureDataset>(list, o);
        const Sample s = widened->get(0, 3);
        EXPECT_EQ(s.inputs.at("rgb").scalar_type(), torch::kByte);
        EXPECT_EQ(s.inputs.at("audio").scalar_type(), torch::kByte);
        EXPECT_EQ(s.inputs.at("rgb").size(0), floats->get(0, 3).inputs.at("rgb").size(0));
        const std::vector<Batch> want = epoch_batches(floats, 1, 9, 1);
        for (const int threads : {1, 2}) {
          const std::vector<Batch> got = epoch_batches(widened, threads, 9, 1);
          ASSERT_EQ(got.size(), want.size());
          for (std::size_t k = 0; k < want.size(); ++k) {
            EXPECT_EQ(got[k].ids, want[k].ids);
            ASSERT_EQ(got[k].inputs.size(), want[k].inputs.size());
            for (const auto& [name, t] : want[k].inputs) {
              const torch::Tensor& g = got[k].input(name);
              EXPECT_EQ(g.scalar_type(), t.scalar_type()) << name;
              EXPECT_TRUE(g.equal(t)) << name << " batch " << k << " threads " << threads;
            }
          }
        }
      }
    }
  }
}

TEST(FeatureReader, InferListsWithoutLabels) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  FeatureReaderOptions o = raw_all_frames(Phase::kInfer);
  o.require_label = false;
  o.num_classes = 50;  // labels beyond are ignored in infer, not errors
  const std::string tfr = dir / "u.tfrecord";
  {
    tfrecord::RecordWriter w(tfr);
    const auto f = vc::testing::yt8m_features(0, 4);
    w.write(vc::testing::sequence_example("nolabel", {}, f, 4));
    w.write(vc::testing::sequence_example("big", {3, 400}, f, 4));
  }
  const FeatureDataset ds(write_list(dir, "l", {tfr}), o);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_FALSE(ds.get(0, 0).target.labelled);
  EXPECT_TRUE(ds.get(1, 0).target.labelled);
  EXPECT_EQ(ds.get(1, 0).target.classes, (std::vector<int64_t>{3}));
  EXPECT_TRUE(ds.skipped_lines().empty());
}

// ---- bad input -------------------------------------------------------------------------------

bool any_contains(const std::vector<std::string>& msgs, const std::vector<std::string>& parts) {
  for (const auto& m : msgs) {
    bool all = true;
    for (const auto& p : parts) all &= m.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

std::string dump(const std::vector<std::string>& msgs) {
  std::string s;
  for (const auto& m : msgs) s += "  " + m + "\n";
  return s;
}

TEST(FeatureReader, BadPklEntriesSkippedCountedAndNamed) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  const std::string pkl = vc::testing::yt8m_fixtures() + "/bad_entries.pkl";
  FeatureReaderOptions o = raw_all_frames(Phase::kTrain);
  const FeatureDataset ds(write_list(dir, "l", {pkl}), o);
  ASSERT_EQ(ds.size(), 2u) << dump(ds.skipped_lines());  // the good first and last entries
  EXPECT_EQ(ds.get(0, 0).id, "Aa01");
  EXPECT_EQ(ds.get(1, 0).id, "Dd04");
  EXPECT_EQ(ds.ref(1).line_no, 9u);  // 1-based entry index in the pkl
  // write_yt8m_features.py BAD, in order: entries 1..7
  const std::vector<std::string> reasons = {"pkl entry not a dict",  "pkl entry missing key",
                                            "pkl entry wrong dtype", "pkl entry wrong shape",
                                            "zero frames",           "label out of range",
                                            "pkl entry wrong type"};
  for (std::size_t k = 0; k < reasons.size(); ++k) {
    EXPECT_EQ(ds.skip_counts().count(reasons[k]), 1u) << reasons[k];
    EXPECT_TRUE(
        any_contains(ds.skipped_lines(), {pkl, "record " + std::to_string(k + 1), reasons[k]}))
        << reasons[k] << "\n"
        << dump(ds.skipped_lines());
  }
  EXPECT_TRUE(
      any_contains(ds.skipped_lines(), {"label out of range (label 3862 not in [0, 3862))"}));
  EXPECT_TRUE(any_contains(ds.skipped_lines(), {"no key 'feature'"}));
  EXPECT_TRUE(any_contains(ds.skipped_lines(), {"'feature' has dtype Float, expected uint8"}))
      << dump(ds.skipped_lines());
  EXPECT_TRUE(any_contains(ds.skipped_lines(), {"'audio' has shape [7, 100]"}));
  EXPECT_EQ(ds.skipped_lines().size(), reasons.size());
}

TEST(FeatureReader, BadShardsSkippedTheRestRead) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  const std::string fx = vc::testing::yt8m_fixtures();
  vc::testing::write_text(dir / "junk.h5", "not hdf5");
  const std::string list = write_list(dir, "l",
                                      {fx + "/not_a_list.pkl", fx + "/truncated.pkl",
                                       "missing.tfrecord", "junk.h5", fx + "/py2.pkl"});
  const FeatureDataset ds(list, raw_all_frames());
  EXPECT_EQ(ds.size(), 4u);
  const auto& sk = ds.skipped_lines();
  EXPECT_TRUE(any_contains(sk, {list + ":1:", "not_a_list.pkl", "holds a dict, expected a list"}))
      << dump(sk);
  EXPECT_TRUE(any_contains(sk, {list + ":2:", "truncated.pkl"})) << dump(sk);
  EXPECT_TRUE(any_contains(sk, {list + ":3:", "missing.tfrecord", "not found"})) << dump(sk);
  EXPECT_TRUE(any_contains(sk, {list + ":4:", "junk.h5", "not an HDF5 file"})) << dump(sk);
  EXPECT_EQ(ds.skip_counts().at("cannot read shard"), 3u);
  EXPECT_EQ(ds.skip_counts().at("shard not found"), 1u);
  // nothing usable: an error naming the list and the first problem
  const std::string bad = write_list(dir, "bad", {"missing.tfrecord"});
  const std::string m = message_of([&] { FeatureDataset d(bad, raw_all_frames()); });
  EXPECT_NE(m.find(bad), std::string::npos) << m;
  EXPECT_NE(m.find("missing.tfrecord"), std::string::npos) << m;
  EXPECT_NE(message_of([&] { FeatureDataset d(dir / "nolist", raw_all_frames()); }).find("nolist"),
            std::string::npos);
}

// Frame-level TFRecord shard with every kind of bad record between good ones.
TEST(FeatureReader, BadTFRecordsSkippedCountedAndNamed) {
  vc::testing::TempDir dir;
  const auto f = vc::testing::yt8m_features(2, 6);
  std::vector<std::string> records = {
      vc::testing::sequence_example("good0", {1}, f, 6),                         // 0
      vc::testing::sequence_example("badlen", {1}, f, 6),                        // 1: length CRC
      vc::testing::sequence_example("baddata", {1}, f, 6),                       // 2: data CRC
      std::string("\x0a\x03\xff\xff\xff junk that is not a protobuf", 32),       // 3
      vc::testing::sequence_example("noaudio", {1}, f, 6, /*drop_audio=*/true),  // 4
      vc::testing::sequence_example("short", {1}, f, 6, false, 1024, 100),       // 5
      vc::testing::sequence_example("range", {1, 5000}, f, 6),                   // 6
      vc::testing::sequence_example("empty", {1}, f, 0),                         // 7
      vc::testing::sequence_example("good8", {2}, f, 6),                         // 8
      vc::testing::sequence_example("tail", {3}, f, 6),                          // 9: truncated
  };
  const std::string path = dir / "bad.tfrecord";
  {
    tfrecord::RecordWriter w(path);
    for (const auto& r : records) w.write(r);
  }
  std::string bytes = vc::testing::read_text(path);
  std::vector<std::size_t> offset{0};
  for (const auto& r : records) offset.push_back(offset.back() + 16 + r.size());
  bytes[offset[1] + 8] ^= 0x01;                          // length CRC of record 1
  bytes[offset[2] + 12 + 20] ^= 0x40;                    // data byte of record 2
  bytes.resize(offset[9] + 12 + records[9].size() / 2);  // record 9 cut in half
  vc::testing::write_text(path, bytes);

  const FeatureDataset ds(write_list(dir, "l", {path}), raw_all_frames(Phase::kTrain));
  const auto& sk = ds.skipped_lines();
  ASSERT_EQ(ds.size(), 2u) << dump(sk);
  EXPECT_EQ(ds.get(0, 0).id, "good0");
  EXPECT_EQ(ds.get(1, 0).id, "good8");  // read after the bad ones (in memory or by offset)
  EXPECT_EQ(ds.get(1, 0).target.classes, (std::vector<int64_t>{2}));
  const torch::Tensor want =
      torch::from_blob(const_cast<uint8_t*>(f.rgb.data()), {6, 1024}, torch::kByte)
          .to(torch::kFloat);
  EXPECT_TRUE(ds.get(1, 0).inputs.at("rgb").equal(want));
  EXPECT_TRUE(any_contains(sk, {path, "record 1"})) << dump(sk);
  EXPECT_TRUE(any_contains(sk, {path, "record 2"})) << dump(sk);
  EXPECT_TRUE(any_contains(sk, {path, "record 3"})) << dump(sk);
  EXPECT_TRUE(any_contains(sk, {path, "record 4", "audio"})) << dump(sk);
  EXPECT_TRUE(any_contains(sk, {path, "record 5"})) << dump(sk);
  EXPECT_TRUE(any_contains(
      sk, {path, "record 6", "'range'", "label out of range (label 5000 not in [0, 3862))"}))
      << dump(sk);
  // zero frames: an empty feature list ("zero frames") or none at all (the parser's message)
  EXPECT_TRUE(any_contains(sk, {path, "record 7"})) << dump(sk);
  EXPECT_TRUE(any_contains(sk, {path, "record 9"})) << dump(sk);
  EXPECT_EQ(ds.skip_counts().at("label out of range"), 1u);
  std::size_t total = 0;
  for (const auto& kv : ds.skip_counts()) total += kv.second;
  EXPECT_EQ(total, sk.size());
  EXPECT_GE(total, 8u) << dump(sk);
}

// A shard changed after indexing: get() throws SampleError naming it (the loader skips it).
TEST(FeatureReader, ShardChangedAfterIndexingIsASampleError) {
  vc::testing::TempDir dir;
  const std::string path = write_tfrecord(dir / "v.tfrecord");
  const FeatureDataset ds(write_list(dir, "l", {path}), raw_all_frames());
  std::string bytes = vc::testing::read_text(path);
  bytes[bytes.size() - 100] ^= 0x11;  // inside the last record's data
  vc::testing::write_text(path, bytes);
  const std::string m = message_of([&] { ds.get(ds.size() - 1, 0); });
  EXPECT_NE(m.find(path), std::string::npos) << m;
  EXPECT_NE(m.find("record 3"), std::string::npos) << m;
  EXPECT_THROW(ds.get(ds.size() - 1, 0), SampleError);
  EXPECT_NO_THROW(ds.get(0, 0));
}

// The real video-level validation shards (../shared/data/yt8m): one frame of float means each.
TEST(FeatureReader, RealVideoLevelShards) {
  const std::string d = std::string(VC_SOURCE_DIR) + "/../shared/data/yt8m";
  if (!std::filesystem::exists(d + "/validate0065.tfrecord")) {
    GTEST_SKIP() << "skipped: " << d << "/validate00{65,67,76}.tfrecord not present";
  }
  vc::testing::TempDir dir;
  FeatureReaderOptions o;
  o.phase = Phase::kTest;
  o.seg_num = 0;
  const FeatureDataset ds(write_list(dir, "l",
                                     {d + "/validate0065.tfrecord", d + "/validate0067.tfrecord",
                                      d + "/validate0076.tfrecord"}),
                          o);
  EXPECT_EQ(ds.size(), 746u) << dump(ds.skipped_lines());
  EXPECT_TRUE(ds.skipped_lines().empty()) << dump(ds.skipped_lines());
  const Sample s = ds.get(0, 0);
  EXPECT_EQ(s.inputs.at("rgb").sizes(), (std::vector<int64_t>{1, 1024}));
  EXPECT_EQ(s.inputs.at("audio").sizes(), (std::vector<int64_t>{1, 128}));
  EXPECT_FALSE(s.target.classes.empty());
  // means of dequantized features lie in [-2, 2] and are not dequantized again
  EXPECT_LE(s.inputs.at("rgb").abs().max().item<float>(), 2.0f);
  o.seg_num = 5;  // Attention Cluster on video-level data: the one frame repeated
  const FeatureDataset seg(write_list(dir, "l2", {d + "/validate0065.tfrecord"}), o);
  const torch::Tensor r = seg.get(0, 0).inputs.at("rgb");
  EXPECT_EQ(r.sizes(), (std::vector<int64_t>{5, 1024}));
  EXPECT_TRUE(r[4].equal(r[0]));
}

}  // namespace
}  // namespace vc::data
