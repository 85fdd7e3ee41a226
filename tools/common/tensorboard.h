// TensorBoard event files: `<dir>/events.out.tfevents.<unix time>.<hostname>`, TFRecord framing
// (datareader/tfrecord.h) around tensorboard.Event messages (third_party/tensorboard/*.proto):
// first a file_version "brain.Event:2" event, then one event per scalar. TensorBoard, or any
// TFRecord + protobuf reader, reads them; no TensorFlow needed. No LibTorch here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vc::data::tfrecord {
class RecordWriter;
}

namespace vc::app {

class TensorBoardWriter {
 public:
  /// Creates `dir` (and parents) and a new event file in it; throws IoError naming the path when
  /// it cannot. A file of the same name (same second, same host) is never overwritten: a
  /// ".1", ".2", ... suffix is added.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  /// One scalar event (stored as float32, as TensorBoard's simple_value) at `step`; wall_time in
  /// seconds since the epoch, < 0 = now.
  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time = -1.0);
  /// add_scalar of each (tag, value) with one wall time.
  void add_scalars(const std::vector<std::pair<std::string, double>>& values, int64_t step);
  /// Flushes the file (TensorBoard sees the events written so far).
  void flush();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<data::tfrecord::RecordWriter> writer_;
};

/// Seconds since the Unix epoch, with sub-second precision.
double unix_time_now();

}  // namespace vc::app
