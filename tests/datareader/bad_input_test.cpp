// The bad-input matrix of the Kinetics reader (docs/reader.md "The loader"): every row goes
// through the real path (list file -> parse_file_list -> KineticsDataset -> Loader with 2 reader
// threads) and checks that the bad sample ends in one warning naming the file and the list line,
// is counted in the SkipReport under its reason, and that the other samples of the list still
// come out (batch contents and count). Video rows run with both decoders (FFmpeg libraries and
// OpenCV). Also: a list where every sample fails stops with an error saying so, determinism with
// bad entries across thread counts, and the loader's bound on decoded samples held in memory.
//
// Inputs are generated at test time: mp4 files with cv::VideoWriter (MPEG-4 part 2, 'mp4v'),
// derived from them by editing the MP4 boxes (truncation in the middle of mdat, zeroed or
// corrupted mdat payload, moov moved before mdat).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include <opencv2/videoio.hpp>

#include "datareader/ffmpeg_decoder.h"
#include "datareader/file_list.h"
#include "datareader/kinetics_reader.h"
#include "datareader/loader.h"
#include "datareader/sampling.h"
#include "tests/datareader/test_util.h"

namespace vc::data {
namespace {
namespace fs = std::filesystem;
using testing::make_frames_folder;
using testing::random_bytes;
using testing::TempDir;
using testing::write_file;

// ---------------------------------------------------------------------------------------------
// MP4 box surgery

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint64_t be(const std::string& d, std::size_t o, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | static_cast<unsigned char>(d[o + k]);
  return v;
}

void put_be(std::string& d, std::size_t o, int n, uint64_t v) {
  for (int k = n - 1; k >= 0; --k, v >>= 8) d[o + k] = static_cast<char>(v & 255);
}

struct Box {
  std::string type;
  std::size_t begin = 0, size = 0, header = 8;
  std::size_t payload() const { return begin + header; }
  std::size_t end() const { return begin + size; }
};

// The boxes in d[begin, end) (32-bit, 64-bit "size 1" and "to end" "size 0" boxes).
std::vector<Box> boxes(const std::string& d, std::size_t begin, std::size_t end) {
  std::vector<Box> out;
  std::size_t i = begin;
  while (i + 8 <= end) {
    Box b;
    b.begin = i;
    b.type = d.substr(i + 4, 4);
    uint64_t size = be(d, i, 4);
    if (size == 1 && i + 16 <= end) {
      size = be(d, i + 8, 8);
      b.header = 16;
    } else if (size == 0) {
      size = end - i;
    }
    if (size < b.header || i + size > end) break;
    b.size = static_cast<std::size_t>(size);
    out.push_back(b);
    i += b.size;
  }
  return out;
}

Box top_box(const std::string& d, const std::string& type) {
  for (const Box& b : boxes(d, 0, d.size())) {
    if (b.type == type) return b;
  }
  throw std::runtime_error("no top-level '" + type + "' box");
}

// Adds `delta` to every chunk offset (stco / co64) under d[begin, end) (a moov's payload).
void shift_chunk_offsets(std::string& d, std::size_t begin, std::size_t end, uint64_t delta) {
  for (const Box& b : boxes(d, begin, end)) {
    if (b.type == "trak" || b.type == "mdia" || b.type == "minf" || b.type == "stbl") {
      shift_chunk_offsets(d, b.payload(), b.end(), delta);
    } else if (b.type == "stco" || b.type == "co64") {
      const int w = b.type == "stco" ? 4 : 8;
      const uint64_t n = be(d, b.payload() + 4, 4);  // after version/flags
      for (uint64_t k = 0; k < n; ++k) {
        const std::size_t o = b.payload() + 8 + k * w;
        put_be(d, o, w, be(d, o, w) + delta);
      }
    }
  }
}

// The same file with moov moved before mdat ("faststart"), so that a file cut inside mdat still
// has its index.
std::string faststart(const std::string& d) {
  const Box moov = top_box(d, "moov"), mdat = top_box(d, "mdat");
  if (moov.begin < mdat.begin) return d;
  std::string m = d.substr(moov.begin, moov.size);
  shift_chunk_offsets(m, 8, m.size(), m.size());
  return d.substr(0, mdat.begin) + m + d.substr(mdat.begin, moov.begin - mdat.begin) +
         d.substr(moov.end());
}

// ---------------------------------------------------------------------------------------------
// Generated inputs

constexpr int kW = 64, kH = 48;

// Writes `n` frames of `frame(t)` (BGR kW x kH) as MPEG-4 part 2 in mp4; false when this OpenCV
// cannot write it.
bool write_mp4(const std::string& path, int n, const std::function<cv::Mat(int)>& frame) {
  fs::create_directories(fs::path(path).parent_path());
  cv::VideoWriter w(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), 25,
                    cv::Size(kW, kH));
  if (!w.isOpened()) return false;
  for (int t = 0; t < n; ++t) w.write(frame(t));
  w.release();
  return fs::file_size(path) > 0;
}

// A flat grey frame: value of frame t in the "wrap" video.
int wrap_value(int t) { return 20 + 40 * t; }

// Generated once per test binary: good clips g0..g2 (24 frames), a 48-frame clip "long", and a
// 5-frame clip "wrap" of flat grey frames (frame t = wrap_value(t)).
struct Clips {
  TempDir dir;
  bool ok = false;
  std::string g[3], long_clip, wrap;
  Clips() {
    ok = true;
    for (int v = 0; v < 3; ++v) {
      g[v] = dir.file("good/g" + std::to_string(v) + ".mp4");
      ok = ok && write_mp4(g[v], 24, [v](int t) { return testing::synthetic_frame(kW, kH, t, v); });
    }
    long_clip = dir.file("good/long.mp4");
    ok = ok &&
         write_mp4(long_clip, 48, [](int t) { return testing::synthetic_frame(kW, kH, t, 9); });
    wrap = dir.file("good/wrap.mp4");
    ok = ok && write_mp4(wrap, 5, [](int t) {
           return cv::Mat(kH, kW, CV_8UC3, cv::Scalar::all(wrap_value(t)));
         });
  }
};

const Clips& clips() {
  static Clips c;
  return c;
}

#define REQUIRE_CLIPS()                                                    \
  if (!clips().ok)                                                         \
  GTEST_SKIP() << "this OpenCV cannot write mp4v .mp4 (cv::VideoWriter), " \
                  "the generated-video rows are skipped"

KineticsReaderOptions small_opts(Phase phase = Phase::kTest) {
  KineticsReaderOptions o;
  o.phase = phase;
  o.seg_num = 3;
  o.seglen = 1;
  o.short_size = 48;
  o.target_size = 40;
  o.num_classes = 5;
  return o;
}

struct RunOut {
  std::vector<Batch> batches;
  std::vector<std::string> warnings;
  SkipReport skips;
  std::vector<std::size_t> lines() const {
    std::vector<std::size_t> v;
    for (const Batch& b : batches) v.insert(v.end(), b.line_nos.begin(), b.line_nos.end());
    return v;
  }
  std::vector<int64_t> labels() const {
    std::vector<int64_t> v;
    for (const Batch& b : batches) {
      for (int64_t k = 0; k < b.target.size(0); ++k) v.push_back(b.target[k].item<int64_t>());
    }
    return v;
  }
  std::size_t count(const std::string& reason) const {
    auto it = skips.by_reason.find(reason);
    return it == skips.by_reason.end() ? 0 : it->second;
  }
};

RunOut run_epoch(std::shared_ptr<const Dataset> ds, int threads = 2, int64_t batch = 2,
                 bool shuffle = false, uint64_t seed = 7, int64_t epoch = 0) {
  RunOut out;
  std::mutex mu;
  LoaderOptions lo;
  lo.batch_size = batch;
  lo.num_threads = threads;
  lo.prefetch_batches = 2;
  lo.shuffle = shuffle;
  lo.seed = seed;
  lo.warn = [&](const std::string& m) {
    std::lock_guard<std::mutex> lk(mu);
    out.warnings.push_back(m);
  };
  Loader loader(std::move(ds), lo);
  loader.start_epoch(epoch);
  while (auto b = loader.next()) out.batches.push_back(std::move(*b));
  out.skips = loader.epoch_skips();
  return out;
}

std::shared_ptr<const VideoDecoder> decoder_named(const std::string& name) {
  return make_video_decoder(name);
}

// ---------------------------------------------------------------------------------------------
// Video rows: the list is
//   line 1: g0 0 | line 2: <bad> 3 | line 3: g1 1 | line 4: g2 2
// read in batches of 2 with 2 reader threads, once per decoder.

class BadVideo : public ::testing::TestWithParam<std::string> {
 protected:
  TempDir tmp;

  std::string list_with(const std::string& bad_path) {
    const std::string list = tmp.file("lists/l.list");
    write_file(list, clips().g[0] + " 0\n" + bad_path + " 3\n" + clips().g[1] + " 1\n" +
                         clips().g[2] + " 2\n");
    return list;
  }
  std::shared_ptr<KineticsDataset> dataset(const std::string& list,
                                           KineticsReaderOptions o = small_opts()) {
    return std::make_shared<KineticsDataset>(list, o, decoder_named(GetParam()));
  }

  // The row's bad sample was skipped with one warning "<path> (list line 2): <reason>", counted
  // under a reason in `reasons`, and lines 1, 3, 4 came out in batches [1, 3], [4].
  void expect_skipped(const std::string& bad_path, const std::vector<std::string>& reasons) {
    const auto ds = dataset(list_with(bad_path));
    const RunOut r = run_epoch(ds);
    ASSERT_EQ(r.warnings.size(), 1u);
    const std::string& w = r.warnings[0];
    EXPECT_NE(w.find(bad_path + " (list line 2): "), std::string::npos) << w;
    EXPECT_EQ(r.skips.skipped, 1u);
    std::size_t n = 0;
    bool named = false;
    for (const std::string& why : reasons) {
      n += r.count(why);
      named = named || w.find("(list line 2): " + why) != std::string::npos;
    }
    EXPECT_EQ(n, 1u) << "reason not among the expected ones; warning: " << w;
    EXPECT_TRUE(named) << w;
    ASSERT_EQ(r.batches.size(), 2u);
    EXPECT_EQ(r.batches[0].line_nos, (std::vector<std::size_t>{1, 3}));
    EXPECT_EQ(r.batches[1].line_nos, (std::vector<std::size_t>{4}));
    EXPECT_EQ(r.labels(), (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(r.batches[0].input("video").sizes(), (std::vector<int64_t>{2, 3, 3, 40, 40}));
    EXPECT_EQ(r.batches[1].ids, (std::vector<std::string>{clips().g[2]}));
  }

  // The row's sample was NOT skipped: all 4 lines came out.
  void expect_loaded(const std::string& path) {
    const auto ds = dataset(list_with(path));
    const RunOut r = run_epoch(ds);
    EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
    EXPECT_EQ(r.skips.skipped, 0u);
    EXPECT_EQ(r.lines(), (std::vector<std::size_t>{1, 2, 3, 4}));
    EXPECT_EQ(r.labels(), (std::vector<int64_t>{0, 3, 1, 2}));
  }
};

TEST_P(BadVideo, MissingFile) {
  REQUIRE_CLIPS();
  expect_skipped(tmp.file("videos/not_there.mp4"), {"file not found"});
}

TEST_P(BadVideo, ZeroByteFile) {
  REQUIRE_CLIPS();
  write_file(tmp.file("videos/zero.mp4"), "");
  expect_skipped(tmp.file("videos/zero.mp4"), {"empty file"});
}

// OpenCV's writer puts moov after mdat (no faststart): cut in the middle of mdat, the file has no
// index left, so nothing can be decoded.
TEST_P(BadVideo, TruncatedMp4InMdatWithoutIndex) {
  REQUIRE_CLIPS();
  const std::string d = read_bytes(clips().long_clip);
  const Box mdat = top_box(d, "mdat");
  ASSERT_LT(mdat.end(), d.size()) << "expected moov after mdat";
  write_file(tmp.file("videos/cut.mp4"), d.substr(0, mdat.payload() + (mdat.size - 8) / 2));
  expect_skipped(tmp.file("videos/cut.mp4"),
                 {"cannot open video", "no decodable frames", "decoding failed"});
}

// With moov first, a file cut in the middle of mdat keeps its index and the first half of its
// frames: the sample is drawn from the frames that decode (the container's count lies).
TEST_P(BadVideo, TruncatedFaststartMp4DecodesWhatIsThere) {
  REQUIRE_CLIPS();
  const std::string d = faststart(read_bytes(clips().long_clip));
  const Box moov = top_box(d, "moov"), mdat = top_box(d, "mdat");
  ASSERT_LT(moov.begin, mdat.begin);
  // The faststart copy itself decodes fully (chunk offsets were patched right).
  write_file(tmp.file("videos/fast.mp4"), d);
  EXPECT_EQ(decoder_named(GetParam())->open(tmp.file("videos/fast.mp4"))->frame_count(), 48);
  write_file(tmp.file("videos/cut.mp4"), d.substr(0, mdat.payload() + (mdat.size - 8) / 2));
  expect_loaded(tmp.file("videos/cut.mp4"));
  // Its frames come from the first part of the video only.
  Rng rng(1);
  int64_t used = 0;
  load_clip_frames(*decoder_named(GetParam()), tmp.file("videos/cut.mp4"), 3, 1, false, rng, &used);
  EXPECT_GE(used, 1);
  EXPECT_LE(used, 48);
}

TEST_P(BadVideo, RandomBytesNamedMp4) {
  REQUIRE_CLIPS();
  write_file(tmp.file("videos/random.mp4"), random_bytes(30000, 11));
  expect_skipped(tmp.file("videos/random.mp4"),
                 {"cannot open video", "no decodable frames", "decoding failed"});
}

// A container that opens (valid ftyp/moov, 48 frames declared) but whose frame data is all zero
// bytes: the MPEG-4 decoder finds no picture header in any packet, so no frame decodes.
TEST_P(BadVideo, ZeroDecodableFrames) {
  REQUIRE_CLIPS();
  std::string d = read_bytes(clips().long_clip);
  const Box mdat = top_box(d, "mdat");
  std::fill(d.begin() + static_cast<std::ptrdiff_t>(mdat.payload()),
            d.begin() + static_cast<std::ptrdiff_t>(mdat.end()), '\0');
  write_file(tmp.file("videos/zeroed.mp4"), d);
  expect_skipped(tmp.file("videos/zeroed.mp4"), {"no decodable frames", "decoding failed"});
}

// 5 frames for seg_num * seglen = 3 * 4 = 12: avg = 1 < seglen, segment i starts at i and wraps
// modulo 5 (as the original). The frames are flat greys, so the clip shows which were taken.
TEST_P(BadVideo, FewerFramesThanSegNumTimesSeglenWrapsAround) {
  REQUIRE_CLIPS();
  KineticsReaderOptions o = small_opts(Phase::kTest);
  o.seglen = 4;
  o.image_mean = {0.f, 0.f, 0.f};
  o.image_std = {1.f, 1.f, 1.f};
  Rng rng(0);
  const std::vector<int64_t> expect{0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 0};
  EXPECT_EQ(segment_indices(5, 3, 4, false, rng), expect);
  const auto ds = dataset(list_with(clips().wrap), o);
  const RunOut r = run_epoch(ds);
  EXPECT_TRUE(r.warnings.empty());
  ASSERT_EQ(r.lines(), (std::vector<std::size_t>{1, 2, 3, 4}));
  const torch::Tensor clip = r.batches[0].input("video")[1];  // line 2: [3, 12, 40, 40]
  ASSERT_EQ(clip.sizes(), (std::vector<int64_t>{3, 12, 40, 40}));
  for (int s = 0; s < 3; ++s) {
    for (int f = 0; f < 4; ++f) {
      const float v = clip[s][f * 3].mean().item<float>() * 255.f;  // R of frame f of segment s
      EXPECT_NEAR(v, wrap_value(static_cast<int>(expect[s * 4 + f])), 8.f)
          << "segment " << s << " frame " << f;
    }
  }
}

// Random bytes over 40%..60% of mdat: the packets there fail to decode. What decodes is used
// (the decoders differ in how much: see docs/reader.md); the sample is not lost.
TEST_P(BadVideo, MidStreamCorruptPacketsDecodeWhatCanBeDecoded) {
  REQUIRE_CLIPS();
  std::string d = read_bytes(clips().long_clip);
  const Box mdat = top_box(d, "mdat");
  const std::size_t n = mdat.size - 8, a = mdat.payload() + n * 2 / 5,
                    b = mdat.payload() + n * 3 / 5;
  const std::string noise = random_bytes(b - a, 5);
  d.replace(a, b - a, noise);
  write_file(tmp.file("videos/corrupt.mp4"), d);
  expect_loaded(tmp.file("videos/corrupt.mp4"));
}

TEST_P(BadVideo, FramesFolderWithGarbageJpegs) {
  REQUIRE_CLIPS();
  const std::string dir = tmp.file("videos/garbage_frames");
  for (int t = 1; t <= 6; ++t) {
    char name[32];
    std::snprintf(name, sizeof(name), "/img_%05d.jpg", t);
    write_file(dir + name, random_bytes(500, static_cast<unsigned>(t)));
  }
  // Tests may run as root, where chmod 000 does not stop reads: garbage files are the portable
  // "unreadable" frames. The warning names the folder.
  expect_skipped(dir, {"cannot decode image", "no decodable frames", "decoding failed"});
}

TEST_P(BadVideo, FramesFolderWithNoFrames) {
  REQUIRE_CLIPS();
  const std::string dir = tmp.file("videos/empty_frames");
  fs::create_directories(dir);
  write_file(dir + "/readme.txt", "no frames here");
  expect_skipped(dir, {"no decodable frames"});
}

TEST_P(BadVideo, EverySampleFailingStopsTheRunSayingSo) {
  write_file(tmp.file("videos/zero.mp4"), "");
  write_file(tmp.file("videos/random.mp4"), random_bytes(4000, 3));
  fs::create_directories(tmp.file("videos/empty_frames"));
  const std::string list = tmp.file("lists/all_bad.list");
  write_file(list,
             "../videos/missing.mp4 0\n../videos/zero.mp4 1\n../videos/random.mp4 2\n"
             "../videos/empty_frames 3\n");
  const auto ds = std::make_shared<KineticsDataset>(list, small_opts(), decoder_named(GetParam()));
  for (int threads : {0, 2}) {
    std::vector<std::string> warnings;
    LoaderOptions lo;
    lo.batch_size = 2;
    lo.num_threads = threads;
    lo.warn = [&](const std::string& m) { warnings.push_back(m); };
    Loader loader(ds, lo);
    loader.start_epoch(0);
    try {
      loader.next();
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("all 4 samples of epoch 0 failed"), std::string::npos) << msg;
      EXPECT_NE(msg.find("file not found: 1"), std::string::npos) << msg;  // reasons counted
      EXPECT_NE(msg.find("missing.mp4 (list line 1)"), std::string::npos) << msg;
    }
    EXPECT_EQ(warnings.size(), 4u);  // each still warned, in list order
    EXPECT_NE(warnings.back().find("empty_frames (list line 4)"), std::string::npos);
    EXPECT_EQ(loader.epoch_skips().skipped, 4u);
  }
}

INSTANTIATE_TEST_SUITE_P(Decoders, BadVideo, ::testing::Values("ffmpeg", "opencv"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------------------------
// List-line rows (decoder independent; the dataset's default decoder). The list-line skips are
// reported by the dataset (KineticsDataset::skipped_lines(), "<list>:<line>: <why>", logged once
// by the tools when the list is read) and their reasons by parse_file_list.

struct ListRow {
  TempDir tmp;
  std::string list;
  std::shared_ptr<KineticsDataset> ds;
  ListParseResult parsed;
  RunOut run;
  // `body` may use {g0} {g1} {g2} for the good clips' paths.
  explicit ListRow(std::string body) {
    for (int v = 0; v < 3; ++v) {
      const std::string key = "{g" + std::to_string(v) + "}";
      for (std::size_t p; (p = body.find(key)) != std::string::npos;)
        body.replace(p, 4, clips().g[v]);
    }
    list = tmp.file("lists/rows.list");
    write_file(list, body);
    parsed = parse_file_list(list, true, 5);
    ds = std::make_shared<KineticsDataset>(list, small_opts());
    run = run_epoch(ds);
  }
  void expect_line_skipped(std::size_t line, const std::string& reason, const std::string& why) {
    const std::string prefix = list + ":" + std::to_string(line) + ": ";
    bool found = false;
    for (std::size_t k = 0; k < parsed.skipped.size(); ++k) {
      if (parsed.skipped[k].rfind(prefix, 0) != 0) continue;
      found = true;
      EXPECT_EQ(parsed.skipped_reasons[k], reason) << parsed.skipped[k];
      EXPECT_NE(parsed.skipped[k].find(why), std::string::npos) << parsed.skipped[k];
    }
    EXPECT_TRUE(found) << "no skip message starting with " << prefix;
    EXPECT_EQ(ds->skipped_lines(), parsed.skipped);
  }
};

TEST(BadListLine, MissingLabel) {
  REQUIRE_CLIPS();
  ListRow r("{g0} 0\n{g1}\n{g2} 2\n");
  r.expect_line_skipped(2, "missing label", "missing label after path");
  EXPECT_EQ(r.ds->size(), 2u);
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(r.run.labels(), (std::vector<int64_t>{0, 2}));
  EXPECT_TRUE(r.run.warnings.empty());  // list skips are not sample skips
  // Labels optional (infer): the same line is a sample with label -1.
  EXPECT_EQ(parse_file_list(r.list, false, 5).entries.at(1).label, -1);
}

TEST(BadListLine, NonIntegerLabel) {
  REQUIRE_CLIPS();
  ListRow r("{g0} 0\n{g1} one\n{g1} 1.0\n{g1} 0x1\n{g2} 2\n");
  r.expect_line_skipped(2, "label not an integer", "label 'one' is not an integer");
  r.expect_line_skipped(3, "label not an integer", "label '1.0'");
  r.expect_line_skipped(4, "label not an integer", "label '0x1'");
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{1, 5}));
}

TEST(BadListLine, LabelNotBelowNumClasses) {
  REQUIRE_CLIPS();
  ListRow r("{g0} 4\n{g1} 5\n{g1} 99999999999999999999\n{g1} -1\n{g2} 2\n");
  r.expect_line_skipped(2, "label out of range", "label 5 out of range [0, 5)");
  r.expect_line_skipped(3, "label not an integer", "99999999999999999999");  // overflows int64
  r.expect_line_skipped(4, "negative label", "label -1 is negative");
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{1, 5}));
  EXPECT_EQ(r.run.labels(), (std::vector<int64_t>{4, 2}));
}

TEST(BadListLine, TrailingWhitespaceIsAccepted) {
  REQUIRE_CLIPS();
  ListRow r("{g0} 0  \t \n   {g1} 1\t\n{g2}   2 \v\f\n");
  EXPECT_TRUE(r.parsed.skipped.empty());
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{1, 2, 3}));
  EXPECT_EQ(r.run.labels(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(r.run.batches[0].ids[0], clips().g[0]);
}

TEST(BadListLine, CrlfLineEndingsAreAccepted) {
  REQUIRE_CLIPS();
  ListRow r("{g0} 0\r\n{g1} 1\r\n\r\n{g2} 2\r\n");
  EXPECT_TRUE(r.parsed.skipped.empty());
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{1, 2, 4}));
  EXPECT_EQ(r.run.batches[0].ids[1], clips().g[1]);  // no '\r' left in the path
  EXPECT_EQ(r.run.labels(), (std::vector<int64_t>{0, 1, 2}));
}

TEST(BadListLine, BlankLinesAreIgnoredAndLineNumbersKept) {
  REQUIRE_CLIPS();
  ListRow r("\n\n{g0} 0\n   \n\t\n{g1} 1\n\n{g2} 2");  // and no final newline
  EXPECT_TRUE(r.parsed.skipped.empty());
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{3, 6, 8}));
}

TEST(BadListLine, CommentLinesAreIgnored) {
  REQUIRE_CLIPS();
  ListRow r("# header\n{g0} 0\n  # indented {g1} 1\n#{g1} 1\n{g2} 2\n");
  EXPECT_TRUE(r.parsed.skipped.empty());
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{2, 5}));
}

// The last token is the label when it is an integer; everything before it is the path.
TEST(BadListLine, PathWithSpacesTakesTheLastTokenAsLabel) {
  REQUIRE_CLIPS();
  TempDir tmp;
  const std::string spaced = tmp.file("my videos/clip  one.mp4");
  fs::create_directories(fs::path(spaced).parent_path());
  fs::copy_file(clips().g[1], spaced);
  ListRow r("{g0} 0\n" + spaced + " 1\n" + spaced + "\n" + spaced + " x\n{g2} 2\n");
  EXPECT_EQ(r.ds->entry(1).path, spaced);
  EXPECT_EQ(r.ds->entry(1).label, 1);
  r.expect_line_skipped(3, "too many columns", "expected '<path> <label>'");  // no label
  r.expect_line_skipped(4, "too many columns", "expected '<path> <label>'");
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{1, 2, 5}));
  EXPECT_EQ(r.run.batches[0].ids[1], spaced);
}

TEST(BadListLine, NulBytesLongLinesBomAndNonUtf8) {
  REQUIRE_CLIPS();
  const std::string long_line = std::string(kMaxListLineBytes + 10, 'a') + " 1\n";
  ListRow r("\xEF\xBB\xBF{g0} 0\n" + std::string("x\0y.mp4 1\n", 10) + long_line +
            "\xff\xfe\x80.mp4 1\n{g2} 2\n");
  EXPECT_EQ(r.ds->entry(0).path, clips().g[0]);  // the BOM is not part of the path
  r.expect_line_skipped(2, "NUL byte in line", "x\\x00y.mp4");
  r.expect_line_skipped(3, "line too long", "line longer than");
  EXPECT_LT(r.parsed.skipped[1].size(), 400u);  // the message is shortened
  // Non-UTF-8 file names are taken byte for byte (Linux file names are bytes): missing here.
  ASSERT_EQ(r.run.warnings.size(), 1u);
  EXPECT_NE(r.run.warnings[0].find("(list line 4): file not found"), std::string::npos);
  EXPECT_EQ(r.run.lines(), (std::vector<std::size_t>{1, 5}));
  EXPECT_EQ(r.run.skips.by_reason.at("file not found"), 1u);
}

// ---------------------------------------------------------------------------------------------
// Determinism with bad entries: same seed -> bit-identical batches in the same order with 1 and
// 3 reader threads (and in the calling thread), skips included.

void expect_identical(const RunOut& a, const RunOut& b) {
  ASSERT_EQ(a.batches.size(), b.batches.size());
  for (std::size_t i = 0; i < a.batches.size(); ++i) {
    EXPECT_EQ(a.batches[i].indices, b.batches[i].indices) << "batch " << i;
    EXPECT_EQ(a.batches[i].line_nos, b.batches[i].line_nos) << "batch " << i;
    EXPECT_TRUE(torch::equal(a.batches[i].input("video"), b.batches[i].input("video")))
        << "batch " << i;
    EXPECT_TRUE(torch::equal(a.batches[i].target, b.batches[i].target)) << "batch " << i;
  }
  EXPECT_EQ(a.warnings, b.warnings);
  EXPECT_EQ(a.skips.skipped, b.skips.skipped);
  EXPECT_EQ(a.skips.by_reason, b.skips.by_reason);
}

void check_determinism(const std::string& list, std::size_t expect_skipped,
                       std::size_t expect_samples) {
  KineticsReaderOptions o = small_opts(Phase::kTrain);  // random offsets, crops and flips
  o.seg_num = 3;
  o.seglen = 2;
  o.short_size = 64;
  o.target_size = 56;
  o.multi_scale_crop = true;
  o.num_classes = 0;
  const auto ds = std::make_shared<KineticsDataset>(list, o);
  std::vector<RunOut> runs;
  for (int threads : {1, 3, 0}) {
    runs.push_back(run_epoch(ds, threads, /*batch=*/3, /*shuffle=*/true, /*seed=*/2024, 1));
  }
  std::size_t n = 0;
  for (const Batch& b : runs[0].batches) n += b.indices.size();
  EXPECT_EQ(n, expect_samples);
  EXPECT_EQ(runs[0].skips.skipped, expect_skipped);
  expect_identical(runs[0], runs[1]);
  expect_identical(runs[0], runs[2]);
  // Another seed changes the batches.
  const RunOut other = run_epoch(ds, 3, 3, true, 2025, 1);
  ASSERT_FALSE(other.batches.empty());
  EXPECT_FALSE(other.batches[0].indices == runs[0].batches[0].indices &&
               torch::equal(other.batches[0].input("video"), runs[0].batches[0].input("video")));
}

TEST(BadInputDeterminism, GeneratedVideosWithBadEntriesSameBatchesWhateverTheThreads) {
  REQUIRE_CLIPS();
  TempDir tmp;
  write_file(tmp.file("zero.mp4"), "");
  write_file(tmp.file("random.mp4"), random_bytes(9000, 8));
  const std::string list = tmp.file("l.list");
  write_file(list, clips().g[0] + " 0\nmissing.mp4 1\n" + clips().g[1] + " 1\nzero.mp4 2\n" +
                       clips().long_clip + " 3\nrandom.mp4 4\n" + clips().g[2] + " 2\n" +
                       clips().wrap + " 4\n");
  check_determinism(list, 3, 5);
}

TEST(BadInputDeterminism, RealVideosWithBadEntriesSameBatchesWhateverTheThreads) {
  const std::string data = testing::shared_data_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/data absent: real-video determinism test skipped";
  TempDir tmp;
  write_file(tmp.file("zero.mp4"), "");
  write_file(tmp.file("random.avi"), random_bytes(9000, 9));
  const std::string v = data + "/videos/";
  const std::string list = tmp.file("l.list");
  write_file(list, v + "keyboard_3f.mov 0\n" + v + "pool_cleaning_32f.mp4 1\nmissing.mp4 2\n" + v +
                       "eye_makeup.avi 3\nzero.mp4 4\n" + v + "rawframes_eye_makeup 3\n" + v +
                       "flipping_pancake.mkv 5\nrandom.avi 6\n" + v + "arm_wrestling.mp4 7\n");
  check_determinism(list, 3, 6);
}

// ---------------------------------------------------------------------------------------------
// Memory bound: the loader holds at most prefetch_batches batches' worth of samples ahead of the
// consumer plus the batch being assembled, (prefetch_batches + 1) * batch_size decoded samples,
// whatever the number of reader threads.

class CountingDataset : public Dataset {
 public:
  explicit CountingDataset(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      ListEntry e;
      e.path = "fake" + std::to_string(i);
      e.label = static_cast<int64_t>(i % 3);
      e.line_no = i + 1;
      entries_.push_back(e);
    }
  }
  std::size_t size() const override { return entries_.size(); }
  SampleRef ref(std::size_t i) const override {
    return SampleRef{entries_.at(i).path, "counting", entries_.at(i).line_no};
  }
  const std::vector<std::string>& skipped_lines() const override { return skipped_; }
  std::string describe() const override { return "counting dataset"; }
  Sample get(std::size_t i, uint64_t) const override {
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    if (i % 7 == 3) throw SampleError(entries_[i].path, entries_[i].line_no, "fake failure", "");
    auto* buf = new float[2 * 3 * 4 * 4];
    std::fill(buf, buf + 96, static_cast<float>(i));
    note(+1);
    Sample s;
    s.inputs["video"] = torch::from_blob(
        buf, {2, 3, 4, 4},
        [this](void* p) {
          delete[] static_cast<float*>(p);
          note(-1);
        },
        torch::kFloat32);
    s.target = Target::single(entries_[i].label);
    s.id = entries_[i].path;
    s.line_no = entries_[i].line_no;
    s.index = i;
    return s;
  }
  int live() const { return live_.load(); }
  int max_live() const { return max_live_.load(); }

 private:
  void note(int d) const {
    const int now = live_.fetch_add(d) + d;
    int m = max_live_.load();
    while (now > m && !max_live_.compare_exchange_weak(m, now)) {
    }
  }
  std::vector<ListEntry> entries_;
  std::vector<std::string> skipped_;
  mutable std::atomic<int> live_{0}, max_live_{0};
};

TEST(LoaderMemoryBound, DecodedSamplesHeldAreBoundedByPrefetchPlusOneBatch) {
  for (int threads : {1, 3, 8}) {
    for (int prefetch : {1, 2}) {
      auto ds = std::make_shared<CountingDataset>(120);
      const int64_t B = 4;
      {
        LoaderOptions lo;
        lo.batch_size = B;
        lo.num_threads = threads;
        lo.prefetch_batches = prefetch;
        lo.warn = [](const std::string&) {};
        Loader loader(ds, lo);
        std::size_t got = 0;
        int b = 0;
        while (auto batch = loader.next()) {
          got += batch->indices.size();
          // A slow consumer: the workers run ahead as far as they may.
          if (b++ % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        EXPECT_EQ(got, 120u - 17u);  // i % 7 == 3 fails: 17 of 0..119
        EXPECT_EQ(loader.epoch_skips().by_reason.at("fake failure"), 17u);
      }
      EXPECT_EQ(ds->live(), 0) << "samples leaked";
      EXPECT_LE(ds->max_live(), (prefetch + 1) * B)
          << "threads " << threads << ", prefetch " << prefetch;
      EXPECT_GE(ds->max_live(), 1);
    }
  }
}

}  // namespace
}  // namespace vc::data
