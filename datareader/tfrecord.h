// TFRecord files: the framing TensorFlow writes around every record (also around TensorBoard
// events), with both CRCs verified.
//
//   uint64 length (little endian) | uint32 masked_crc32c(length) | data[length] |
//   uint32 masked_crc32c(data)
//
// masked_crc32c(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 over CRC-32C (Castagnoli).
// Kept free of LibTorch (the fuzz harness of tests/fuzz builds it alone).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace vc::data::tfrecord {

/// CRC-32C (Castagnoli, reflected, init/xorout 0xffffffff) of `n` bytes, continuing `crc` (0 for
/// a fresh one): the SSE4.2 instruction where the CPU has it, a table otherwise.
uint32_t crc32c(const void* data, std::size_t n, uint32_t crc = 0);
/// The table implementation (tests compare the two).
uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc = 0);
/// TensorFlow's masking: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t mask_crc(uint32_t crc);

/// One problem met while reading a shard; reading goes on after it where the framing allows.
struct RecordIssue {
  std::size_t record_index = 0;  ///< 0-based index of the record (or the one that would follow)
  uint64_t offset = 0;           ///< byte offset of its header in the file
  std::string reason;  ///< short counter key: "bad length crc", "bad data crc", "truncated record"
  std::string detail;  ///< "<file>: record N at byte B: ..."
};

/// Sequential reader of one TFRecord file. A record whose data CRC fails is reported and
/// skipped; a header whose length CRC fails is reported and the reader resynchronises on the
/// next offset whose 12-byte header checks out; a truncated tail is reported and ends the file.
class RecordReader {
 public:
  /// Throws vc::data::DataError naming the file when it cannot be opened.
  explicit RecordReader(const std::string& path);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  /// The next good record's data into `record` (its 0-based index into `*index` when non-null);
  /// false at the end of the file. Problems met on the way are appended to issues().
  bool next(std::string* record, std::size_t* index = nullptr);
  /// Problems met so far, in file order.
  const std::vector<RecordIssue>& issues() const;
  const std::string& path() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Appends framed records to a file (truncates it when opened).
class RecordWriter {
 public:
  /// Throws vc::data::DataError naming the file when it cannot be created.
  explicit RecordWriter(const std::string& path);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;
  void write(const std::string& record);
  /// fflush (TensorBoard event files are flushed after each step).
  void flush();

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace vc::data::tfrecord
