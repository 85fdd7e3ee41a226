#include "tools/common/readers.h"

#include "datareader/feature_reader.h"
#include "datareader/kinetics_reader.h"
#include "datareader/nonlocal_reader.h"
#include "tools/common/errors.h"

namespace vc::app {
namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

const KeyTable& kinetics_reader_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "Kinetics reader",
      "Video lists of the Kinetics networks (`<path> <label>` per line; a path is a video file or a folder of `img_00001.jpg` frames). Sampling and transforms as the original's kinetics_reader (spec §3.2), see docs/reader.md.",
      {
          {"format", S::kModel, std::string("video"), -kInf, kInf, {"video"}, "list format: `video` = video files (mp4/avi/mkv/mov/webm) or folders of img_00001.jpg frames", {}},
          {"image_mean", S::kModel, std::vector<double>{0.485, 0.456, 0.406}, -10, 10, {}, "per-channel RGB mean subtracted from pixels scaled to [0, 1] (3 values)", {}},
          {"image_std", S::kModel, std::vector<double>{0.229, 0.224, 0.225}, 1e-6, 10, {}, "per-channel RGB std dividing pixels scaled to [0, 1] (3 values)", {}},
          {"seg_num", S::kShared, int64_t{3}, 1, 1024, {}, "segments sampled per video (TSN: 3 train, 7 test)", {}},
          {"seglen", S::kShared, int64_t{1}, 1, 256, {}, "consecutive frames per segment, stacked on the channel axis (3*seglen channels)", {}},
          {"short_size", S::kShared, int64_t{256}, 8, 4096, {}, "frames are scaled so that the short side is this", {}},
          {"target_size", S::kShared, int64_t{224}, 8, 4096, {}, "crop size (random crop in TRAIN, centre crop otherwise); <= short_size", {}},
          {"scale_mode", S::kShared, std::string("group_4_3"), -kInf, kInf, {"group_4_3", "short_side"}, "`group_4_3`: the original, resize to a fixed 4:3 frame (S x 4S/3); `short_side`: keep the aspect ratio", {}},
          {"multi_scale_crop", S::kShared, false, -kInf, kInf, {}, "TSM multi-scale crop before the random crop (TRAIN only; ignored elsewhere)", {}},
          {"num_clips", S::kShared, int64_t{1}, 1, 1000, {}, "TEST/INFER only: temporal clips per video (each clip is seg_num segments); clip j takes the start offset round(j * (avg - seglen) / (num_clips - 1)) within every segment, from the first to the last possible one (1 = the centred offset). All views (num_clips x num_crops) of a video are decoded once and their scores combined per video (`view_scores`). TRAIN/VALID always read one clip", {}},
          {"num_crops", S::kShared, int64_t{1}, 1, 3, {"1", "3"}, "TEST/INFER only: spatial crops per clip: 1 = centre, 3 = left/centre/right (landscape frames) or top/centre/bottom (portrait, square) along the long side, the middle one the centre crop", {}},
          {"decoder", S::kShared, std::string("ffmpeg"), -kInf, kInf, {"ffmpeg", "opencv"}, "video decoder: `ffmpeg` (FFmpeg libraries directly: seeks, skips unneeded frames, scales while converting) or `opencv` (cv::VideoCapture)", {}},
          {"decode_timeout_s", S::kShared, 30.0, 0.001, 86400, {}, "per-video decode time limit in seconds; a video that takes longer is skipped as \"decode timeout\"", {}},
      },
      {},
      [](const Config& cfg, const std::string& where) {
        const auto& mean = cfg.model.floats("image_mean");
        const auto& std_ = cfg.model.floats("image_std");
        if (mean.size() != 3 || std_.size() != 3) {
          throw ConfigError(where + ": MODEL.image_mean and MODEL.image_std need 3 values (RGB), got " +
                            std::to_string(mean.size()) + " and " + std::to_string(std_.size()));
        }
        for (int m = 0; m < 4; ++m) {
          const SectionConfig& s = cfg.modes[m];
          if (s.i("target_size") > s.i("short_size")) {
            throw ConfigError(where + ": " + s.section + ".target_size (" +
                              std::to_string(s.i("target_size")) + ") must be <= " + s.section +
                              ".short_size (" + std::to_string(s.i("short_size")) + ")");
          }
        }
      }};
  // clang-format on
  return table;
}

std::shared_ptr<const data::Dataset> make_kinetics_dataset(const Config& cfg, Mode mode,
                                                           const std::string& list) {
  const SectionConfig& s = cfg.section(mode);
  data::KineticsReaderOptions o;
  o.phase = mode;
  o.seg_num = s.i("seg_num");
  o.seglen = s.i("seglen");
  o.short_size = s.i("short_size");
  o.target_size = s.i("target_size");
  o.num_classes = cfg.model.i("num_classes");
  o.scale_mode =
      s.s("scale_mode") == "short_side" ? data::ScaleMode::kShortSide : data::ScaleMode::kGroup43;
  o.multi_scale_crop = s.b("multi_scale_crop") && mode == Mode::kTrain;
  o.decoder = s.s("decoder");
  o.decode_timeout_s = s.f("decode_timeout_s");
  for (int c = 0; c < 3; ++c) {
    o.image_mean[c] = static_cast<float>(cfg.model.floats("image_mean")[c]);
    o.image_std[c] = static_cast<float>(cfg.model.floats("image_std")[c]);
  }
  o.require_label = mode != Mode::kInfer;
  if (mode == Mode::kTest || mode == Mode::kInfer) {  // multi-view testing (docs/reader.md)
    o.num_clips = s.i("num_clips");
    o.num_crops = s.i("num_crops");
  }
  return std::make_shared<data::KineticsDataset>(list, o);
}

}  // namespace vc::app

namespace vc::app {

const KeyTable& nonlocal_reader_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "Non-local reader",
      "Video lists of the Non-local network (`<path> <label>` per line: the original's trainlist.txt / vallist.txt; its 4-column testlist.txt is rejected: test with vallist.txt and num_clips / num_crops). Sampling and transforms as the original's nonlocal_reader (spec §3.3), see docs/models/nonlocal.md.",
      {
          {"image_mean", S::kModel, 114.75, -1e4, 1e4, {}, "mean subtracted from the 0-255 RGB values (all channels)", {}},
          {"image_std", S::kModel, 57.375, 1e-6, 1e4, {}, "std dividing the 0-255 RGB values after the mean (all channels)", {}},
          {"crop_size", S::kShared, int64_t{224}, 8, 4096, {}, "crop side (random crop in TRAIN, centre crop in VALID, num_crops crops in TEST/INFER); <= jitter_scales[0]", {}},
          {"sample_rate", S::kShared, int64_t{8}, 1, 1024, {}, "frames between two sampled frames", {}},
          {"video_length", S::kShared, int64_t{8}, 1, 1024, {}, "frames per clip", {}},
          {"jitter_scales", S::kShared, std::vector<int64_t>{256, 320}, 8, 4096, {}, "[min, max]: the short side is scaled to randint(min, max - 1) (exactly min when min == max: TEST/INFER [256, 256])", {}},
          {"num_clips", S::kShared, int64_t{10}, 1, 1000, {}, "TEST/INFER only: temporal clips per video, clip j starting at int(frames / num_clips * j); all views of a video are decoded once and their scores combined per video (`view_scores`). TRAIN/VALID read one random clip", {}},
          {"num_crops", S::kShared, int64_t{3}, 1, 3, {"1", "3"}, "TEST/INFER only: spatial crops per clip: 3 = top/centre/bottom or left/centre/right along the long side (the original's use_multi_crop 1), 1 = centre", {}},
          {"decoder", S::kShared, std::string("ffmpeg"), -kInf, kInf, {"ffmpeg", "opencv"}, "video decoder: `ffmpeg` (FFmpeg libraries directly: seeks, skips unneeded frames, scales while converting) or `opencv` (cv::VideoCapture)", {}},
          {"decode_timeout_s", S::kShared, 30.0, 0.001, 86400, {}, "per-video decode time limit in seconds; a video that takes longer is skipped as \"decode timeout\"", {}},
      },
      {},
      [](const Config& cfg, const std::string& where) {
        for (int m = 0; m < 4; ++m) {
          const SectionConfig& s = cfg.modes[m];
          const auto& j = s.ints("jitter_scales");
          if (j.size() != 2 || j[0] > j[1]) {
            throw ConfigError(where + ": " + s.section + ".jitter_scales must be [min, max] with min <= max, got " + value_text(j));
          }
          if (s.i("crop_size") > j[0]) {
            throw ConfigError(where + ": " + s.section + ".crop_size (" + std::to_string(s.i("crop_size")) +
                              ") must be <= " + s.section + ".jitter_scales[0] (" + std::to_string(j[0]) + ")");
          }
        }
      }};
  // clang-format on
  return table;
}

std::shared_ptr<const data::Dataset> make_nonlocal_dataset(const Config& cfg, Mode mode,
                                                           const std::string& list) {
  const SectionConfig& s = cfg.section(mode);
  data::NonlocalReaderOptions o;
  o.phase = mode;
  o.crop_size = s.i("crop_size");
  o.sample_rate = s.i("sample_rate");
  o.video_length = s.i("video_length");
  o.jitter_min = s.ints("jitter_scales").at(0);
  o.jitter_max = s.ints("jitter_scales").at(1);
  o.image_mean = static_cast<float>(cfg.model.f("image_mean"));
  o.image_std = static_cast<float>(cfg.model.f("image_std"));
  o.num_clips = s.i("num_clips");
  o.num_crops = s.i("num_crops");
  o.num_classes = cfg.model.i("num_classes");
  o.require_label = mode != Mode::kInfer;
  o.decoder = s.s("decoder");
  o.decode_timeout_s = s.f("decode_timeout_s");
  return std::make_shared<data::NonlocalDataset>(list, o);
}

}  // namespace vc::app

namespace vc::app {

const KeyTable& feature_reader_keys() {
  using S = KeyScope;
  // clang-format off
  static const KeyTable table{
      "YouTube-8M feature reader",
      "List files of YouTube-8M frame-level features, one shard per line (blank lines and `#` comments skipped; relative paths are relative to the list): TFRecord shards (`.tfrecord`, SequenceExample; video-level Examples are read as one frame of mean features), HDF5 shards of tools/yt8m_convert (`.h5` / `.hdf5`, docs/formats/yt8m_hdf5.md) or the original's tf2pkl.py `.pkl` files, told apart by extension (else by content). Every video is indexed when the reader is built; unusable shards and records are skipped and counted. Semantics as the original's feature_reader (spec §3.1), see docs/formats/yt8m_features.md.",
      {
          {"max_frames", S::kModel, int64_t{300}, 1, 100000, {}, "frames kept per video (the first ones; the original's nframes = min(frames, 300))", {}},
          {"dequantize", S::kModel, true, -kInf, kInf, {}, "true: features as x * 4/255 + 4/512 - 2 (Attention Cluster, Attention LSTM); false: the raw 0..255 values as floats (NeXtVLAD of the June snapshot dequantizes in its graph). Video-level records are floats already and never dequantized", {}},
          {"seg_num", S::kModel, int64_t{0}, 0, 100000, {}, "0: all (<= max_frames) frames, batches zero-padded with \"mask\" [N, T] and \"lengths\" [N]; > 0: that many frames per video, index_i = min(n-1, int((i + U) * n / seg_num)) (Attention Cluster), inputs [seg_num, 1024] / [seg_num, 128]", {}},
          {"eval_sampling", S::kModel, std::string("center"), -kInf, kInf, {"center", "random"}, "seg_num > 0 outside TRAIN: `center` = U 0.5 (deterministic), `random` = U ~ [0, 1) drawn from the sample seed as in training (the original's behaviour in every mode)", {}},
      },
      {},
      nullptr};
  // clang-format on
  return table;
}

std::shared_ptr<const data::Dataset> make_feature_dataset(const Config& cfg, Mode mode,
                                                          const std::string& list) {
  data::FeatureReaderOptions o;
  o.phase = mode;
  o.num_classes = cfg.model.i("num_classes");
  o.max_frames = cfg.model.i("max_frames");
  o.dequantize = cfg.model.b("dequantize");
  o.seg_num = cfg.model.i("seg_num");
  o.eval_sampling = cfg.model.s("eval_sampling") == "random" ? data::EvalSampling::kRandom
                                                             : data::EvalSampling::kCenter;
  o.require_label = mode != Mode::kInfer;
  o.widen_in_batch = true;  // uint8 samples, dequantized straight into the batch
  return std::make_shared<data::FeatureDataset>(list, o);
}

}  // namespace vc::app
