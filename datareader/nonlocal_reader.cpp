#include "datareader/nonlocal_reader.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "datareader/buffer_pool.h"
#include "datareader/ffmpeg_decoder.h"
#include "datareader/sampling.h"
#include "datareader/transforms.h"

namespace vc::data {

int64_t nonlocal_random_start(int64_t frame_cnt, int64_t video_length, int64_t sample_rate,
                              Rng& rng) {
  const int64_t span = video_length * sample_rate;
  return frame_cnt > span ? rng.randint(0, frame_cnt - span) : 0;
}

int64_t nonlocal_test_start(int64_t frame_cnt, int64_t num_clips, int64_t j) {
  if (frame_cnt < 1 || num_clips < 1) {
    throw std::invalid_argument("nonlocal_test_start: frame_cnt and num_clips must be >= 1");
  }
  const double pos =
      static_cast<double>(frame_cnt) / static_cast<double>(num_clips) * static_cast<double>(j);
  return static_cast<int64_t>(pos) % frame_cnt;
}

std::vector<int64_t> nonlocal_clip_indices(int64_t frame_cnt, int64_t start, int64_t video_length,
                                           int64_t sample_rate) {
  if (frame_cnt < 1) throw std::invalid_argument("nonlocal_clip_indices: no frames");
  std::vector<int64_t> idx(static_cast<std::size_t>(video_length));
  for (int64_t i = 0; i < video_length; ++i) idx[i] = (start + i * sample_rate) % frame_cnt;
  return idx;
}

int64_t nonlocal_scale(int64_t jitter_min, int64_t jitter_max, Rng& rng) {
  return jitter_max <= jitter_min ? jitter_min : rng.randint(jitter_min, jitter_max - 1);
}

cv::Point nonlocal_crop_offset(cv::Size size, int64_t crop, bool train, int64_t spatial_pos,
                               Rng& rng) {
  if (size.height < crop || size.width < crop) {
    throw std::invalid_argument("crop " + std::to_string(crop) + " exceeds the scaled frame " +
                                std::to_string(size.width) + "x" + std::to_string(size.height));
  }
  const int64_t dh = size.height - crop, dw = size.width - crop;
  int64_t h_off, w_off;
  if (train) {
    // np.random.randint(0, side - crop): upper bound exclusive (0 when the side equals the crop).
    h_off = dh > 0 ? rng.randint(0, dh - 1) : 0;
    w_off = dw > 0 ? rng.randint(0, dw - 1) : 0;
  } else {
    h_off = dh / 2;
    w_off = dw / 2;
    if (spatial_pos >= 0) {
      const int64_t pos = spatial_pos % 3;
      if (h_off > 0) {
        h_off *= pos;
      } else {
        w_off *= pos;
      }
    }
  }
  return cv::Point(static_cast<int>(w_off), static_cast<int>(h_off));
}

namespace {

std::string where(const std::string& list) { return "Non-local reader for " + list; }

// The original's test list: "<path> <video index> <clip> <crop>" (>= 4 tokens, the last three
// integers) on the first content line.
bool looks_like_testlist(const std::string& list_path) {
  std::ifstream in(list_path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::vector<std::string> tok;
    for (std::string t; ss >> t;) tok.push_back(t);
    if (tok.empty() || tok[0][0] == '#') continue;
    if (tok.size() < 4) return false;
    for (std::size_t i = tok.size() - 3; i < tok.size(); ++i) {
      const std::string& t = tok[i];
      if (t.empty() || !std::all_of(t.begin() + (t[0] == '-' ? 1 : 0), t.end(),
                                    [](unsigned char c) { return std::isdigit(c) != 0; })) {
        return false;
      }
    }
    return true;
  }
  return false;
}

std::shared_ptr<const VideoDecoder> decoder_for(const std::string& list,
                                                const NonlocalReaderOptions& o) {
  try {
    return make_video_decoder(o.decoder, o.decode_timeout_s);
  } catch (const DataError& e) {
    throw DataError(where(list) + ": option decoder: " + e.what());
  }
}

void check_min(const std::string& list, const char* name, int64_t v, int64_t min) {
  if (v < min) {
    throw DataError(where(list) + ": option " + name + " must be >= " + std::to_string(min) +
                    ", got " + std::to_string(v));
  }
}

}  // namespace

NonlocalDataset::NonlocalDataset(const std::string& list_path, NonlocalReaderOptions opts)
    : NonlocalDataset(list_path, opts, decoder_for(list_path, opts)) {}

NonlocalDataset::NonlocalDataset(const std::string& list_path, NonlocalReaderOptions opts,
                                 std::shared_ptr<const VideoDecoder> decoder)
    : list_path_(list_path), opts_(std::move(opts)), decoder_(std::move(decoder)) {
  check_min(list_path, "crop_size", opts_.crop_size, 1);
  check_min(list_path, "sample_rate", opts_.sample_rate, 1);
  check_min(list_path, "video_length", opts_.video_length, 1);
  check_min(list_path, "jitter_min", opts_.jitter_min, 1);
  check_min(list_path, "num_clips", opts_.num_clips, 1);
  if (opts_.num_crops != 1 && opts_.num_crops != 3) {
    throw DataError(where(list_path) + ": option num_crops must be 1 or 3, got " +
                    std::to_string(opts_.num_crops));
  }
  if (opts_.jitter_max < opts_.jitter_min) {
    throw DataError(where(list_path) + ": jitter_scales [" + std::to_string(opts_.jitter_min) +
                    ", " + std::to_string(opts_.jitter_max) + "] must have min <= max");
  }
  if (opts_.crop_size > opts_.jitter_min) {
    throw DataError(
        where(list_path) + ": crop_size " + std::to_string(opts_.crop_size) +
        " exceeds the smallest short side jitter_scales[0] = " + std::to_string(opts_.jitter_min));
  }
  if (!(opts_.image_std != 0.0f)) {
    throw DataError(where(list_path) + ": image_std must be non-zero");
  }
  if (!decoder_) throw DataError(where(list_path) + ": null decoder");
  if (looks_like_testlist(list_path)) {
    throw DataError(
        "list file " + list_path +
        " looks like the original's 4-column test list (\"<path> <video index> <clip> "
        "<crop>\"); videocls tests every view of a video as one sample: pass the 2-column "
        "vallist.txt (\"<path> <label>\") as TEST.filelist and set TEST.num_clips / "
        "TEST.num_crops (10 and 3 as the original)");
  }
  ListParseResult parsed = parse_file_list(list_path, opts_.require_label, opts_.num_classes);
  entries_ = std::move(parsed.entries);
  skipped_ = std::move(parsed.skipped);
  if (entries_.empty()) {
    throw DataError("list file " + list_path + " has no usable lines (" +
                    std::to_string(skipped_.size()) + " skipped" +
                    (skipped_.empty() ? "" : ", first: " + skipped_.front()) + ")");
  }
}

int64_t NonlocalDataset::views() const {
  const bool multi = opts_.phase == Phase::kTest || opts_.phase == Phase::kInfer;
  return multi ? opts_.num_clips * opts_.num_crops : 1;
}

ViewInfo NonlocalDataset::view_info() const {
  if (views() == 1) return {};
  return ViewInfo{views(), std::to_string(opts_.num_clips) + "x" + std::to_string(opts_.num_crops) +
                               " (clips x crops)"};
}

const ListEntry& NonlocalDataset::entry(std::size_t index) const {
  if (index >= entries_.size()) {
    throw DataError("sample index " + std::to_string(index) + " out of range for " + list_path_ +
                    " (" + std::to_string(entries_.size()) + " entries)");
  }
  return entries_[index];
}

SampleRef NonlocalDataset::ref(std::size_t index) const {
  const ListEntry& e = entry(index);
  return SampleRef{e.path, list_path_, e.line_no};
}

std::string NonlocalDataset::describe() const {
  std::string v = views() > 1 ? ", " + std::to_string(opts_.num_clips) + " clips x " +
                                    std::to_string(opts_.num_crops) + " crops"
                              : "";
  const std::string scale =
      opts_.jitter_max <= opts_.jitter_min
          ? std::to_string(opts_.jitter_min)
          : "[" + std::to_string(opts_.jitter_min) + ", " + std::to_string(opts_.jitter_max) + ")";
  return "Non-local video list " + list_path_ + ": " + std::to_string(entries_.size()) +
         " videos (" + to_string(opts_.phase) + ", " + std::to_string(opts_.video_length) +
         " frames every " + std::to_string(opts_.sample_rate) + ", short side " + scale + ", " +
         std::to_string(opts_.crop_size) + " px" + v + ", decoder " + decoder_->name() + ")";
}

Sample NonlocalDataset::get(std::size_t index, uint64_t seed) const {
  const ListEntry& e = entry(index);
  const bool train = opts_.phase == Phase::kTrain;
  const bool multi = opts_.phase == Phase::kTest || opts_.phase == Phase::kInfer;
  const int64_t V = views();
  const int64_t L = opts_.video_length, crop = opts_.crop_size;
  Sample s;
  s.target = Target::single(e.label);
  s.id = e.path;
  s.source = list_path_;
  s.line_no = e.line_no;
  s.index = index;
  s.views = V;
  try {
    std::unique_ptr<VideoSource> src = decoder_->open(e.path);
    int64_t frame_cnt = src->frame_count();
    if (frame_cnt < 1) throw DecodeError(e.path, "no decodable frames");
    Rng rng(seed);
    const Rng entry_state = rng;
    // Start(s), then the scale: the original's order of draws.
    std::vector<std::vector<int64_t>> clips;
    int64_t scale = 0;
    std::vector<int64_t> need;
    const auto plan = [&](int64_t n) {
      clips.clear();
      if (multi) {
        for (int64_t j = 0; j < opts_.num_clips; ++j) {
          clips.push_back(nonlocal_clip_indices(n, nonlocal_test_start(n, opts_.num_clips, j), L,
                                                opts_.sample_rate));
        }
      } else {
        const int64_t start = nonlocal_random_start(n, L, opts_.sample_rate, rng);
        clips.push_back(nonlocal_clip_indices(n, start, L, opts_.sample_rate));
      }
      scale = nonlocal_scale(opts_.jitter_min, opts_.jitter_max, rng);
      std::vector<int64_t> all;
      for (const auto& c : clips) all.insert(all.end(), c.begin(), c.end());
      need = unique_sorted(all);
    };
    const auto scaled_size = [&](const VideoSource& vs) {
      const cv::Size native = vs.frame_size();
      return native.empty() ? cv::Size() : group_scale_size(native, scale, ScaleMode::kShortSide);
    };
    plan(frame_cnt);
    FrameReadResult r = src->read_scaled(need, scaled_size(*src));
    if (r.frames.size() < need.size()) {
      // The container's frame count lied: plan again on the frames actually decoded.
      if (!r.ended_early || r.frames_decoded < 1) {
        throw DecodeError(e.path, "no decodable frames",
                          "container declares " + std::to_string(frame_cnt) + " frames");
      }
      frame_cnt = r.frames_decoded;
      rng = entry_state;
      plan(frame_cnt);
      src = decoder_->open(e.path);
      r = src->read_scaled(need, scaled_size(*src));
      if (r.frames.size() < need.size()) {
        throw DecodeError(e.path, "decoding failed",
                          "stream ended at frame " + std::to_string(r.frames_decoded) +
                              " on the second pass after ending at " + std::to_string(frame_cnt));
      }
    }
    // Frames not scaled by the decoder (size unknown before decoding) are scaled here; a no-op
    // for the others.
    std::vector<cv::Mat> frames = group_scale(r.frames, scale, ScaleMode::kShortSide);
    const cv::Size size = frames[0].size();

    torch::Tensor out = V > 1 ? pooled_empty({V, 3, L, crop, crop}, torch::kFloat32)
                              : pooled_empty({3, L, crop, crop}, torch::kFloat32);
    float* base = out.data_ptr<float>();
    const float mean = opts_.image_mean, stdev = opts_.image_std;
    const int64_t plane = crop * crop;
    for (int64_t v = 0; v < V; ++v) {
      const int64_t j = v / opts_.num_crops;
      const int64_t k = multi && opts_.num_crops == 3 ? v % opts_.num_crops : -1;
      const cv::Point off = nonlocal_crop_offset(size, crop, train, k, rng);
      const bool mirror = train && draw_flip(rng);
      float* dst = base + v * 3 * L * plane;  // [3, L, crop, crop]
      for (int64_t l = 0; l < L; ++l) {
        const int64_t fi = clips[static_cast<std::size_t>(j)][static_cast<std::size_t>(l)];
        const auto pos = std::lower_bound(need.begin(), need.end(), fi) - need.begin();
        const cv::Mat& f = frames[static_cast<std::size_t>(pos)];
        if (f.size() != size || f.type() != CV_8UC3) {
          throw DecodeError(e.path, "frames of different sizes or types");
        }
        for (int64_t y = 0; y < crop; ++y) {
          const uint8_t* row = f.ptr<uint8_t>(static_cast<int>(off.y + y)) + 3 * off.x;
          for (int64_t x = 0; x < crop; ++x) {
            const uint8_t* px = row + 3 * (mirror ? crop - 1 - x : x);
            for (int64_t c = 0; c < 3; ++c) {
              // (x - mean) / std as the original (float32)
              dst[(c * L + l) * plane + y * crop + x] = (static_cast<float>(px[c]) - mean) / stdev;
            }
          }
        }
      }
    }
    s.inputs["video"] = out;  // [3, L, crop, crop] or [V, 3, L, crop, crop]
  } catch (...) {
    rethrow_as_sample_error(e.path, e.line_no);
  }
  return s;
}

}  // namespace vc::data
