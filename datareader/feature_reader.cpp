// YouTube-8M feature reader (see feature_reader.h and docs/formats/yt8m_features.md).
#include "datareader/feature_reader.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VC_FEATURE_X86 1
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "datareader/file_list.h"  // resolve_relative_to
#include "datareader/pickle.h"
#include "datareader/tfrecord.h"
#include "datareader/yt8m_example.h"
#include "datareader/yt8m_hdf5.h"
#include "datareader/yt8m_pkl.h"

namespace vc::data {

namespace {

constexpr int64_t kRgb = 1024;
constexpr int64_t kAudio = 128;

// uint8 -> float: the dequantization x * 4/255 + (4/512 - 2) (computed in double as the
// original's numpy float64: one rounded multiply, one rounded add, then rounded once to float),
// or the raw value (scale 1, offset 0).
constexpr double kDeqScale = 4.0 / 255.0;
constexpr double kDeqOffset = 4.0 / 512.0 - 2.0;

const std::array<float, 256>& value_table(bool dequantize) {
  static const std::array<float, 256> deq = [] {
    std::array<float, 256> t{};
    for (int x = 0; x < 256; ++x) t[x] = static_cast<float>(x * kDeqScale + kDeqOffset);
    return t;
  }();
  static const std::array<float, 256> raw = [] {
    std::array<float, 256> t{};
    for (int x = 0; x < 256; ++x) t[x] = static_cast<float>(x);
    return t;
  }();
  return dequantize ? deq : raw;
}

// n values through `table`: the portable path.
void widen_table(const uint8_t* in, float* out, int64_t n, const std::array<float, 256>& table) {
  const float* __restrict t = table.data();
  for (int64_t i = 0; i < n; ++i) out[i] = t[in[i]];
}

#ifdef VC_FEATURE_X86
// The same values computed as the table defines them (double multiply, double add, round to
// float), 8 at a time with AVX2: 3-4x the table's speed, where the reader spent most of its
// time. Explicit multiply and add (no FMA: not enabled for this function), so each step rounds
// as the scalar double code; checked against the table for all 256 inputs before first use.
__attribute__((target("avx2"))) void widen_avx2(const uint8_t* in, float* out, int64_t n,
                                                double scale, double offset) {
  const __m256d s = _mm256_set1_pd(scale);
  const __m256d o = _mm256_set1_pd(offset);
  for (int64_t i = 0; i + 8 <= n; i += 8) {
    __m128i b;
    std::memcpy(&b, in + i, 8);  // the low 8 bytes; the rest is ignored
    const __m256i v = _mm256_cvtepu8_epi32(b);
    const __m256d lo =
        _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(v)), s), o);
    const __m256d hi =
        _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1)), s), o);
    const __m256 f = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
    _mm256_storeu_ps(out + i, f);
  }
}

bool avx2_matches(double scale, double offset, const std::array<float, 256>& table) {
  if (!__builtin_cpu_supports("avx2")) return false;
  std::array<uint8_t, 256> in{};
  for (int x = 0; x < 256; ++x) in[static_cast<std::size_t>(x)] = static_cast<uint8_t>(x);
  std::array<float, 256> got{};
  widen_avx2(in.data(), got.data(), 256, scale, offset);
  return std::memcmp(got.data(), table.data(), sizeof(got)) == 0;
}
#endif

// n values: uint8 -> float as value_table(dequantize) maps them.
void widen(const uint8_t* in, float* out, int64_t n, bool dequantize) {
#ifdef VC_FEATURE_X86
  static const bool fast_deq = avx2_matches(kDeqScale, kDeqOffset, value_table(true));
  static const bool fast_raw = avx2_matches(1.0, 0.0, value_table(false));
  if (dequantize ? fast_deq : fast_raw) {
    const int64_t n8 = n - n % 8;
    widen_avx2(in, out, n8, dequantize ? kDeqScale : 1.0, dequantize ? kDeqOffset : 0.0);
    widen_table(in + n8, out + n8, n - n8, value_table(dequantize));
    return;
  }
#endif
  widen_table(in, out, n, value_table(dequantize));
}

std::string lower_ext(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

std::string quoted_id(const std::string& id) {
  std::string s;
  for (unsigned char c : id.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f) {
      s += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      s += buf;
    }
  }
  return "'" + s + (id.size() > 64 ? "...'" : "'");
}

}  // namespace

const char* to_string(FeatureFormat f) {
  switch (f) {
    case FeatureFormat::kTFRecord:
      return "tfrecord";
    case FeatureFormat::kHdf5:
      return "hdf5";
    case FeatureFormat::kPickle:
      return "pkl";
  }
  return "?";
}

FeatureFormat detect_feature_format(const std::string& path) {
  const std::string e = lower_ext(path);
  if (e == ".tfrecord" || e == ".tfrecords" || e == ".tfr") return FeatureFormat::kTFRecord;
  if (e == ".h5" || e == ".hdf5") return FeatureFormat::kHdf5;
  if (e == ".pkl" || e == ".pickle") return FeatureFormat::kPickle;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the file");
  char head[8] = {0};
  in.read(head, 8);
  static const char kHdf5Sig[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  if (in.gcount() == 8 && std::memcmp(head, kHdf5Sig, 8) == 0) return FeatureFormat::kHdf5;
  if (in.gcount() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 &&
      static_cast<unsigned char>(head[1]) <= 5) {
    return FeatureFormat::kPickle;
  }
  return FeatureFormat::kTFRecord;
}

std::vector<int64_t> feature_frame_indices(int64_t n, int64_t seg_num, bool random, Rng& rng) {
  if (n < 1 || seg_num < 1) {
    throw std::invalid_argument("feature_frame_indices: n and seg_num must be >= 1, got " +
                                std::to_string(n) + " and " + std::to_string(seg_num));
  }
  const double stride = static_cast<double>(n) / static_cast<double>(seg_num);
  std::vector<int64_t> idx(static_cast<std::size_t>(seg_num));
  for (int64_t i = 0; i < seg_num; ++i) {
    const double u = random ? rng.uniform() : 0.5;
    idx[static_cast<std::size_t>(i)] =
        std::min<int64_t>(n - 1, static_cast<int64_t>((static_cast<double>(i) + u) * stride));
  }
  return idx;
}

// ---------------------------------------------------------------------------------------------
// Shards

struct FeatureDataset::Shard {
  std::string path;
  std::size_t list_line = 0;
  FeatureFormat format = FeatureFormat::kTFRecord;
  // TFRecord: records after the first framing problem are kept here (Video::slot); the others
  // are re-read at Video::offset.
  std::vector<std::string> records;
  // HDF5
  std::unique_ptr<yt8m_h5::Reader> h5;
  // pkl: uint8 [T, 1024] / [T, 128] per entry (Video::slot), T already cut to nframes
  std::vector<at::Tensor> pkl_rgb, pkl_audio;
};

namespace {

struct Skip {
  std::string reason;
  std::string message;
};

struct ShardIndex {
  std::shared_ptr<FeatureDataset::Shard> shard;
  std::vector<FeatureDataset::Video> videos;
  std::vector<Skip> skips;
};

std::string record_where(const std::string& path, std::size_t record, const std::string& id) {
  return path + ": record " + std::to_string(record) +
         (id.empty() ? "" : " (video " + quoted_id(id) + ")");
}

// Range / emptiness checks common to every format; false (and a skip) when the video is unusable.
bool check_video(const FeatureDataset::Video& v, const std::string& path,
                 const FeatureReaderOptions& o, std::vector<Skip>* skips) {
  if (v.num_frames < 1) {
    skips->push_back({"zero frames", record_where(path, v.record, v.id) + ": zero frames"});
    return false;
  }
  if (o.require_label) {
    for (int64_t l : v.labels) {
      if (l < 0 || l >= o.num_classes) {
        skips->push_back({"label out of range", record_where(path, v.record, v.id) +
                                                    ": label out of range (label " +
                                                    std::to_string(l) + " not in [0, " +
                                                    std::to_string(o.num_classes) + "))"});
        return false;
      }
    }
  }
  return true;
}

void index_tfrecord(ShardIndex& si, const FeatureReaderOptions& o) {
  FeatureDataset::Shard& sh = *si.shard;
  tfrecord::RecordReader reader(sh.path);
  std::string bytes;
  std::size_t index = 0;
  uint64_t expected_offset = 0;  // where the next record starts while the framing is clean
  bool clean = true;
  std::size_t issues_seen = 0;
  while (reader.next(&bytes, &index)) {
    if (reader.issues().size() != issues_seen) clean = false;
    issues_seen = reader.issues().size();
    FeatureDataset::Video v;
    v.record = static_cast<uint32_t>(index);
    yt8m::VideoRecord rec;
    yt8m::Level level;
    try {
      level = yt8m::detect_level(bytes);
    } catch (const yt8m::RecordError& e) {
      si.skips.push_back(
          {"not a YouTube-8M record",
           record_where(sh.path, index, "") + ": not a YouTube-8M record (" + e.what() + ")"});
      if (clean) expected_offset += 16 + bytes.size();
      continue;
    }
    try {
      rec = yt8m::parse(bytes, level);
    } catch (const yt8m::RecordError& e) {
      si.skips.push_back({"bad record", record_where(sh.path, index, "") + ": " + e.what()});
      if (clean) expected_offset += 16 + bytes.size();
      continue;
    }
    v.id = rec.id;
    v.labels = rec.labels;
    v.video_level = level == yt8m::Level::kVideo;
    v.num_frames = v.video_level ? 1 : rec.num_frames;
    v.length = bytes.size();
    if (check_video(v, sh.path, o, &si.skips)) {
      if (clean) {
        v.offset = expected_offset;
      } else {
        v.slot = static_cast<int64_t>(sh.records.size());
        sh.records.push_back(bytes);
      }
      si.videos.push_back(std::move(v));
    }
    if (clean) expected_offset += 16 + bytes.size();
  }
  for (const tfrecord::RecordIssue& issue : reader.issues()) {
    si.skips.push_back({issue.reason, issue.detail});
  }
}

void index_hdf5(ShardIndex& si, const FeatureReaderOptions& o) {
  FeatureDataset::Shard& sh = *si.shard;
  sh.h5 = std::make_unique<yt8m_h5::Reader>(sh.path);
  for (std::size_t i = 0; i < sh.h5->size(); ++i) {
    FeatureDataset::Video v;
    v.record = static_cast<uint32_t>(i);
    v.id = sh.h5->id(i);
    v.labels = sh.h5->labels(i);
    v.num_frames = sh.h5->num_frames(i);
    v.slot = static_cast<int64_t>(i);
    if (check_video(v, sh.path, o, &si.skips)) si.videos.push_back(std::move(v));
  }
}

void index_pickle(ShardIndex& si, const FeatureReaderOptions& o) {
  FeatureDataset::Shard& sh = *si.shard;
  const pickle::ValuePtr root = yt8m_pkl::read_shard(sh.path);
  for (std::size_t k = 0; k < root->items.size(); ++k) {
    yt8m_pkl::Entry e;
    std::string detail;
    const std::string reason = yt8m_pkl::parse_entry(*root->items[k], o.require_label, &e, &detail);
    FeatureDataset::Video v;
    v.record = static_cast<uint32_t>(k);
    v.id = e.id;
    if (!reason.empty()) {
      si.skips.push_back(
          {reason, record_where(sh.path, k, v.id) + ": " + reason + " (" + detail + ")"});
      continue;
    }
    v.labels = std::move(e.labels);
    v.num_frames = e.num_frames;
    if (!check_video(v, sh.path, o, &si.skips)) continue;
    v.slot = static_cast<int64_t>(sh.pkl_rgb.size());
    sh.pkl_rgb.push_back(e.rgb);
    sh.pkl_audio.push_back(e.audio);
    si.videos.push_back(std::move(v));
  }
}

std::string format_detail(const std::string& list, std::size_t line, const std::string& why) {
  return list + ":" + std::to_string(line) + ": " + why;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FeatureDataset

FeatureDataset::FeatureDataset(const std::string& list_path, FeatureReaderOptions opts)
    : list_path_(list_path), opts_(std::move(opts)) {
  const std::string where = "YouTube-8M feature reader for " + list_path;
  if (opts_.num_classes < 1) {
    throw DataError(where + ": option num_classes must be >= 1, got " +
                    std::to_string(opts_.num_classes));
  }
  if (opts_.max_frames < 1) {
    throw DataError(where + ": option max_frames must be >= 1, got " +
                    std::to_string(opts_.max_frames));
  }
  if (opts_.seg_num < 0) {
    throw DataError(where + ": option seg_num must be >= 0, got " + std::to_string(opts_.seg_num));
  }
  std::ifstream in(list_path);
  if (!in) throw DataError("cannot open list file " + list_path);

  // The list: one shard per line.
  std::vector<ShardIndex> work;
  std::string line;
  std::size_t line_no = 0;
  auto skip = [&](const std::string& reason, const std::string& msg) {
    skipped_.push_back(msg);
    ++skip_counts_[reason];
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    const auto e = line.find_last_not_of(" \t");
    const std::string path = resolve_relative_to(list_path, line.substr(b, e - b + 1));
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      skip("shard not found", format_detail(list_path, line_no, "shard '" + path + "' not found"));
      continue;
    }
    ShardIndex si;
    si.shard = std::make_shared<Shard>();
    si.shard->path = path;
    si.shard->list_line = line_no;
    work.push_back(std::move(si));
  }

  // Index the shards in parallel; results are merged in list order.
  std::vector<std::string> shard_errors(work.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t k = next++; k < work.size(); k = next++) {
      ShardIndex& si = work[k];
      try {
        si.shard->format = detect_feature_format(si.shard->path);
        switch (si.shard->format) {
          case FeatureFormat::kTFRecord:
            index_tfrecord(si, opts_);
            break;
          case FeatureFormat::kHdf5:
            index_hdf5(si, opts_);
            break;
          case FeatureFormat::kPickle:
            index_pickle(si, opts_);
            break;
        }
      } catch (const std::exception& ex) {  // DataError and anything a library throws
        shard_errors[k] = ex.what();
        si.videos.clear();
      }
    }
  };
  unsigned threads = opts_.index_threads > 0 ? static_cast<unsigned>(opts_.index_threads)
                                             : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, work.size()));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }

  for (std::size_t k = 0; k < work.size(); ++k) {
    ShardIndex& si = work[k];
    if (!shard_errors[k].empty()) {
      skip("cannot read shard",
           format_detail(list_path, si.shard->list_line, "cannot read shard: " + shard_errors[k]));
      continue;
    }
    for (const Skip& s : si.skips) skip(s.reason, s.message);
    ++shard_counts_[to_string(si.shard->format)];
    const auto shard_no = static_cast<uint32_t>(shards_.size());
    for (Video& v : si.videos) {
      v.shard = shard_no;
      videos_.push_back(std::move(v));
    }
    shards_.push_back(si.shard);
  }
  if (videos_.empty()) {
    throw DataError("list file " + list_path + " gives no usable video (" +
                    std::to_string(skipped_.size()) + " skipped" +
                    (skipped_.empty() ? "" : ", first: " + skipped_.front()) + ")");
  }
}

FeatureDataset::~FeatureDataset() = default;

std::size_t FeatureDataset::size() const { return videos_.size(); }

SampleRef FeatureDataset::ref(std::size_t index) const {
  if (index >= videos_.size()) {
    throw DataError("sample index " + std::to_string(index) + " out of range for " + list_path_ +
                    " (" + std::to_string(videos_.size()) + " videos)");
  }
  const Video& v = videos_[index];
  return SampleRef{v.id, shards_[v.shard]->path, static_cast<std::size_t>(v.record) + 1};
}

CollatePolicy FeatureDataset::collate_policy() const {
  CollatePolicy p =
      opts_.seg_num > 0 ? CollatePolicy::stack() : CollatePolicy::pad({"rgb", "audio"});
  if (opts_.widen_in_batch) {
    const bool deq = opts_.dequantize;
    auto fn = [deq](const uint8_t* in, float* out, int64_t n) { widen(in, out, n, deq); };
    p.widen["rgb"] = fn;
    p.widen["audio"] = fn;
  }
  return p;
}

std::string FeatureDataset::describe() const {
  std::string shards;
  for (const auto& kv : shard_counts_) {
    shards += (shards.empty() ? "" : ", ") + std::to_string(kv.second) + " " + kv.first;
  }
  const std::string sampling =
      opts_.seg_num > 0
          ? "seg_num " + std::to_string(opts_.seg_num) +
                (opts_.phase == Phase::kTrain
                     ? " (random)"
                     : (opts_.eval_sampling == EvalSampling::kCenter ? " (center)" : " (random)"))
          : "all frames, padded";
  return "YouTube-8M feature list " + list_path_ + ": " + std::to_string(videos_.size()) +
         " videos in " + shards + " shard(s) (" + to_string(opts_.phase) + ", max_frames " +
         std::to_string(opts_.max_frames) + ", " +
         (opts_.dequantize ? "dequantized" : "raw 0..255") + ", " + sampling + ")";
}

namespace {

// pread of the whole framed record at `offset`, its length and data CRC checked against the
// index (the file may have changed since).
std::string reread_record(const std::string& path, uint64_t offset, uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError("cannot open the shard: " + std::string(std::strerror(errno)));
  // One preadv: the 12-byte header and the 4-byte footer apart, the data straight into the
  // returned string (no second copy).
  char header[12];
  uint32_t data_crc = 0;
  std::string data(static_cast<std::size_t>(length), '\0');
  iovec iov[3] = {
      {header, sizeof(header)}, {data.data(), data.size()}, {&data_crc, sizeof(data_crc)}};
  const std::size_t want = sizeof(header) + data.size() + sizeof(data_crc);
  std::size_t got = 0;
  int first = 0;
  while (got < want && first < 3) {
    const ssize_t r = ::preadv(fd, iov + first, 3 - first, static_cast<off_t>(offset + got));
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
    // Advance the iovecs past what was read (a short read may stop inside one).
    auto left = static_cast<std::size_t>(r);
    while (first < 3 && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < 3) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  ::close(fd);
  if (got != want) throw DataError("the shard is shorter than when it was indexed");
  uint64_t len = 0;
  std::memcpy(&len, header, 8);  // little endian (x86 / ARM Linux)
  if (len != length || tfrecord::mask_crc(tfrecord::crc32c(data.data(), data.size())) != data_crc) {
    throw DataError("the record changed since the shard was indexed (length / data CRC)");
  }
  return data;
}

// Rows `idx` of a uint8 [n, width] block -> float32 [idx.size(), width]:
// dequantized or raw (value_table). Consecutive rows are converted in one run.
at::Tensor rows_to_float(const uint8_t* data, int64_t width, const std::vector<int64_t>& idx,
                         bool dequantize) {
  at::Tensor out = at::empty({static_cast<int64_t>(idx.size()), width}, at::kFloat);
  float* o = out.data_ptr<float>();
  std::size_t i = 0;
  while (i < idx.size()) {
    std::size_t j = i + 1;  // [i, j): consecutive source rows
    while (j < idx.size() && idx[j] == idx[j - 1] + 1) ++j;
    const auto rows = static_cast<int64_t>(j - i);
    widen(data + idx[i] * width, o, rows * width, dequantize);
    o += rows * width;
    i = j;
  }
  return out;  // [T, width]
}

// Rows `idx` of a uint8 [n, width] block -> uint8 [idx.size(), width] (one copy; consecutive
// rows in one run).
at::Tensor rows_uint8(const uint8_t* data, int64_t width, const std::vector<int64_t>& idx) {
  at::Tensor out = at::empty({static_cast<int64_t>(idx.size()), width}, at::kByte);
  uint8_t* o = out.data_ptr<uint8_t>();
  std::size_t i = 0;
  while (i < idx.size()) {
    std::size_t j = i + 1;
    while (j < idx.size() && idx[j] == idx[j - 1] + 1) ++j;
    const auto bytes = static_cast<std::size_t>(static_cast<int64_t>(j - i) * width);
    std::memcpy(o, data + idx[i] * width, bytes);
    o += bytes;
    i = j;
  }
  return out;  // [T, width]
}

// True when idx is 0, 1, ..., idx.size() - 1 (all frames in order).
bool is_prefix(const std::vector<int64_t>& idx) {
  for (std::size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

}  // namespace

Sample FeatureDataset::get(std::size_t index, uint64_t seed) const {
  const SampleRef r = ref(index);
  const Video& v = videos_[index];
  const Shard& sh = *shards_[v.shard];
  Sample s;
  s.id = v.id;
  s.source = sh.path;
  s.line_no = r.line_no;
  s.index = index;
  if (opts_.require_label) {
    s.target = Target::multi(v.labels, opts_.num_classes, true);
  } else {
    std::vector<int64_t> in_range;
    for (int64_t l : v.labels) {
      if (l >= 0 && l < opts_.num_classes) in_range.push_back(l);
    }
    const bool labelled = !in_range.empty();
    s.target = Target::multi(std::move(in_range), opts_.num_classes, labelled);
  }

  const int64_t n = std::min(v.num_frames, opts_.max_frames);
  Rng rng(seed);
  std::vector<int64_t> idx;
  if (opts_.seg_num > 0) {
    const bool random =
        opts_.phase == Phase::kTrain || opts_.eval_sampling == EvalSampling::kRandom;
    idx = feature_frame_indices(n, opts_.seg_num, random, rng);
  } else {
    idx.resize(static_cast<std::size_t>(n));
    for (int64_t t = 0; t < n; ++t) idx[static_cast<std::size_t>(t)] = t;
  }
  const bool deq = opts_.dequantize;
  const bool keep_uint8 = opts_.widen_in_batch;
  // Frame rows of a uint8 block as the sample carries them: float32, or uint8 for the batch.
  auto frames = [&](const uint8_t* data, int64_t width) {
    return keep_uint8 ? rows_uint8(data, width, idx) : rows_to_float(data, width, idx, deq);
  };
  const std::string record =
      "record " + std::to_string(v.record) + " (video " + quoted_id(v.id) + ")";
  try {
    switch (sh.format) {
      case FeatureFormat::kTFRecord: {
        const std::string bytes = v.slot >= 0 ? sh.records[static_cast<std::size_t>(v.slot)]
                                              : reread_record(sh.path, v.offset, v.length);
        const yt8m::Level level = v.video_level ? yt8m::Level::kVideo : yt8m::Level::kFrame;
        const yt8m::VideoRecord rec = yt8m::parse(bytes, level);
        if (level == yt8m::Level::kVideo) {
          // Video level: one frame of float means, never dequantized.
          at::Tensor rgb =
              at::from_blob(const_cast<float*>(rec.mean_rgb.data()), {1, kRgb}, at::kFloat);
          at::Tensor audio =
              at::from_blob(const_cast<float*>(rec.mean_audio.data()), {1, kAudio}, at::kFloat);
          at::Tensor rows = at::tensor(idx, at::kLong);
          s.inputs["rgb"] = rgb.index_select(0, rows);      // [T, 1024]
          s.inputs["audio"] = audio.index_select(0, rows);  // [T, 128]
        } else {
          if (rec.num_frames != v.num_frames) {
            throw DataError("the record changed since the shard was indexed");
          }
          s.inputs["rgb"] = frames(rec.rgb.data(), kRgb);        // [T, 1024]
          s.inputs["audio"] = frames(rec.audio.data(), kAudio);  // [T, 128]
        }
        break;
      }
      case FeatureFormat::kHdf5: {
        // Uninitialised buffers: read_frames fills them whole.
        at::Tensor rgb = at::empty({n, kRgb}, at::kByte);
        at::Tensor audio = at::empty({n, kAudio}, at::kByte);
        sh.h5->read_frames(static_cast<std::size_t>(v.slot), 0, n, rgb.data_ptr<uint8_t>(),
                           audio.data_ptr<uint8_t>());
        if (keep_uint8 && is_prefix(idx) && static_cast<int64_t>(idx.size()) == n) {
          s.inputs["rgb"] = rgb;  // [T, 1024] uint8, as read
          s.inputs["audio"] = audio;
        } else {
          s.inputs["rgb"] = frames(rgb.data_ptr<uint8_t>(), kRgb);        // [T, 1024]
          s.inputs["audio"] = frames(audio.data_ptr<uint8_t>(), kAudio);  // [T, 128]
        }
        break;
      }
      case FeatureFormat::kPickle: {
        const at::Tensor& rgb = sh.pkl_rgb[static_cast<std::size_t>(v.slot)];
        const at::Tensor& audio = sh.pkl_audio[static_cast<std::size_t>(v.slot)];
        if (keep_uint8 && is_prefix(idx)) {
          // Views of the shard's arrays (read-only from here on): no copy at all.
          s.inputs["rgb"] = rgb.narrow(0, 0, static_cast<int64_t>(idx.size()));
          s.inputs["audio"] = audio.narrow(0, 0, static_cast<int64_t>(idx.size()));
        } else {
          s.inputs["rgb"] = frames(rgb.data_ptr<uint8_t>(), kRgb);
          s.inputs["audio"] = frames(audio.data_ptr<uint8_t>(), kAudio);
        }
        break;
      }
    }
  } catch (const SampleError&) {
    throw;
  } catch (const yt8m::RecordError& ex) {
    throw SampleError(sh.path, r.line_no, "bad record", record + ": " + ex.what());
  } catch (const DataError& ex) {
    throw SampleError(sh.path, r.line_no, "cannot re-read record", record + ": " + ex.what());
  }
  return s;
}

}  // namespace vc::data
