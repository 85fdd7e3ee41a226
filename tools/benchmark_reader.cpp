// benchmark_reader: throughput and memory of the full Kinetics training input pipeline
// (decode -> sample -> transform -> batch) through the real threaded Loader, or of the YouTube-8M
// feature reader (--preset features: shards -> FeatureDataset -> padded batches).
//
//   benchmark_reader --list L --preset {tsn,tsm,stnet,nonlocal} --threads N
//                    [--batch-size 8] [--clips C | --epochs E] [--prefetch 2] [--seed 0]
//   benchmark_reader --list SHARDS --preset features --threads N [--batch-size 32] [--epochs E]
//                    [--no-dequantize] [--seg-num 0]
//   benchmark_reader --make-features DIR [--videos 200] [--frames 300] [--shards 4]
//       writes synthetic frame-level TFRecord shards DIR/synth-0000.tfrecord ... (random uint8
//       features) for the features mode (scripts/bench_features.sh converts them to HDF5 and pkl)
//
// Features mode: records/s and MB/s (quantized feature bytes delivered, frames x 1152 per video,
// the count of tools/peers/yt8m_reader_peer.py) over whole epochs; the one-off index time of the
// dataset (a TFRecord shard is read once to index it) is printed separately.
//
// Prints clips/s, ms/clip, frames decoded per clip, peak RSS and the RSS at the end of every
// epoch, then one machine-readable line starting with "RESULT " (key=value pairs), the same
// line the Python peers in tools/peers/ print. Results and commands: docs/benchmarks.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>

#include "datareader/buffer_pool.h"
#include "datareader/feature_reader.h"
#include "datareader/ffmpeg_decoder.h"
#include "datareader/file_list.h"
#include "datareader/kinetics_reader.h"
#include "datareader/loader.h"
#include "datareader/nonlocal_reader.h"
#include "datareader/rng.h"
#include "datareader/sampling.h"
#include "datareader/tfrecord.h"
#include "datareader/transforms.h"
#include "datareader/video_decoder.h"
#include "datareader/yt8m_example.h"
#include "tools/common/malloc_tuning.h"

namespace {

using namespace vc::data;

// ---------------------------------------------------------------------------------------------
// Memory: VmHWM (peak resident set) and VmRSS from /proc/self/status, in MiB (-1 if absent).
double proc_status_mib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, k.size(), k) == 0) {
      std::istringstream ss(line.substr(k.size()));
      double kb = 0;
      ss >> kb;
      return kb / 1024.0;
    }
  }
  return -1.0;
}

// ---------------------------------------------------------------------------------------------
// Frame counting: a decoder wrapper summing, over every read, the frames the codec decoded
// (FrameReadResult::pictures_decoded where the decoder reports it -- the FFmpeg decoder --, else
// frames_decoded, the frames walked through: OpenCV's grab() decodes every one of them) and the
// frames converted to RGB; a dataset wrapper counts the clips loaded. Both count what the
// workers did, including clips prefetched past the end of a bounded run, so frames/clip is exact.
struct Counters {
  std::atomic<int64_t> frames_decoded{0};
  std::atomic<int64_t> frames_converted{0};
  std::atomic<int64_t> packets{0};
  std::atomic<int64_t> seeks{0};
  std::atomic<int64_t> reads{0};
  std::atomic<int64_t> clips{0};
};

class CountingSource final : public VideoSource {
 public:
  CountingSource(std::unique_ptr<VideoSource> inner, Counters* c)
      : inner_(std::move(inner)), c_(c) {}
  int64_t frame_count() const override { return inner_->frame_count(); }
  FrameReadResult read(const std::vector<int64_t>& sorted_indices) override {
    return count(inner_->read(sorted_indices));
  }
  cv::Size frame_size() const override { return inner_->frame_size(); }
  FrameReadResult read_scaled(const std::vector<int64_t>& sorted_indices,
                              cv::Size out_size) override {
    return count(inner_->read_scaled(sorted_indices, out_size));
  }

 private:
  FrameReadResult count(FrameReadResult r) {
    c_->frames_decoded += r.pictures_decoded > 0 ? r.pictures_decoded : r.frames_decoded;
    c_->frames_converted += static_cast<int64_t>(r.frames.size());
    c_->packets += r.packets_sent;
    c_->seeks += r.seeks;
    c_->reads += 1;
    return r;
  }

  std::unique_ptr<VideoSource> inner_;
  Counters* c_;
};

class CountingDecoder final : public VideoDecoder {
 public:
  CountingDecoder(std::shared_ptr<const VideoDecoder> inner, Counters* c)
      : inner_(std::move(inner)), c_(c) {}
  std::unique_ptr<VideoSource> open(const std::string& path) const override {
    return std::make_unique<CountingSource>(inner_->open(path), c_);
  }
  std::string name() const override { return inner_->name(); }

 private:
  std::shared_ptr<const VideoDecoder> inner_;
  Counters* c_;
};

class CountingDataset final : public Dataset {
 public:
  CountingDataset(std::shared_ptr<const Dataset> inner, Counters* c)
      : inner_(std::move(inner)), c_(c) {}
  std::size_t size() const override { return inner_->size(); }
  Sample get(std::size_t index, uint64_t seed) const override {
    Sample s = inner_->get(index, seed);
    c_->clips += 1;
    return s;
  }
  SampleRef ref(std::size_t index) const override { return inner_->ref(index); }
  const std::vector<std::string>& skipped_lines() const override { return inner_->skipped_lines(); }
  ViewInfo view_info() const override { return inner_->view_info(); }
  CollatePolicy collate_policy() const override { return inner_->collate_policy(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::shared_ptr<const Dataset> inner_;
  Counters* c_;
};

// ---------------------------------------------------------------------------------------------
// Presets: KineticsReaderOptions in the TRAIN phase, as configs/{tsn,tsm,stnet}.yaml train.
KineticsReaderOptions preset_options(const std::string& preset) {
  KineticsReaderOptions o;
  o.phase = Phase::kTrain;
  o.short_size = 256;
  o.target_size = 224;
  o.scale_mode = ScaleMode::kGroup43;
  o.num_classes = 0;  // the benchmark does not check labels
  if (preset == "tsn") {
    o.seg_num = 3;
    o.seglen = 1;
  } else if (preset == "tsm") {
    o.seg_num = 8;
    o.seglen = 1;
    o.multi_scale_crop = true;
  } else if (preset == "stnet") {
    o.seg_num = 7;
    o.seglen = 5;
  } else {
    throw std::invalid_argument("unknown --preset '" + preset +
                                "' (expected tsn, tsm, stnet or nonlocal)");
  }
  return o;
}

// The decoder the benchmark runs: --decoder NAME, else the Kinetics reader's default (ffmpeg).
std::shared_ptr<const VideoDecoder> make_decoder(const std::string& name) {
  return make_video_decoder(name.empty() ? "ffmpeg" : name);
}

struct Args {
  std::string list;
  std::string preset = "tsm";
  int threads = 1;
  int64_t batch_size = 8;
  int64_t epochs = 0;  // 0: 1, or as many as --clips needs
  int64_t clips = 0;   // 0: no bound
  int prefetch = 2;
  uint64_t seed = 0;
  bool shuffle = true;
  std::string decoder;  // empty: the library's default
  std::string tag;      // free label echoed in the RESULT line
  // features mode
  bool dequantize = true;
  int64_t seg_num = 0;
  std::string make_features;  // write synthetic TFRecord shards here and exit
  int64_t videos = 200, frames = 300, shards = 4;
};

// Parses argv with CLI11; nullopt (with *code set) when the program should exit (--help: 0,
// usage error: 2, already printed).
std::optional<Args> parse_args(int argc, char** argv, int* code) {
  Args a;
  CLI::App app{
      "Reader throughput benchmark (docs/benchmarks.md). The torch intra-op pool is set to 1 "
      "thread: the loader's workers are the parallelism.",
      "benchmark_reader"};
  app.add_option("--list", a.list,
                 "list of '<video> <label>' lines (features: of TFRecord / HDF5 / pkl shards)");
  app.add_option("--preset", a.preset,
                 "tsn (3x1), tsm (8x1, multi-scale crop), stnet (7x5), nonlocal (the Non-local "
                 "reader: 8 frames stride 8, short side in [256, 320)); all in the TRAIN phase, "
                 "224 px crops; features: the YouTube-8M feature reader (TRAIN, max_frames 300)")
      ->check(CLI::IsMember({"tsn", "tsm", "stnet", "nonlocal", "features"}))
      ->capture_default_str();
  bool no_dequantize = false;
  app.add_flag("--no-dequantize", no_dequantize, "features: raw 0..255 values (NeXtVLAD)");
  app.add_option("--seg-num", a.seg_num, "features: 0 = all frames padded, > 0 = sampled")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--make-features", a.make_features,
                 "write synthetic frame-level TFRecord shards into this folder and exit");
  app.add_option("--videos", a.videos, "--make-features: videos in all")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--frames", a.frames, "--make-features: frames per video")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--shards", a.shards, "--make-features: shards")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--threads", a.threads, "loader worker threads (0 = load in the main thread)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--batch-size", a.batch_size, "clips per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--clips", a.clips, "stop once C clips were delivered, epochs repeat as needed")
      ->check(CLI::PositiveNumber);
  app.add_option("--epochs", a.epochs, "run E full epochs (with --clips: at most E; default 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--prefetch", a.prefetch, "batches loaded ahead of the consumer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seed", a.seed, "loader seed")->capture_default_str();
  bool no_shuffle = false;
  app.add_flag("--no-shuffle", no_shuffle, "keep the list order");
  app.add_option("--decoder", a.decoder, "ffmpeg or opencv (default: the reader's, ffmpeg)");
  app.add_option("--tag", a.tag, "label echoed in the RESULT line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *code = app.exit(e);
    if (*code != 0) *code = 2;
    return std::nullopt;
  }
  a.shuffle = !no_shuffle;
  a.dequantize = !no_dequantize;
  if (a.make_features.empty() && a.list.empty()) {
    std::cerr << "benchmark_reader: --list is required (or --make-features DIR)\n";
    *code = 2;
    return std::nullopt;
  }
  return a;
}

std::string fmt(double v, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", prec, v);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// YouTube-8M features.

// Synthetic frame-level shards: random uint8 features, 1-3 labels per video (SplitMix seeds).
int make_features(const Args& a) {
  std::filesystem::create_directories(a.make_features);
  Rng rng(a.seed);
  int64_t v = 0;
  for (int64_t s = 0; s < a.shards; ++s) {
    char name[32];
    std::snprintf(name, sizeof name, "synth-%04d.tfrecord", static_cast<int>(s));
    const std::string path = (std::filesystem::path(a.make_features) / name).string();
    tfrecord::RecordWriter w(path);
    const int64_t end = a.videos * (s + 1) / a.shards;
    for (; v < end; ++v) {
      yt8m::VideoRecord r;
      r.id = "synth" + std::to_string(v);
      for (int64_t k = rng.randint(1, 3); k > 0; --k) r.labels.push_back(rng.randint(0, 3861));
      r.num_frames = a.frames;
      r.rgb.resize(static_cast<std::size_t>(a.frames * 1024));
      r.audio.resize(static_cast<std::size_t>(a.frames * 128));
      for (auto* buf : {&r.rgb, &r.audio}) {
        for (std::size_t i = 0; i < buf->size(); i += 8) {
          const uint64_t x = rng.next_u64();
          std::memcpy(buf->data() + i, &x, std::min<std::size_t>(8, buf->size() - i));
        }
      }
      w.write(yt8m::serialize(r));
    }
    std::cout << path << "\n";
  }
  std::cout << "wrote " << a.videos << " videos x " << a.frames << " frames in " << a.shards
            << " TFRecord shards under " << a.make_features << "\n";
  return 0;
}

int run_features(const Args& a) {
  torch::set_num_threads(1);
  FeatureReaderOptions o;
  o.phase = Phase::kTrain;
  o.dequantize = a.dequantize;
  o.seg_num = a.seg_num;
  o.widen_in_batch = true;  // as the executables (tools/common/readers.cpp)
  using Clock = std::chrono::steady_clock;
  const auto ti = Clock::now();
  auto ds = std::make_shared<FeatureDataset>(a.list, o);
  const double index_s = std::chrono::duration<double>(Clock::now() - ti).count();
  std::cout << "benchmark_reader: " << ds->describe() << "; indexed in " << fmt(index_s, 3)
            << " s (" << ds->skipped_lines().size() << " skipped)\n";
  LoaderOptions lo;
  lo.batch_size = a.batch_size;
  lo.num_threads = a.threads;
  lo.prefetch_batches = a.prefetch;
  lo.shuffle = a.shuffle;
  lo.seed = a.seed;
  const int64_t epochs = a.epochs > 0 ? a.epochs : 1;
  Loader loader(ds, lo);
  int64_t records = 0, frames = 0, batches = 0;
  const auto t0 = Clock::now();
  for (int64_t ep = 0; ep < epochs; ++ep) {
    loader.start_epoch(ep);
    while (auto b = loader.next()) {
      records += b->size();
      frames += b->inputs.count("lengths") ? b->input("lengths").sum().item<int64_t>()
                                           : b->size() * b->input("rgb").size(1);
      ++batches;
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double mb = static_cast<double>(frames) * 1152.0 / 1e6;
  std::cout << records << " records, " << frames << " frames, " << batches << " batches in "
            << fmt(secs, 3) << " s: " << fmt(records / secs, 1) << " records/s, "
            << fmt(mb / secs, 1) << " MB/s (" << fmt(records / secs / std::max(1, a.threads), 1)
            << " records/s per thread); peak RSS " << fmt(proc_status_mib("VmHWM"), 1) << " MiB\n";
  std::cout << "RESULT impl=cpp mode=features threads=" << a.threads << " batch=" << a.batch_size
            << " records=" << records << " frames=" << frames << " seconds=" << fmt(secs, 3)
            << " records_per_s=" << fmt(records / secs, 3) << " mb_per_s=" << fmt(mb / secs, 3)
            << " index_s=" << fmt(index_s, 3)
            << " peak_rss_mib=" << fmt(proc_status_mib("VmHWM"), 1)
            << " tag=" << (a.tag.empty() ? "-" : a.tag) << "\n";
  return records > 0 ? 0 : 1;
}

int run(const Args& a) {
  if (!a.make_features.empty()) return make_features(a);
  if (a.preset == "features") return run_features(a);
  torch::set_num_threads(1);
  cv::setNumThreads(1);  // OpenCV's own pool (resize, cvtColor): the workers are the parallelism
  Counters counters;

  std::shared_ptr<const VideoDecoder> base = make_decoder(a.decoder);
  KineticsReaderOptions ko;
  std::string sampling;
  if (a.preset == "nonlocal") {
    sampling = "8 frames stride 8 (the Non-local reader, TRAIN)";
  } else {
    ko = preset_options(a.preset);
    sampling = std::to_string(ko.seg_num) + "x" + std::to_string(ko.seglen);
  }
  ko.decoder = base->name();
  auto counting = std::make_shared<CountingDecoder>(base, &counters);
  std::shared_ptr<const Dataset> inner;
  if (a.preset == "nonlocal") {
    NonlocalReaderOptions no;  // TRAIN as configs/nonlocal.yaml: 8 x 8, [256, 320), 224 px
    no.phase = Phase::kTrain;
    no.num_classes = 0;  // the benchmark does not check labels
    no.decoder = base->name();
    inner = std::make_shared<NonlocalDataset>(a.list, no, counting);
  } else {
    inner = std::make_shared<KineticsDataset>(a.list, ko, counting);
  }
  auto ds = std::make_shared<CountingDataset>(inner, &counters);

  LoaderOptions lo;
  lo.batch_size = a.batch_size;
  lo.num_threads = a.threads;
  lo.prefetch_batches = a.prefetch;
  lo.shuffle = a.shuffle;
  lo.seed = a.seed;
  lo.drop_last = false;
  std::size_t warnings = 0;
  lo.warn = [&warnings](const std::string& m) {
    if (warnings++ < 5) std::cerr << "warning: skipping sample " << m << "\n";
  };

  const int64_t max_epochs = a.epochs > 0 ? a.epochs : (a.clips > 0 ? INT64_MAX : 1);
  const std::string decoder_name = base->name();
  std::cout << "benchmark_reader: preset " << a.preset << " (" << sampling
            << ", train transforms, 224 px), list " << a.list << " (" << ds->size()
            << " clips), threads " << a.threads << ", batch " << a.batch_size << ", prefetch "
            << a.prefetch << ", decoder " << decoder_name
            << (a.clips > 0 ? ", clips " + std::to_string(a.clips) : "")
            << (a.epochs > 0 ? ", epochs " + std::to_string(a.epochs) : "") << "\n";

  const double rss_start = proc_status_mib("VmRSS");

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto loader_ptr = std::make_unique<Loader>(ds, lo);
  Loader& loader = *loader_ptr;
  int64_t delivered = 0, batches = 0, epochs_done = 0;
  std::vector<double> rss_epoch;
  std::vector<int64_t> shape;
  bool done = false;
  for (int64_t ep = 0; ep < max_epochs && !done; ++ep) {
    loader.start_epoch(ep);
    const auto te = Clock::now();
    int64_t ep_clips = 0;
    while (auto b = loader.next()) {
      const int64_t n = b->input("video").size(0);
      if (shape.empty()) shape = b->input("video").sizes().vec();
      delivered += n;
      ep_clips += n;
      ++batches;
      if (a.clips > 0 && delivered >= a.clips) {
        done = true;
        break;
      }
    }
    const double es = std::chrono::duration<double>(Clock::now() - te).count();
    if (done && ep_clips < static_cast<int64_t>(ds->size())) break;  // partial epoch
    ++epochs_done;
    rss_epoch.push_back(proc_status_mib("VmRSS"));
    std::cout << "epoch " << ep << ": " << ep_clips << " clips in " << fmt(es, 2) << " s ("
              << fmt(ep_clips / es, 2) << " clips/s), RSS " << fmt(rss_epoch.back(), 1)
              << " MiB, peak " << fmt(proc_status_mib("VmHWM"), 1) << " MiB\n";
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  loader_ptr.reset();  // joins the workers: the counters then cover whole clips only
  const int64_t loaded = counters.clips.load();
  const double frames_per_clip =
      loaded > 0 ? static_cast<double>(counters.frames_decoded.load()) / loaded : 0.0;
  const double conv_per_clip =
      loaded > 0 ? static_cast<double>(counters.frames_converted.load()) / loaded : 0.0;
  const double seeks_per_clip =
      loaded > 0 ? static_cast<double>(counters.seeks.load()) / loaded : 0.0;
  const double peak = proc_status_mib("VmHWM");
  const double rss_end = proc_status_mib("VmRSS");
  const double cps = delivered / secs;

  std::string shape_s;
  for (std::size_t i = 0; i < shape.size(); ++i)
    shape_s += (i ? "x" : "") + std::to_string(shape[i]);
  std::cout << "batches " << batches << " of shape [" << shape_s << "], clips " << delivered
            << " (loaded by workers: " << loaded << "), skipped " << warnings << "\n";
  std::cout << "throughput: " << fmt(cps, 2) << " clips/s, " << fmt(1000.0 * secs / delivered, 2)
            << " ms/clip, " << fmt(cps / std::max(1, a.threads), 2) << " clips/s per thread\n";
  std::cout << "frames decoded per clip: " << fmt(frames_per_clip, 1)
            << " (converted to RGB: " << fmt(conv_per_clip, 1)
            << ", seeks: " << fmt(seeks_per_clip, 1) << ")\n";
  std::cout << "memory: RSS at start " << fmt(rss_start, 1) << " MiB, at end " << fmt(rss_end, 1)
            << " MiB, peak (VmHWM) " << fmt(peak, 1) << " MiB\n";
  std::string rss_list;
  for (std::size_t i = 0; i < rss_epoch.size(); ++i)
    rss_list += (i ? "," : "") + fmt(rss_epoch[i], 1);
  if (!rss_epoch.empty()) std::cout << "RSS per epoch (MiB): " << rss_list << "\n";

  std::cout << "RESULT impl=cpp"
            << " mode=loader"
            << " preset=" << a.preset << " threads=" << a.threads << " batch=" << a.batch_size
            << " decoder=" << decoder_name << " clips=" << delivered << " seconds=" << fmt(secs, 3)
            << " clips_per_s=" << fmt(cps, 3)
            << " ms_per_clip=" << fmt(1000.0 * secs / delivered, 3)
            << " frames_decoded_per_clip=" << fmt(frames_per_clip, 2)
            << " frames_converted_per_clip=" << fmt(conv_per_clip, 2)
            << " peak_rss_mib=" << fmt(peak, 1) << " epochs=" << epochs_done
            << " rss_epoch_mib=" << (rss_list.empty() ? "-" : rss_list)
            << " tag=" << (a.tag.empty() ? "-" : a.tag) << "\n";
  return delivered > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (const std::string m = vc::app::tune_malloc(); !m.empty()) std::cout << m << "\n";
  int code = 0;
  const std::optional<Args> args = parse_args(argc, argv, &code);
  if (!args) return code;
  try {
    return run(*args);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
