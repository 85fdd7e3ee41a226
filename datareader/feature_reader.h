// YouTube-8M feature reader (spec §3.1) for Attention Cluster, Attention LSTM and NeXtVLAD: a
// list of shards, each a TFRecord file, an HDF5 shard of tools/yt8m_convert
// (docs/formats/yt8m_hdf5.md) or a .pkl file of the original's tf2pkl.py, told apart per entry.
//
//   list line -> shard -> videos (indexed at construction) --get(i, seed)-->
//   {"rgb": float32 [T, 1024], "audio": float32 [T, 128]} + multi-hot target
//
// T = min(frames, max_frames) with seg_num 0 (padded batches: "mask" / "lengths"), seg_num with
// seg_num > 0 (Attention Cluster's sampling). Details and choices: docs/formats/yt8m_features.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "datareader/dataset.h"
#include "datareader/rng.h"

namespace vc::data {

/// Frame sampling of seg_num > 0 outside training.
enum class EvalSampling {
  kCenter,  ///< U = 0.5: the middle frame of each of the seg_num strides (deterministic)
  kRandom,  ///< U ~ [0, 1) as in training: the original's behaviour in every mode
};

struct FeatureReaderOptions {
  Phase phase = Phase::kTrain;
  int64_t num_classes = 3862;  ///< labels must lie in [0, num_classes)
  int64_t max_frames = 300;    ///< frames beyond are dropped (the original's nframes)
  /// true: x * 4/255 + 4/512 - 2 (Attention Cluster, Attention LSTM); false: the raw 0..255
  /// values as float (NeXtVLAD of the June snapshot dequantizes in its graph). Video-level
  /// records hold floats and are never dequantized.
  bool dequantize = true;
  /// 0: all (<= max_frames) frames, batches padded with "mask" / "lengths"; > 0: that many frame
  /// indices min(n-1, int((i + U) * n / seg_num)), i = 0..seg_num-1, the same for rgb and audio.
  int64_t seg_num = 0;
  EvalSampling eval_sampling = EvalSampling::kCenter;
  /// false (infer): videos without labels are fine and labels are not range-checked.
  bool require_label = true;
  /// true: get() returns frame-level features as stored, uint8 [T, 1024] / [T, 128], and
  /// collate_policy() converts them (dequantized or raw, as above) straight into the float32
  /// batch: the same batches, one float copy per video fewer (what the executables use);
  /// false: get() returns them as float32. Video-level records are float32 either way.
  bool widen_in_batch = false;
  /// Threads that index the shards at construction (0 = one per hardware thread, at most one
  /// per shard). The index does not depend on it.
  int index_threads = 0;
};

/// The frame indices of seg_num sampling for a video of n >= 1 frames (Attention Cluster,
/// spec §3.1): stride = n / seg_num, index_i = min(n - 1, int((i + U_i) * stride)); U_i drawn
/// from `rng` in i order when `random`, 0.5 otherwise.
std::vector<int64_t> feature_frame_indices(int64_t n, int64_t seg_num, bool random, Rng& rng);

/// Which container a list entry is: by extension (.tfrecord / .tfr, .h5 / .hdf5, .pkl /
/// .pickle), else by the first bytes (HDF5 signature, pickle PROTO opcode 0x80, else TFRecord).
enum class FeatureFormat { kTFRecord, kHdf5, kPickle };
const char* to_string(FeatureFormat f);
/// Throws DataError naming the file when it cannot be read.
FeatureFormat detect_feature_format(const std::string& path);

class FeatureDataset : public Dataset {
 public:
  /// Reads the list (one shard path per line, relative to the list's folder; blank lines and
  /// `#` comments skipped) and indexes every shard. Shards that cannot be opened or read, and
  /// records that cannot be used (framing / CRC problems, not a YouTube-8M record, missing or
  /// wrong-size features, labels out of range, zero frames, pkl entries of the wrong structure)
  /// are skipped and counted: skipped_lines() has one message per problem naming the list line
  /// or the shard and record index, skip_counts() a count per reason. Throws DataError on a
  /// missing list, bad options, or when no video is left.
  FeatureDataset(const std::string& list_path, FeatureReaderOptions opts);
  ~FeatureDataset() override;

  std::size_t size() const override;
  /// Inputs {"rgb": float32 [T, 1024], "audio": float32 [T, 128]} (T as above; uint8 with
  /// widen_in_batch), target
  /// Target::multi over num_classes (unlabelled in infer when the record has no labels),
  /// id = the video id, source = the shard, line_no = 1-based record index in it. Randomness
  /// (seg_num sampling) only from `seed`. Throws SampleError when the shard cannot be re-read.
  Sample get(std::size_t index, uint64_t seed) const override;
  SampleRef ref(std::size_t index) const override;
  const std::vector<std::string>& skipped_lines() const override { return skipped_; }
  /// seg_num 0: pad {"rgb", "audio"}; else stack. With widen_in_batch, the conversion of both.
  CollatePolicy collate_policy() const override;
  std::string describe() const override;

  /// Skips at construction by reason ("shard not found", "bad data crc", "label out of range",
  /// "zero frames", "not a YouTube-8M record", "pkl entry not a dict", ...).
  const std::map<std::string, std::size_t>& skip_counts() const { return skip_counts_; }
  const FeatureReaderOptions& options() const { return opts_; }
  /// Shards read, by format.
  const std::map<std::string, std::size_t>& shard_counts() const { return shard_counts_; }

  struct Shard;  // one indexed shard (feature_reader.cpp)
  struct Video {
    uint32_t shard = 0;
    uint32_t record = 0;  ///< 0-based record (entry) index in the shard
    int64_t num_frames = 0;
    std::string id;
    std::vector<int64_t> labels;
    uint64_t offset = 0;       ///< TFRecord: byte offset of the record header (when seekable)
    uint64_t length = 0;       ///< TFRecord: data length
    int64_t slot = -1;         ///< TFRecord kept in memory / HDF5 video index / pkl entry
    bool video_level = false;  ///< TFRecord: a video-level Example (1 frame of float means)
  };

 private:
  std::string list_path_;
  FeatureReaderOptions opts_;
  std::vector<std::shared_ptr<Shard>> shards_;
  std::vector<Video> videos_;
  std::vector<std::string> skipped_;
  std::map<std::string, std::size_t> skip_counts_;
  std::map<std::string, std::size_t> shard_counts_;
};

}  // namespace vc::data
