// benchmark_reader: throughput and memory of the full Kinetics training input pipeline
// (decode -> sample -> transform -> batch) through the real threaded Loader.
//
//   benchmark_reader --list L --preset {tsn,tsm,stnet,nonlocal} --threads N
//                    [--batch-size 8] [--clips C | --epochs E] [--prefetch 2] [--seed 0]
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
#include "datareader/ffmpeg_decoder.h"
#include "datareader/file_list.h"
#include "datareader/kinetics_reader.h"
#include "datareader/loader.h"
#include "datareader/nonlocal_reader.h"
#include "datareader/rng.h"
#include "datareader/sampling.h"
#include "datareader/transforms.h"
#include "datareader/video_decoder.h"

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
};

// Parses argv with CLI11; nullopt (with *code set) when the program should exit (--help: 0,
// usage error: 2, already printed).
std::optional<Args> parse_args(int argc, char** argv, int* code) {
  Args a;
  CLI::App app{
      "Reader throughput benchmark (docs/benchmarks.md). The torch intra-op pool is set to 1 "
      "thread: the loader's workers are the parallelism.",
      "benchmark_reader"};
  app.add_option("--list", a.list, "list of '<video> <label>' lines")->required();
  app.add_option("--preset", a.preset,
                 "tsn (3x1), tsm (8x1, multi-scale crop), stnet (7x5), nonlocal (the Non-local "
                 "reader: 8 frames stride 8, short side in [256, 320)); all in the TRAIN phase, "
                 "224 px crops")
      ->check(CLI::IsMember({"tsn", "tsm", "stnet", "nonlocal"}))
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
  return a;
}

std::string fmt(double v, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", prec, v);
  return buf;
}

int run(const Args& a) {
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
