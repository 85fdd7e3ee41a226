// The HDF5 feature store of videocls for frame-level YouTube-8M features
// (docs/formats/yt8m_hdf5.md): one file per shard, written by tools/yt8m_convert, read by
// FeatureDataset (feature_reader.h) with one hyperslab read per modality and video, and by Python's
// h5py as plain arrays.
//
//   attributes  format = "videocls-yt8m" (str), version = 1 (int)
//   ids            str [N]              (variable-length UTF-8; fixed-length strings are read too)
//   label_offsets  int64 [N+1]          labels of video i:
//   labels[label_offsets[i]:label_offsets[i+1]] labels         int64 [L] frame_offsets  int64 [N+1]
//   frames of video i: rows frame_offsets[i]:frame_offsets[i+1] rgb            uint8 [F, 1024]
//   quantized, as in the TFRecords (chunked along rows) audio          uint8 [F, 128]
//
// No LibTorch here (tools/yt8m_convert and the tests use it alone).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vc::data::yt8m_h5 {

inline constexpr const char* kFormat = "videocls-yt8m";
inline constexpr int kVersion = 1;
inline constexpr int64_t kRgbWidth = 1024;
inline constexpr int64_t kAudioWidth = 128;

/// Writes one shard. Frames are streamed into chunked datasets as videos are appended; ids,
/// labels and the offsets are written by close(), so a file whose writer did not finish has no
/// `frame_offsets` and is refused by Reader. Errors throw vc::data::DataError naming the file.
class Writer {
 public:
  /// Creates (truncates) `path`. `chunk_rows`: rows per chunk of rgb / audio (64 = 64 KiB rgb
  /// chunks: a 300-frame video is about 5 chunk reads).
  explicit Writer(const std::string& path, int64_t chunk_rows = 64);
  ~Writer();  // closes (errors swallowed: call close() to see them)
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Appends one video: `rgb` num_frames x 1024 and `audio` num_frames x 128 bytes, row-major.
  void append(const std::string& id, const std::vector<int64_t>& labels, const uint8_t* rgb,
              const uint8_t* audio, int64_t num_frames);
  /// Writes the index datasets and closes the file; further calls do nothing.
  void close();
  std::size_t videos() const;
  const std::string& path() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

/// Reads one shard: the index (ids, labels, offsets) at construction, frames on demand.
/// Thread-safe (HDF5 calls are serialised: the library's own lock on a thread-safe build, a
/// process-wide mutex otherwise).
class Reader {
 public:
  /// Opens `path` read-only and reads its index. Throws vc::data::DataError naming the file on a
  /// missing file, a file that is not HDF5, a wrong `format` / `version`, a missing dataset,
  /// wrong widths or inconsistent offsets.
  explicit Reader(const std::string& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  std::size_t size() const;
  const std::string& id(std::size_t i) const;
  std::vector<int64_t> labels(std::size_t i) const;
  int64_t num_frames(std::size_t i) const;
  /// Frames [first, first + count) of video i into `rgb` (count x 1024) and `audio` (count x
  /// 128): one hyperslab read each. Throws DataError naming the file and video on a failure or
  /// an out-of-range request.
  void read_frames(std::size_t i, int64_t first, int64_t count, uint8_t* rgb, uint8_t* audio) const;
  const std::string& path() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace vc::data::yt8m_h5
