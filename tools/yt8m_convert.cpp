// yt8m_convert: YouTube-8M frame-level TFRecord shards or the original's tf2pkl.py .pkl files ->
// HDF5 shards of the layout in docs/formats/yt8m_hdf5.md (random access, fast shuffling, h5py).
//
//   yt8m_convert --out DIR [--videos-per-shard N] [--list L] [INPUT ...]
//
// One output per input (<DIR>/<input stem>.h5) unless --videos-per-shard N, which packs the videos
// of all inputs, in input order, into <DIR>/shard-00000.h5, shard-00001.h5, ... of N videos each.
// Frames are copied as stored (quantized uint8, every frame: truncation is the reader's job).
// Records that cannot be converted are skipped and counted by reason: framing problems (bad
// CRCs, truncated tail), records that are not YouTube-8M records or lack / mis-size a feature,
// video-level Examples (their mean_rgb / mean_audio are floats, the store holds frame-level
// uint8 features: read video-level shards directly, FeatureDataset accepts them), zero-frame
// videos, pkl entries of the wrong structure. Labels are copied as stored (range checks need
// num_classes: the reader's). Exit status: 0 when at least one video was written, 1 otherwise
// (or on an error: an unwritable output), 2 on a usage error.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "datareader/errors.h"
#include "datareader/feature_reader.h"  // detect_feature_format
#include "datareader/file_list.h"       // resolve_relative_to
#include "datareader/tfrecord.h"
#include "datareader/yt8m_example.h"
#include "datareader/yt8m_hdf5.h"
#include "datareader/yt8m_pkl.h"
#include "tools/common/malloc_tuning.h"

namespace {

namespace fs = std::filesystem;
using namespace vc::data;

struct Args {
  std::vector<std::string> inputs;
  std::string list;
  std::string out;
  int64_t videos_per_shard = 0;
  bool quiet = false;
};

// Where the videos go: one file per input, or fixed-size shards across inputs.
class Output {
 public:
  Output(std::string dir, int64_t per_shard) : dir_(std::move(dir)), per_shard_(per_shard) {}

  void begin_input(const std::string& input) {
    if (per_shard_ > 0) return;
    finish();
    open((fs::path(dir_) / (fs::path(input).stem().string() + ".h5")).string());
  }
  void end_input() {
    if (per_shard_ <= 0) finish();
  }
  void add(const std::string& id, const std::vector<int64_t>& labels, const uint8_t* rgb,
           const uint8_t* audio, int64_t frames) {
    if (per_shard_ > 0 && (!writer_ || static_cast<int64_t>(writer_->videos()) >= per_shard_)) {
      finish();
      char name[32];
      std::snprintf(name, sizeof name, "shard-%05d.h5", shards_);
      open((fs::path(dir_) / name).string());
    }
    writer_->append(id, labels, rgb, audio, frames);
    ++videos_;
    frames_ += frames;
  }
  void finish() {
    if (!writer_) return;
    const std::size_t n = writer_->videos();
    const std::string path = writer_->path();
    writer_->close();
    writer_.reset();
    if (n == 0) {
      fs::remove(path);  // an input with nothing to convert leaves no empty shard
    } else {
      written_.push_back(path);
    }
  }
  int64_t videos() const { return videos_; }
  int64_t frames() const { return frames_; }
  const std::vector<std::string>& written() const { return written_; }

 private:
  void open(const std::string& path) {
    writer_ = std::make_unique<yt8m_h5::Writer>(path);
    ++shards_;
  }
  std::string dir_;
  int64_t per_shard_;
  std::unique_ptr<yt8m_h5::Writer> writer_;
  int shards_ = 0;
  int64_t videos_ = 0, frames_ = 0;
  std::vector<std::string> written_;
};

struct Skips {
  std::map<std::string, int64_t> by_reason;
  std::vector<std::string> first;  // the first messages, printed
  bool quiet = false;
  void add(const std::string& reason, const std::string& message) {
    ++by_reason[reason];
    if (first.size() < 20) first.push_back(message);
    if (!quiet) std::cerr << "skipped: " << message << "\n";
  }
};

void convert_tfrecord(const std::string& path, Output& out, Skips& skips) {
  tfrecord::RecordReader reader(path);
  std::string bytes;
  std::size_t index = 0;
  while (reader.next(&bytes, &index)) {
    const std::string where = path + ": record " + std::to_string(index);
    try {
      const yt8m::Level level = yt8m::detect_level(bytes);
      if (level == yt8m::Level::kVideo) {
        skips.add("video-level record",
                  where +
                      ": a video-level Example (mean_rgb / mean_audio floats); the HDF5 "
                      "store holds frame-level uint8 features (list the TFRecord shard "
                      "itself: the reader takes video-level records as one frame)");
        continue;
      }
      const yt8m::VideoRecord rec = yt8m::parse(bytes, level);
      if (rec.num_frames < 1) {
        skips.add("zero frames", where + " (video '" + rec.id + "'): zero frames");
        continue;
      }
      out.add(rec.id, rec.labels, rec.rgb.data(), rec.audio.data(), rec.num_frames);
    } catch (const yt8m::RecordError& e) {
      skips.add("bad record", where + ": " + e.what());
    }
  }
  for (const tfrecord::RecordIssue& issue : reader.issues()) skips.add(issue.reason, issue.detail);
}

void convert_pickle(const std::string& path, Output& out, Skips& skips) {
  const pickle::ValuePtr root = yt8m_pkl::read_shard(path);
  for (std::size_t k = 0; k < root->items.size(); ++k) {
    yt8m_pkl::Entry e;
    std::string detail;
    const std::string reason =
        yt8m_pkl::parse_entry(*root->items[k], /*require_label=*/false, &e, &detail);
    const std::string where =
        path + ": record " + std::to_string(k) + (e.id.empty() ? "" : " (video '" + e.id + "')");
    if (!reason.empty()) {
      skips.add(reason, where + ": " + reason + " (" + detail + ")");
    } else if (e.num_frames < 1) {
      skips.add("zero frames", where + ": zero frames");
    } else {
      out.add(e.id, e.labels, e.rgb.data_ptr<uint8_t>(), e.audio.data_ptr<uint8_t>(), e.num_frames);
    }
  }
}

std::optional<Args> parse_args(int argc, char** argv, int* code) {
  Args a;
  CLI::App app{
      "Converts YouTube-8M frame-level TFRecord shards or the original's .pkl files into HDF5 "
      "shards (docs/formats/yt8m_hdf5.md). Skipped records are counted by reason; exit 1 when "
      "nothing could be converted.",
      "yt8m_convert"};
  app.add_option("inputs", a.inputs,
                 "TFRecord (.tfrecord) or .pkl files (format by extension, "
                 "else by content)");
  app.add_option("--list", a.list, "a list file of inputs, one per line (# comments)");
  app.add_option("--out", a.out, "output folder (created if missing)")->required();
  app.add_option("--videos-per-shard", a.videos_per_shard,
                 "pack the videos of all inputs into shards of N videos (shard-00000.h5, ...); "
                 "default: one output per input")
      ->check(CLI::PositiveNumber);
  app.add_flag("--quiet", a.quiet, "print only the summary (the first 20 skips still listed)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *code = app.exit(e);
    if (*code != 0) *code = 2;
    return std::nullopt;
  }
  return a;
}

int run(Args a) {
  Skips skips;
  skips.quiet = a.quiet;
  if (!a.list.empty()) {
    std::ifstream in(a.list);
    if (!in) throw DataError("cannot open list file " + a.list);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto b = line.find_first_not_of(" \t");
      if (b == std::string::npos || line[b] == '#') continue;
      const auto e = line.find_last_not_of(" \t");
      a.inputs.push_back(resolve_relative_to(a.list, line.substr(b, e - b + 1)));
    }
  }
  if (a.inputs.empty()) {
    std::cerr << "error: no input (give files or --list)\n";
    return 2;
  }
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) throw DataError("cannot create output folder '" + a.out + "': " + ec.message());

  Output out(a.out, a.videos_per_shard);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t inputs_read = 0;
  for (std::size_t k = 0; k < a.inputs.size(); ++k) {
    const std::string& in = a.inputs[k];
    const int64_t before = out.videos();
    try {
      const FeatureFormat f = detect_feature_format(in);
      if (f == FeatureFormat::kHdf5) {
        skips.add("input already HDF5", in + ": already an HDF5 file, not converted");
        continue;
      }
      out.begin_input(in);
      if (f == FeatureFormat::kPickle) {
        convert_pickle(in, out, skips);
      } else {
        convert_tfrecord(in, out, skips);
      }
      out.end_input();
      ++inputs_read;
    } catch (const DataError& e) {
      out.end_input();
      skips.add("cannot read input", std::string("cannot read input: ") + e.what());
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "[" << (k + 1) << "/" << a.inputs.size() << "] " << in << ": "
              << (out.videos() - before) << " videos (total " << out.videos() << ", "
              << static_cast<int64_t>(out.videos() / std::max(s, 1e-9)) << " videos/s)"
              << std::endl;
  }
  out.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t skipped = 0;
  for (const auto& kv : skips.by_reason) skipped += kv.second;
  std::cout << "converted " << out.videos() << " videos (" << out.frames() << " frames) from "
            << inputs_read << " of " << a.inputs.size() << " inputs into " << out.written().size()
            << " HDF5 shard(s) in " << a.out << " in " << secs << " s; skipped " << skipped;
  if (!skips.by_reason.empty()) {
    std::cout << " (";
    bool first = true;
    for (const auto& kv : skips.by_reason) {
      std::cout << (first ? "" : ", ") << kv.first << ": " << kv.second;
      first = false;
    }
    std::cout << ")";
  }
  std::cout << "\n";
  if (a.quiet) {
    for (const auto& m : skips.first) std::cerr << "skipped: " << m << "\n";
  }
  if (out.videos() == 0) {
    std::cerr << "error: nothing could be converted\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  vc::app::tune_malloc();  // silent: the converter's output is its progress lines
  int code = 0;
  std::optional<Args> args = parse_args(argc, argv, &code);
  if (!args) return code;
  try {
    return run(std::move(*args));
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
