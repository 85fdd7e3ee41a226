#include "datareader/tfrecord.h"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "datareader/errors.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define VC_CRC32C_SSE42 1
#endif

namespace vc::data::tfrecord {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;   // CRC-32C, reflected
constexpr std::size_t kHeaderBytes = 12;  // uint64 length + uint32 masked crc of the length
constexpr std::size_t kFooterBytes = 4;   // uint32 masked crc of the data

// Slicing-by-8 tables: t[0] is the byte-wise table, t[k][b] the CRC of b followed by k zero bytes.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (kPoly & (0u - (c & 1u)));
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
};

const Tables& tables() {
  static const Tables tab;
  return tab;
}

uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t load_le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

void store_le64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

void store_le32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

#ifdef VC_CRC32C_SSE42
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const void* data, std::size_t n,
                                                        uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  // Bytes up to an 8-byte boundary, then 8 at a time, then the tail.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  return ~static_cast<uint32_t>(c);
}
#endif

using CrcFn = uint32_t (*)(const void*, std::size_t, uint32_t);

CrcFn pick_crc32c() {
#ifdef VC_CRC32C_SSE42
  if (__builtin_cpu_supports("sse4.2")) return crc32c_sse42;
#endif
  return crc32c_portable;
}

std::string at_record(const std::string& path, std::size_t index, uint64_t offset) {
  return path + ": record " + std::to_string(index) + " at byte " + std::to_string(offset) + ": ";
}

}  // namespace

uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc) {
  const auto& t = tables().t;
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  while (n >= 8) {
    const uint32_t lo = c ^ load_le32(p);
    const uint32_t hi = load_le32(p + 4);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
  return ~c;
}

uint32_t crc32c(const void* data, std::size_t n, uint32_t crc) {
  static const CrcFn fn = pick_crc32c();
  return fn(data, n, crc);
}

uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// ---------------------------------------------------------------------------------------------
// RecordReader

struct RecordReader::State {
  std::string path;
  std::FILE* file = nullptr;
  uint64_t size = 0;      // file size at open
  uint64_t pos = 0;       // offset of the next header
  std::size_t index = 0;  // index of the next record
  bool ended = false;
  std::vector<RecordIssue> issues;

  void report(std::size_t idx, uint64_t offset, const std::string& reason,
              const std::string& what) {
    issues.push_back({idx, offset, reason, at_record(path, idx, offset) + reason + what});
  }
  // Reads exactly n bytes at `offset`; false (and a "read error" issue, end of file) otherwise.
  bool read_at(uint64_t offset, void* out, std::size_t n) {
    if (fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0 ||
        std::fread(out, 1, n, file) != n) {
      report(index, offset, "read error", std::string(" (") + std::strerror(errno) + ")");
      ended = true;
      return false;
    }
    return true;
  }
  // True when the 12 bytes at h are a header whose length CRC checks out.
  static bool header_ok(const unsigned char* h, uint64_t* length) {
    if (mask_crc(crc32c(h, 8)) != load_le32(h + 8)) return false;
    *length = load_le64(h);
    return true;
  }
  // The first offset after `from` holding a good header whose record fits in the file, or
  // `size` when there is none.
  uint64_t resync(uint64_t from) {
    constexpr std::size_t kChunk = 1 << 16;
    std::vector<unsigned char> buf(kChunk + kHeaderBytes);
    for (uint64_t start = from; start + kHeaderBytes <= size; start += kChunk) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<uint64_t>(kChunk + kHeaderBytes - 1, size - start));
      if (!read_at(start, buf.data(), want)) return size;
      for (std::size_t i = 0; i + kHeaderBytes <= want; ++i) {
        uint64_t len = 0;
        const uint64_t at = start + i;
        if (at + kHeaderBytes + kFooterBytes <= size && header_ok(buf.data() + i, &len) &&
            len <= size - at - kHeaderBytes - kFooterBytes)
          return at;
      }
    }
    return size;
  }
};

RecordReader::RecordReader(const std::string& path) : state_(std::make_unique<State>()) {
  state_->path = path;
  state_->file = std::fopen(path.c_str(), "rb");
  if (!state_->file) {
    throw DataError(path + ": cannot open TFRecord file (" + std::strerror(errno) + ")");
  }
  struct stat st {};
  if (fstat(fileno(state_->file), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fclose(state_->file);
    state_->file = nullptr;
    throw DataError(path + ": not a regular file");
  }
  state_->size = static_cast<uint64_t>(st.st_size);
}

RecordReader::~RecordReader() {
  if (state_ && state_->file) std::fclose(state_->file);
}

bool RecordReader::next(std::string* record, std::size_t* index) {
  State& s = *state_;
  while (!s.ended) {
    if (s.pos >= s.size) {
      s.ended = true;
      break;
    }
    const uint64_t at = s.pos;
    const uint64_t left = s.size - at;
    if (left < kHeaderBytes) {
      s.report(s.index, at, "truncated record",
               " (" + std::to_string(left) + " bytes left, a header has 12)");
      s.ended = true;
      break;
    }
    unsigned char header[kHeaderBytes];
    if (!s.read_at(at, header, kHeaderBytes)) break;
    uint64_t length = 0;
    if (!State::header_ok(header, &length)) {
      const uint64_t next = s.resync(at + 1);
      if (s.ended) break;  // read error while scanning
      s.report(s.index, at, "bad length crc",
               next < s.size ? " (resynchronised at byte " + std::to_string(next) + ", " +
                                   std::to_string(next - at) + " bytes skipped)"
                             : " (no good header after it: the rest of the file, " +
                                   std::to_string(s.size - at) + " bytes, skipped)");
      ++s.index;
      s.pos = next;
      continue;
    }
    if (length > left - kHeaderBytes || left - kHeaderBytes - length < kFooterBytes) {
      s.report(s.index, at, "truncated record",
               " (length " + std::to_string(length) + ", " + std::to_string(left - kHeaderBytes) +
                   " bytes follow the header, " + std::to_string(length + kFooterBytes) +
                   " needed)");
      s.ended = true;
      break;
    }
    record->resize(static_cast<std::size_t>(length));
    unsigned char footer[kFooterBytes];
    if (length > 0 && std::fread(record->data(), 1, record->size(), s.file) != record->size()) {
      s.report(s.index, at, "read error", std::string(" (") + std::strerror(errno) + ")");
      s.ended = true;
      break;
    }
    if (std::fread(footer, 1, kFooterBytes, s.file) != kFooterBytes) {
      s.report(s.index, at, "read error", std::string(" (") + std::strerror(errno) + ")");
      s.ended = true;
      break;
    }
    s.pos = at + kHeaderBytes + length + kFooterBytes;
    const std::size_t idx = s.index++;
    if (mask_crc(crc32c(record->data(), record->size())) != load_le32(footer)) {
      s.report(idx, at, "bad data crc", " (" + std::to_string(length) + " bytes skipped)");
      continue;
    }
    if (index) *index = idx;
    return true;
  }
  record->clear();
  return false;
}

const std::vector<RecordIssue>& RecordReader::issues() const { return state_->issues; }

const std::string& RecordReader::path() const { return state_->path; }

// ---------------------------------------------------------------------------------------------
// RecordWriter

RecordWriter::RecordWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_)
    throw DataError(path + ": cannot create TFRecord file (" + std::strerror(errno) + ")");
}

RecordWriter::~RecordWriter() {
  if (file_) std::fclose(file_);
}

void RecordWriter::write(const std::string& record) {
  unsigned char header[kHeaderBytes];
  store_le64(header, record.size());
  store_le32(header + 8, mask_crc(crc32c(header, 8)));
  unsigned char footer[kFooterBytes];
  store_le32(footer, mask_crc(crc32c(record.data(), record.size())));
  if (std::fwrite(header, 1, kHeaderBytes, file_) != kHeaderBytes ||
      std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fwrite(footer, 1, kFooterBytes, file_) != kFooterBytes) {
    throw DataError(path_ + ": write failed (" + std::strerror(errno) + ")");
  }
}

void RecordWriter::flush() {
  if (std::fflush(file_) != 0) {
    throw DataError(path_ + ": write failed (" + std::strerror(errno) + ")");
  }
}

}  // namespace vc::data::tfrecord
