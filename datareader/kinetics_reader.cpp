#include "datareader/kinetics_reader.h"

#include <functional>
#include <stdexcept>
#include <unordered_map>

#include <opencv2/core.hpp>

#include "datareader/buffer_pool.h"
#include "datareader/ffmpeg_decoder.h"
#include "datareader/sampling.h"

namespace vc::data {

torch::Tensor transform_clip(const std::vector<cv::Mat>& frames, const KineticsReaderOptions& opts,
                             Rng& rng) {
  if (frames.empty()) throw std::invalid_argument("transform_clip: no frames");
  const int64_t F = static_cast<int64_t>(frames.size());
  if (F != opts.seg_num * opts.seglen) {
    throw std::invalid_argument(
        "transform_clip: got " + std::to_string(F) +
        " frames, expected seg_num*seglen = " + std::to_string(opts.seg_num * opts.seglen));
  }
  const cv::Size target(static_cast<int>(opts.target_size), static_cast<int>(opts.target_size));
  std::vector<cv::Mat> imgs = group_scale(frames, opts.short_size, opts.scale_mode);
  if (opts.phase == Phase::kTrain) {
    if (opts.multi_scale_crop) {
      const cv::Size out(static_cast<int>(opts.short_size), static_cast<int>(opts.short_size));
      imgs = group_multi_scale_crop(imgs, out, MultiScaleCropOptions{}, rng);
    }
    imgs = group_crop(imgs, random_crop_rect(imgs[0].size(), target, rng));
    if (draw_flip(rng)) imgs = group_hflip(imgs);
  } else {
    imgs = group_crop(imgs, center_crop_rect(imgs[0].size(), target));
  }
  // [seg_num*seglen, 3, H, W] in memory == [seg_num, seglen*3, H, W]
  torch::Tensor clip =
      pooled_empty({opts.seg_num, 3 * opts.seglen, target.height, target.width}, torch::kFloat32);
  normalize_to_chw(imgs, opts.image_mean, opts.image_std, clip.data_ptr<float>());
  return clip;  // [seg_num, 3*seglen, target, target]
}

torch::Tensor transform_views(const std::vector<std::vector<cv::Mat>>& clips,
                              const KineticsReaderOptions& opts) {
  if (opts.phase == Phase::kTrain) {
    throw std::invalid_argument("transform_views: multi-view clips are for non-train phases");
  }
  if (clips.empty()) throw std::invalid_argument("transform_views: no clips");
  const int64_t per_clip = opts.seg_num * opts.seglen;
  const int64_t V = static_cast<int64_t>(clips.size()) * opts.num_crops;
  const cv::Size target(static_cast<int>(opts.target_size), static_cast<int>(opts.target_size));
  // [V, seg_num*seglen, 3, H, W] in memory == [V, seg_num, 3*seglen, H, W]
  torch::Tensor views = pooled_empty(
      {V, opts.seg_num, 3 * opts.seglen, target.height, target.width}, torch::kFloat32);
  const int64_t view_floats = per_clip * 3 * target.height * target.width;
  float* out = views.data_ptr<float>();
  for (const std::vector<cv::Mat>& frames : clips) {
    if (static_cast<int64_t>(frames.size()) != per_clip) {
      throw std::invalid_argument("transform_views: got a clip of " +
                                  std::to_string(frames.size()) +
                                  " frames, expected seg_num*seglen = " + std::to_string(per_clip));
    }
    const std::vector<cv::Mat> imgs = group_scale(frames, opts.short_size, opts.scale_mode);
    for (const cv::Rect& rect : view_crop_rects(imgs[0].size(), target, opts.num_crops)) {
      normalize_to_chw(group_crop(imgs, rect), opts.image_mean, opts.image_std, out);
      out += view_floats;
    }
  }
  return views;  // [V, seg_num, 3*seglen, target, target]
}

namespace {

// Opens `path` once and reads the frames `sample(L)` asks for (any order, repeats allowed) in
// one decoder pass; returns them in that order. If the container's frame count lies (the stream
// ends before a needed index), the number of frames actually decoded becomes L and `sample` is
// called again for a second pass.
std::vector<cv::Mat> decode_sampled(const VideoDecoder& decoder, const std::string& path,
                                    const std::function<std::vector<int64_t>(int64_t)>& sample,
                                    int64_t* out_num_frames, const ClipScale* scale) {
  std::unique_ptr<VideoSource> src = decoder.open(path);
  auto out_size = [&](const VideoSource& s) {
    const cv::Size native = s.frame_size();
    if (!scale || native.empty()) return cv::Size();
    return group_scale_size(native, scale->short_size, scale->mode);
  };
  int64_t L = src->frame_count();
  if (L < 1) throw DecodeError(path, "no decodable frames");
  std::vector<int64_t> idx = sample(L);
  std::vector<int64_t> need = unique_sorted(idx);
  FrameReadResult r = src->read_scaled(need, out_size(*src));
  if (r.frames.size() < need.size()) {
    // The container's frame count lied: resample from the frames actually decoded.
    if (!r.ended_early || r.frames_decoded < 1) {
      throw DecodeError(path, "no decodable frames",
                        "container declares " + std::to_string(L) + " frames");
    }
    L = r.frames_decoded;
    idx = sample(L);
    need = unique_sorted(idx);
    src = decoder.open(path);
    r = src->read_scaled(need, out_size(*src));
    if (r.frames.size() < need.size()) {
      throw DecodeError(path, "decoding failed",
                        "stream ended at frame " + std::to_string(r.frames_decoded) +
                            " on the second pass after ending at " + std::to_string(L));
    }
  }
  std::unordered_map<int64_t, std::size_t> pos;
  for (std::size_t k = 0; k < need.size(); ++k) pos[need[k]] = k;
  std::vector<cv::Mat> frames;
  frames.reserve(idx.size());
  for (int64_t i : idx) frames.push_back(r.frames[pos.at(i)]);  // shared pixels, in idx order
  if (out_num_frames) *out_num_frames = L;
  return frames;
}

}  // namespace

std::vector<cv::Mat> load_clip_frames(const VideoDecoder& decoder, const std::string& path,
                                      int64_t seg_num, int64_t seglen, bool train, Rng& rng,
                                      int64_t* out_num_frames, const ClipScale* scale) {
  const Rng entry_state = rng;
  Rng local = rng;
  auto sample = [&](int64_t L) {
    local = entry_state;  // a second pass replays the draws
    return segment_indices(L, seg_num, seglen, train, local);
  };
  std::vector<cv::Mat> frames = decode_sampled(decoder, path, sample, out_num_frames, scale);
  rng = local;
  return frames;  // segment-major
}

std::vector<std::vector<cv::Mat>> load_view_clips(const VideoDecoder& decoder,
                                                  const std::string& path, int64_t seg_num,
                                                  int64_t seglen, int64_t num_clips,
                                                  int64_t* out_num_frames, const ClipScale* scale) {
  if (num_clips < 1) {
    throw std::invalid_argument("load_view_clips: num_clips must be >= 1, got " +
                                std::to_string(num_clips));
  }
  auto sample = [&](int64_t L) {
    std::vector<int64_t> idx;  // clip-major, then segment-major
    for (int64_t j = 0; j < num_clips; ++j) {
      const std::vector<int64_t> c = clip_indices(L, seg_num, seglen, j, num_clips);
      idx.insert(idx.end(), c.begin(), c.end());
    }
    return idx;
  };
  std::vector<cv::Mat> frames = decode_sampled(decoder, path, sample, out_num_frames, scale);
  const auto per_clip = static_cast<std::size_t>(seg_num * seglen);
  std::vector<std::vector<cv::Mat>> clips;
  clips.reserve(static_cast<std::size_t>(num_clips));
  for (std::size_t j = 0; j < static_cast<std::size_t>(num_clips); ++j) {
    clips.emplace_back(frames.begin() + static_cast<std::ptrdiff_t>(j * per_clip),
                       frames.begin() + static_cast<std::ptrdiff_t>((j + 1) * per_clip));
  }
  return clips;
}

namespace {
void check_positive(const std::string& list, const char* name, int64_t v) {
  if (v < 1) {
    throw DataError("Kinetics reader for " + list + ": option " + name + " must be >= 1, got " +
                    std::to_string(v));
  }
}
}  // namespace

namespace {
std::shared_ptr<const VideoDecoder> decoder_for(const std::string& list,
                                                const KineticsReaderOptions& o) {
  try {
    return make_video_decoder(o.decoder, o.decode_timeout_s);
  } catch (const DataError& e) {
    throw DataError("Kinetics reader for " + list + ": option decoder: " + e.what());
  }
}
}  // namespace

KineticsDataset::KineticsDataset(const std::string& list_path, KineticsReaderOptions opts)
    : KineticsDataset(list_path, opts, decoder_for(list_path, opts)) {}

KineticsDataset::KineticsDataset(const std::string& list_path, KineticsReaderOptions opts,
                                 std::shared_ptr<const VideoDecoder> decoder)
    : list_path_(list_path), opts_(std::move(opts)), decoder_(std::move(decoder)) {
  check_positive(list_path, "seg_num", opts_.seg_num);
  check_positive(list_path, "seglen", opts_.seglen);
  check_positive(list_path, "short_size", opts_.short_size);
  check_positive(list_path, "target_size", opts_.target_size);
  if (opts_.target_size > opts_.short_size) {
    throw DataError("Kinetics reader for " + list_path + ": target_size " +
                    std::to_string(opts_.target_size) + " exceeds short_size " +
                    std::to_string(opts_.short_size));
  }
  for (int c = 0; c < 3; ++c) {
    if (!(opts_.image_std[c] != 0.0f)) {
      throw DataError("Kinetics reader for " + list_path + ": image_std[" + std::to_string(c) +
                      "] must be non-zero");
    }
  }
  check_positive(list_path, "num_clips", opts_.num_clips);
  if (opts_.num_crops != 1 && opts_.num_crops != 3) {
    throw DataError("Kinetics reader for " + list_path + ": option num_crops must be 1 or 3, got " +
                    std::to_string(opts_.num_crops));
  }
  if (opts_.phase == Phase::kTrain && opts_.views() > 1) {
    throw DataError("Kinetics reader for " + list_path + ": num_clips x num_crops = " +
                    std::to_string(opts_.num_clips) + "x" + std::to_string(opts_.num_crops) +
                    " views; training reads one clip (views are for evaluation)");
  }
  if (!decoder_) throw DataError("Kinetics reader for " + list_path + ": null decoder");
  ListParseResult parsed = parse_file_list(list_path, opts_.require_label, opts_.num_classes);
  entries_ = std::move(parsed.entries);
  skipped_ = std::move(parsed.skipped);
  if (entries_.empty()) {
    throw DataError("list file " + list_path + " has no usable lines (" +
                    std::to_string(skipped_.size()) + " skipped" +
                    (skipped_.empty() ? "" : ", first: " + skipped_.front()) + ")");
  }
}

const ListEntry& KineticsDataset::entry(std::size_t index) const {
  if (index >= entries_.size()) {
    throw DataError("sample index " + std::to_string(index) + " out of range for " + list_path_ +
                    " (" + std::to_string(entries_.size()) + " entries)");
  }
  return entries_[index];
}

SampleRef KineticsDataset::ref(std::size_t index) const {
  const ListEntry& e = entry(index);
  return SampleRef{e.path, list_path_, e.line_no};
}

std::string KineticsDataset::describe() const {
  return "Kinetics video list " + list_path_ + ": " + std::to_string(entries_.size()) +
         " videos (" + to_string(opts_.phase) + ", seg_num " + std::to_string(opts_.seg_num) +
         " x seglen " + std::to_string(opts_.seglen) + ", " + std::to_string(opts_.target_size) +
         " px, " + (opts_.views() > 1 ? view_info().describe() + ", " : std::string()) +
         "decoder " + opts_.decoder + ")";
}

ViewInfo KineticsDataset::view_info() const {
  return ViewInfo{opts_.views(), std::to_string(opts_.num_clips) + "x" +
                                     std::to_string(opts_.num_crops) + " (clips x crops)"};
}

Sample KineticsDataset::get(std::size_t index, uint64_t seed) const {
  const ListEntry& e = entry(index);
  const bool train = opts_.phase == Phase::kTrain;
  Sample s;
  s.target = Target::single(e.label);
  s.id = e.path;
  s.source = list_path_;
  s.line_no = e.line_no;
  s.index = index;
  try {
    Rng rng(seed);
    const ClipScale scale{opts_.short_size, opts_.scale_mode};
    const ClipScale* to_scale = opts_.decode_to_scale ? &scale : nullptr;
    if (opts_.views() == 1) {
      std::vector<cv::Mat> frames = load_clip_frames(*decoder_, e.path, opts_.seg_num, opts_.seglen,
                                                     train, rng, nullptr, to_scale);
      s.inputs["video"] = transform_clip(frames, opts_, rng);  // [T, 3*seglen, H, W]
    } else {
      const std::vector<std::vector<cv::Mat>> clips = load_view_clips(
          *decoder_, e.path, opts_.seg_num, opts_.seglen, opts_.num_clips, nullptr, to_scale);
      s.inputs["video"] = transform_views(clips, opts_);  // [V, T, 3*seglen, H, W]
      s.views = opts_.views();
    }
  } catch (...) {
    rethrow_as_sample_error(e.path, e.line_no);
  }
  return s;
}

}  // namespace vc::data
