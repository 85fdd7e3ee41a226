// YouTube-8M records: tf.train.Example (video level: id, labels, mean_rgb, mean_audio) and
// tf.train.SequenceExample (frame level: context id, labels; feature lists rgb 1024 bytes and
// audio 128 bytes per frame), parsed from / written to the serialized protobuf bytes of one
// TFRecord record with the .proto subsets in third_party/tensorflow (TensorFlow's field numbers,
// unknown fields skipped). No LibTorch here.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vc::data::yt8m {

/// A record that does not hold what a YouTube-8M record must; what() is a short reason
/// ("not a tf.train.SequenceExample", "feature 'rgb' missing", "frame 12 of 'audio' has 100
/// bytes, expected 128", ...). Readers prefix the file and record index, skip and count it.
class RecordError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One video's features as stored.
struct VideoRecord {
  std::string id;
  std::vector<int64_t> labels;  ///< as stored (range checks are the reader's job)
  /// Frame level: quantized uint8, num_frames x 1024 (rgb) and num_frames x 128 (audio),
  /// row-major. Video level: empty.
  std::vector<uint8_t> rgb;
  std::vector<uint8_t> audio;
  int64_t num_frames = 0;
  /// Video level: float mean_rgb [1024], mean_audio [128]; frame level: empty.
  std::vector<float> mean_rgb;
  std::vector<float> mean_audio;
  bool frame_level() const { return mean_rgb.empty(); }
};

/// Which message a record holds.
enum class Level { kVideo, kFrame };

/// Parses a frame-level SequenceExample (`Level::kFrame`) or a video-level Example
/// (`Level::kVideo`); feature names and widths as the official dataset (rgb 1024, audio 128).
/// Throws RecordError.
VideoRecord parse(const std::string& bytes, Level level);
/// Guesses the level of a record (a SequenceExample has feature_lists); throws RecordError when
/// it is neither message.
Level detect_level(const std::string& bytes);

/// The serialized message for `video` (frame level when video.frame_level()); deterministic:
/// the feature maps are written in key order.
std::string serialize(const VideoRecord& video);

}  // namespace vc::data::yt8m
