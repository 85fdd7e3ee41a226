#include "tools/demo/yt8m_demo.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "datareader/rng.h"
#include "datareader/tfrecord.h"
#include "datareader/yt8m_example.h"

namespace fs = std::filesystem;

namespace vc::demo {
namespace {

constexpr int kRgb = 1024;
constexpr int kAudio = 128;

// SplitMix64 (the datareader's mixer), as make_demo_data's Rng.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(vc::data::mix64(seed)) {}
  std::uint64_t next() {
    const std::uint64_t z = vc::data::mix64(state_);
    state_ += 0x9E3779B97F4A7C15ULL;
    return z;
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  int randint(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  // Standard normal (Box-Muller).
  double normal() {
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

// A class's signature: +-1 on a few dims of each modality.
struct Signature {
  std::vector<std::pair<int, float>> rgb, audio;
};

Signature make_signature(Rng& rng) {
  Signature s;
  auto pick = [&](int width, int count, std::vector<std::pair<int, float>>& out) {
    std::vector<int> dims(width);
    for (int i = 0; i < width; ++i) dims[i] = i;
    for (int i = 0; i < count; ++i) {
      std::swap(dims[i], dims[rng.randint(i, width - 1)]);
      out.emplace_back(dims[i], (rng.next() & 1) ? 1.0f : -1.0f);
    }
  };
  pick(kRgb, 48, s.rgb);
  pick(kAudio, 12, s.audio);
  return s;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << text;
  out.close();
  if (!out) throw std::runtime_error("error while writing " + path.string());
}

uint8_t quantize(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

}  // namespace

void write_yt8m_demo(const Yt8mDemoOptions& o) {
  if (o.videos < 10) throw std::runtime_error("--videos must be at least 10");
  if (o.classes < 2) throw std::runtime_error("--classes must be at least 2");
  if (o.min_frames < 1 || o.max_frames < o.min_frames)
    throw std::runtime_error("frames per video must satisfy 1 <= min <= max");
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path root(o.out);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw std::runtime_error("cannot create " + root.string() + ": " + ec.message());

  Rng class_rng(vc::data::mix64(o.seed ^ 0x7938ULL));
  std::vector<Signature> sig;
  std::vector<int> partner(o.classes);
  for (int c = 0; c < o.classes; ++c) {
    sig.push_back(make_signature(class_rng));
    partner[c] = (c + 1 + class_rng.randint(0, o.classes - 2)) % o.classes;  // != c
  }

  // Splits: videos 0..n_train-1 train, then val, then test.
  const int n_val = std::max(1, o.videos / 5), n_test = std::max(1, o.videos / 5);
  const int n_train = o.videos - n_val - n_test;
  struct Shard {
    std::string name;
    int first, count;
  };
  std::vector<Shard> train_shards;
  const int shards = std::clamp(o.train_shards, 1, n_train);
  for (int s = 0, first = 0; s < shards; ++s) {
    const int count = n_train / shards + (s < n_train % shards ? 1 : 0);
    char name[32];
    std::snprintf(name, sizeof name, "train_%03d.tfrecord", s);
    train_shards.push_back({name, first, count});
    first += count;
  }
  const Shard val{"val_000.tfrecord", n_train, n_val},
      test{"test_000.tfrecord", n_train + n_val, n_test};

  std::vector<int> label_count(o.classes, 0);
  int64_t frames_total = 0;
  auto write_shard = [&](const Shard& shard) {
    data::tfrecord::RecordWriter writer((root / shard.name).string());
    for (int v = shard.first; v < shard.first + shard.count; ++v) {
      Rng rng(vc::data::mix64(o.seed * 0x100000001B3ULL + static_cast<std::uint64_t>(v) + 1));
      // Labels: a primary class, its partner half of the time, a random extra one 30 % of the time.
      std::vector<int64_t> labels{rng.randint(0, o.classes - 1)};
      if (rng.uniform() < 0.5) labels.push_back(partner[labels[0]]);
      if (rng.uniform() < 0.3) labels.push_back(rng.randint(0, o.classes - 1));
      std::sort(labels.begin(), labels.end());
      labels.erase(std::unique(labels.begin(), labels.end()), labels.end());

      data::yt8m::VideoRecord rec;
      char id[16];
      std::snprintf(id, sizeof id, "D%05d", v);
      rec.id = id;
      rec.labels = labels;
      const int t = rng.randint(o.min_frames, o.max_frames);
      rec.num_frames = t;
      frames_total += t;
      // Per video: a nuisance offset per dim; per frame: noise; per label: its signature on a
      // contiguous run of 40-100 % of the frames.
      std::vector<float> rgb(static_cast<size_t>(t) * kRgb), audio(static_cast<size_t>(t) * kAudio);
      std::vector<float> off_rgb(kRgb), off_audio(kAudio);
      for (auto& x : off_rgb) x = static_cast<float>(128.0 + 10.0 * rng.normal());
      for (auto& x : off_audio) x = static_cast<float>(128.0 + 10.0 * rng.normal());
      for (int f = 0; f < t; ++f) {
        for (int d = 0; d < kRgb; ++d)
          rgb[static_cast<size_t>(f) * kRgb + d] =
              off_rgb[d] + 16.0f * static_cast<float>(rng.normal());
        for (int d = 0; d < kAudio; ++d)
          audio[static_cast<size_t>(f) * kAudio + d] =
              off_audio[d] + 16.0f * static_cast<float>(rng.normal());
      }
      for (int64_t l : labels) {
        ++label_count[l];
        const int run = std::max(1, static_cast<int>(std::ceil(t * (0.4 + 0.6 * rng.uniform()))));
        const int start = rng.randint(0, t - run);
        for (int f = start; f < start + run; ++f) {
          for (const auto& [d, s] : sig[l].rgb) rgb[static_cast<size_t>(f) * kRgb + d] += 40.0f * s;
          for (const auto& [d, s] : sig[l].audio)
            audio[static_cast<size_t>(f) * kAudio + d] += 40.0f * s;
        }
      }
      rec.rgb.resize(rgb.size());
      rec.audio.resize(audio.size());
      std::transform(rgb.begin(), rgb.end(), rec.rgb.begin(), quantize);
      std::transform(audio.begin(), audio.end(), rec.audio.begin(), quantize);
      writer.write(data::yt8m::serialize(rec));
    }
  };
  std::string train_list;
  for (const auto& s : train_shards) {
    write_shard(s);
    train_list += s.name + "\n";
  }
  write_shard(val);
  write_shard(test);
  write_text(root / "train.list", train_list);
  write_text(root / "val.list", val.name + "\n");
  write_text(root / "test.list", test.name + "\n");
  write_text(root / "infer.list", test.name + "\n");

  std::string vocab =
      "Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl,Vertical1,Vertical2,"
      "Vertical3,WikiDescription\n";
  for (int c = 0; c < o.classes; ++c) {
    char line[160];
    std::snprintf(line, sizeof line,
                  "%d,%d,/m/demo%02d,Demo class %d,,Demo,,,\"synthetic class %d\"\n", c,
                  label_count[c], c, c, c);
    vocab += line;
  }
  write_text(root / "vocabulary.csv", vocab);

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "make_demo_data: wrote %d YouTube-8M frame-level videos (%d classes, %d-%d frames, %lld in "
      "all; train/val/test = %d/%d/%d in %zu + 1 + 1 TFRecord shards) to %s in %.2f s\n",
      o.videos, o.classes, o.min_frames, o.max_frames, static_cast<long long>(frames_total),
      n_train, n_val, n_test, train_shards.size(), root.string().c_str(), secs);
}

}  // namespace vc::demo
