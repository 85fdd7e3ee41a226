// Unit tests: KineticsDataset on generated fixtures, the lying-frame-count path, and the Loader
// (determinism across thread counts, skip behaviour, all-fail error, partial batches).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <mutex>
#include <set>

#include <opencv2/videoio.hpp>

#include "datareader/kinetics_reader.h"
#include "datareader/loader.h"
#include "datareader/sampling.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {
using testing::make_frames_folder;
using testing::random_bytes;
using testing::TempDir;
using testing::write_file;

// 7 generated frame folders v0..v6 (12 frames, 40x30) and a list "lists/train.list" using
// relative paths.
struct Fixture {
  TempDir tmp;
  std::string list;
  static constexpr int kVideos = 7;
  Fixture() {
    std::string text;
    for (int v = 0; v < kVideos; ++v) {
      make_frames_folder(tmp.file("frames/v" + std::to_string(v)), 12 + v, 40, 30, v);
      text += "../frames/v" + std::to_string(v) + " " + std::to_string(v % 5) + "\n";
    }
    list = tmp.file("lists/train.list");
    write_file(list, text);
  }
};

KineticsReaderOptions small_train_opts() {
  KineticsReaderOptions o;
  o.phase = Phase::kTrain;
  o.seg_num = 3;
  o.seglen = 2;
  o.short_size = 32;
  o.target_size = 28;
  o.multi_scale_crop = true;
  o.num_classes = 5;
  return o;
}

std::vector<Batch> run_epoch(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].input("video"), b[i].input("video"))) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].target, b[i].target)) << "batch " << i;
    EXPECT_EQ(a[i].ids, b[i].ids);
    EXPECT_EQ(a[i].line_nos, b[i].line_nos);
  }
}

TEST(KineticsDataset, LoadsFramesFolderWithShapesAndSeeds) {
  Fixture fx;
  KineticsDataset ds(fx.list, small_train_opts());
  ASSERT_EQ(ds.size(), 7u);
  EXPECT_TRUE(ds.skipped_lines().empty());
  EXPECT_EQ(ds.entry(2).path, fx.tmp.file("frames/v2"));
  EXPECT_EQ(ds.entry(2).line_no, 3u);
  const Sample a = ds.get(2, 42), b = ds.get(2, 42), c = ds.get(2, 43);
  EXPECT_EQ(a.inputs.at("video").sizes(), (std::vector<int64_t>{3, 6, 28, 28}));
  EXPECT_EQ(a.inputs.at("video").dtype(), torch::kFloat32);
  EXPECT_EQ(a.target.class_index, 2);
  EXPECT_EQ(a.index, 2u);
  EXPECT_EQ(a.line_no, 3u);
  EXPECT_TRUE(torch::equal(a.inputs.at("video"), b.inputs.at("video")));
  EXPECT_FALSE(torch::equal(a.inputs.at("video"), c.inputs.at("video")));
  EXPECT_THROW(ds.entry(7), DataError);

  KineticsReaderOptions eval = small_train_opts();
  eval.phase = Phase::kValid;
  KineticsDataset dv(fx.list, eval);
  EXPECT_TRUE(torch::equal(dv.get(0, 1).inputs.at("video"),
                           dv.get(0, 999).inputs.at("video")));  // no randomness
}

TEST(KineticsDataset, RejectsBadOptionsAndEmptyLists) {
  Fixture fx;
  KineticsReaderOptions o = small_train_opts();
  o.seg_num = 0;
  EXPECT_THROW(KineticsDataset(fx.list, o), DataError);
  o = small_train_opts();
  o.target_size = 40;  // > short_size
  EXPECT_THROW(KineticsDataset(fx.list, o), DataError);
  write_file(fx.tmp.file("bad.list"), "a.mp4 x\n");
  try {
    KineticsDataset(fx.tmp.file("bad.list"), small_train_opts());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no usable lines"), std::string::npos) << e.what();
  }
  // Out-of-range labels are skipped lines, reported by the dataset.
  write_file(fx.tmp.file("lists/mixed.list"), "../frames/v0 1\n../frames/v1 9\n");
  KineticsDataset m(fx.tmp.file("lists/mixed.list"), small_train_opts());
  EXPECT_EQ(m.size(), 1u);
  ASSERT_EQ(m.skipped_lines().size(), 1u);
  EXPECT_NE(m.skipped_lines()[0].find(":2: label 9 out of range"), std::string::npos);
}

// A decoder whose container claims `declared` frames but only `real` exist; frame k is a
// constant image of value k. Records what was read.
class LyingDecoder : public VideoDecoder {
 public:
  LyingDecoder(int64_t declared, int64_t real) : declared_(declared), real_(real) {}
  std::string name() const override { return "lying"; }
  std::unique_ptr<VideoSource> open(const std::string& path) const override {
    struct Src : VideoSource {
      int64_t declared, real;
      int64_t frame_count() const override { return declared; }
      FrameReadResult read(const std::vector<int64_t>& idx) override {
        FrameReadResult r;
        for (int64_t i : idx) {
          if (i >= real) {
            r.ended_early = true;
            break;
          }
          r.frames.emplace_back(8, 8, CV_8UC3, cv::Scalar::all(static_cast<double>(i)));
        }
        r.frames_decoded = r.ended_early ? real : (idx.empty() ? 0 : idx.back() + 1);
        return r;
      }
    };
    ++opens_;
    auto s = std::make_unique<Src>();
    s->declared = declared_;
    s->real = real_;
    return s;
  }
  mutable int opens_ = 0;

 private:
  int64_t declared_, real_;
};

TEST(KineticsDataset, LyingFrameCountResamplesFromDecodedFrames) {
  for (bool train : {false, true}) {
    LyingDecoder dec(100, 10);
    Rng rng(77);
    int64_t used = 0;
    const auto frames = load_clip_frames(dec, "fake.mp4", 4, 2, train, rng, &used);
    EXPECT_EQ(used, 10);
    EXPECT_EQ(dec.opens_, 2);  // reopened once after the stream ended early
    Rng replay(77);
    const auto expect = segment_indices(10, 4, 2, train, replay);
    ASSERT_EQ(frames.size(), expect.size());
    for (std::size_t k = 0; k < frames.size(); ++k) {
      EXPECT_EQ(frames[k].at<cv::Vec3b>(0, 0)[0], expect[k]) << k;
    }
    // The rng continues after the (replayed) sampling draws.
    EXPECT_EQ(rng.randint(0, 1 << 30), replay.randint(0, 1 << 30));
  }
  LyingDecoder none(50, 0);
  Rng rng(1);
  try {
    load_clip_frames(none, "empty.mp4", 3, 1, false, rng);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_EQ(e.reason(), "no decodable frames");
    EXPECT_NE(std::string(e.what()).find("empty.mp4"), std::string::npos);
  }
}

TEST(Loader, EpochOrderAndSeedsArePureFunctions) {
  const auto o1 = loader_epoch_order(10, true, 3, 0);
  EXPECT_EQ(o1, loader_epoch_order(10, true, 3, 0));
  EXPECT_NE(o1, loader_epoch_order(10, true, 3, 1));
  EXPECT_NE(o1, loader_epoch_order(10, true, 4, 0));
  auto sorted = o1;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, loader_epoch_order(10, false, 3, 0));  // a permutation; identity unshuffled
  EXPECT_NE(loader_sample_seed(1, 0, 5), loader_sample_seed(1, 1, 5));
  EXPECT_NE(loader_sample_seed(1, 0, 5), loader_sample_seed(1, 0, 6));
}

TEST(Loader, SameSeedSameBatchesWhateverTheThreadCount) {
  Fixture fx;
  auto ds = std::make_shared<KineticsDataset>(fx.list, small_train_opts());
  std::vector<std::vector<Batch>> runs;
  for (int threads : {1, 3, 0}) {
    LoaderOptions lo;
    lo.batch_size = 3;
    lo.num_threads = threads;
    lo.prefetch_batches = 1;
    lo.shuffle = true;
    lo.seed = 1234;
    Loader loader(ds, lo);
    EXPECT_EQ(loader.size(), 7u);
    EXPECT_EQ(loader.batches_per_epoch(), 3u);
    std::vector<Batch> all = run_epoch(loader, 0);
    const std::vector<Batch> e1 = run_epoch(loader, 1);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].input("video").sizes(), (std::vector<int64_t>{3, 3, 6, 28, 28}));
    EXPECT_EQ(all[2].input("video").size(0), 1);  // final partial batch emitted
    EXPECT_EQ(all[0].target.dtype(), torch::kInt64);
    EXPECT_EQ(loader.epoch_skips().skipped, 0u);
    // Every sample exactly once, in the shuffled order.
    std::vector<std::size_t> seen;
    for (const auto& b : all) seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    EXPECT_EQ(seen, loader_epoch_order(7, true, 1234, 0));
    // Epoch 1 differs in order (and augmentation).
    EXPECT_NE(e1[0].indices, all[0].indices);
    all.insert(all.end(), e1.begin(), e1.end());
    runs.push_back(std::move(all));
  }
  expect_same_batches(runs[0], runs[1]);
  expect_same_batches(runs[0], runs[2]);
  // Labels/paths line up with the dataset entries.
  const Batch& b0 = runs[0][0];
  for (std::size_t k = 0; k < b0.indices.size(); ++k) {
    EXPECT_EQ(b0.target[k].item<int64_t>(), ds->entry(b0.indices[k]).label);
    EXPECT_EQ(b0.ids[k], ds->entry(b0.indices[k]).path);
  }
}

TEST(Loader, DropLastAndRestartMidEpoch) {
  Fixture fx;
  auto ds = std::make_shared<KineticsDataset>(fx.list, small_train_opts());
  LoaderOptions lo;
  lo.batch_size = 3;
  lo.num_threads = 2;
  lo.drop_last = true;
  Loader loader(ds, lo);
  EXPECT_EQ(loader.batches_per_epoch(), 2u);
  EXPECT_EQ(run_epoch(loader, 0).size(), 2u);
  // Restart while batches are in flight; the new epoch is complete and correct.
  loader.start_epoch(5);
  ASSERT_TRUE(loader.next().has_value());
  const auto again = run_epoch(loader, 5);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].indices, (std::vector<std::size_t>{0, 1, 2}));
  // Implicit epoch 0 when next() is called first.
  Loader fresh(ds, lo);
  ASSERT_TRUE(fresh.next().has_value());
  EXPECT_EQ(fresh.epoch(), 0);
}

TEST(Loader, BadFilesAreSkippedWithWarningsAndBatchesRefilled) {
  Fixture fx;
  write_file(fx.tmp.file("bad/random.mp4"), random_bytes(20000, 1));
  write_file(fx.tmp.file("bad/zero.mp4"), "");
  write_file(fx.tmp.file("bad/random.avi"), random_bytes(3000, 2));
  make_frames_folder(fx.tmp.file("bad/emptyfolder"), 0, 8, 8, 0);
  const std::string list = fx.tmp.file("lists/mixed.list");
  write_file(list,
             "../frames/v0 0\n"        // 1
             "../bad/missing.mp4 1\n"  // 2
             "../frames/v1 1\n"        // 3
             "../bad/random.mp4 2\n"   // 4
             "../bad/zero.mp4 3\n"     // 5
             "../frames/v2 2\n"        // 6
             "../bad/random.avi 4\n"   // 7
             "../bad/emptyfolder 0\n"  // 8
             "../frames/v3 3\n"        // 9
             "../frames/v4 4\n");      // 10
  KineticsReaderOptions o = small_train_opts();
  o.phase = Phase::kTest;
  auto ds = std::make_shared<KineticsDataset>(list, o);
  for (int threads : {1, 3}) {
    std::vector<std::string> warnings;
    std::mutex mu;
    LoaderOptions lo;
    lo.batch_size = 2;
    lo.num_threads = threads;
    lo.warn = [&](const std::string& m) {
      std::lock_guard<std::mutex> lk(mu);
      warnings.push_back(m);
    };
    Loader loader(ds, lo);
    const auto batches = run_epoch(loader, 0);
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_EQ(batches[0].line_nos, (std::vector<std::size_t>{1, 3}));
    EXPECT_EQ(batches[1].line_nos, (std::vector<std::size_t>{6, 9}));  // refilled past bad ones
    EXPECT_EQ(batches[2].line_nos, (std::vector<std::size_t>{10}));
    const SkipReport rep = loader.epoch_skips();
    EXPECT_EQ(rep.skipped, 5u);
    EXPECT_EQ(rep.by_reason.at("file not found"), 1u);
    EXPECT_EQ(rep.by_reason.at("empty file"), 1u);
    // Random bytes fail either at open or at the first frame, depending on FFmpeg's probing.
    const auto count = [&](const char* k) {
      return rep.by_reason.count(k) ? rep.by_reason.at(k) : std::size_t{0};
    };
    EXPECT_EQ(count("cannot open video") + count("no decodable frames") + count("decoding failed"),
              3u);
    EXPECT_GE(count("no decodable frames"), 1u);  // the empty frames folder
    ASSERT_EQ(warnings.size(), 5u);
    EXPECT_NE(warnings[0].find(fx.tmp.file("bad/missing.mp4") + " (list line 2): file not found"),
              std::string::npos)
        << warnings[0];
    EXPECT_NE(warnings[1].find("random.mp4 (list line 4)"), std::string::npos) << warnings[1];
    EXPECT_NE(warnings[2].find("zero.mp4 (list line 5): empty file"), std::string::npos);
  }
}

TEST(Loader, AllSamplesFailingIsAnError) {
  TempDir tmp;
  write_file(tmp.file("r.mp4"), random_bytes(5000, 3));
  write_file(tmp.file("l.list"), "nothere.mp4 1\nr.mp4 2\n");
  KineticsReaderOptions o = small_train_opts();
  auto ds = std::make_shared<KineticsDataset>(tmp.file("l.list"), o);
  for (int threads : {0, 2}) {
    LoaderOptions lo;
    lo.num_threads = threads;
    lo.warn = [](const std::string&) {};
    Loader loader(ds, lo);
    loader.start_epoch(0);
    try {
      loader.next();
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("all 2 samples"), std::string::npos) << msg;
      EXPECT_NE(msg.find("nothere.mp4"), std::string::npos) << msg;
    }
  }
}

TEST(Loader, RejectsBadOptions) {
  Fixture fx;
  auto ds = std::make_shared<KineticsDataset>(fx.list, small_train_opts());
  LoaderOptions lo;
  lo.batch_size = 0;
  EXPECT_THROW(Loader(ds, lo), DataError);
  EXPECT_THROW(Loader(nullptr, LoaderOptions{}), DataError);
}

TEST(Loader, GeneratedMjpegAviDecodes) {
  TempDir tmp;
  const std::string path = tmp.file("gen.avi");
  {
    cv::VideoWriter w(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25,
                      cv::Size(48, 36));
    if (!w.isOpened()) GTEST_SKIP() << "OpenCV cannot write MJPG .avi here";
    for (int t = 0; t < 20; ++t) w.write(testing::synthetic_frame(48, 36, t, 0));
  }
  write_file(tmp.file("l.list"), "gen.avi 1\n");
  KineticsReaderOptions o = small_train_opts();
  o.phase = Phase::kValid;
  auto ds = std::make_shared<KineticsDataset>(tmp.file("l.list"), o);
  const Sample s = ds->get(0, 0);
  EXPECT_EQ(s.inputs.at("video").sizes(), (std::vector<int64_t>{3, 6, 28, 28}));
  auto src = default_video_decoder()->open(path);
  EXPECT_EQ(src->frame_count(), 20);
  const FrameReadResult r = src->read({0, 5, 19});
  EXPECT_FALSE(r.ended_early);
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[2].size(), cv::Size(48, 36));
}

}  // namespace
}  // namespace vc::data
