// libFuzzer target: the TFRecord reader and the YouTube-8M record parser.
// The first input byte picks the mode (even: the rest is a TFRecord file; odd: the rest is one
// record's bytes, framed with RecordWriter and read back). Every record read goes through
// detect_level and parse at both levels. Checks: only RecordError comes out of the parser; the
// reader never throws on an existing file, returns records in index order with their exact
// bytes, reports issues in file order with offsets inside the file and "<file>: record N at
// byte B: <reason>" details, and reads a record it framed itself back unchanged; a parsed record
// serializes and parses again to the same record.
// Build and run: see tests/fuzz/README.md.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "datareader/errors.h"
#include "datareader/tfrecord.h"
#include "datareader/yt8m_example.h"

namespace {

using namespace vc::data;

const std::string& file_path() {
  static const std::string p = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = (tmp && *tmp) ? tmp : "/tmp";
    return dir + "/vc_fuzz_tfrecord_" + std::to_string(::getpid()) + ".tfrecord";
  }();
  return p;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_tfrecord: invariant violated: %s\n", what);
    std::abort();
  }
}

// Floats compared bit for bit (a record may hold NaNs).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool same(const yt8m::VideoRecord& a, const yt8m::VideoRecord& b) {
  return a.id == b.id && a.labels == b.labels && a.num_frames == b.num_frames && a.rgb == b.rgb &&
         a.audio == b.audio && same_bits(a.mean_rgb, b.mean_rgb) &&
         same_bits(a.mean_audio, b.mean_audio);
}

void parse_record(const std::string& bytes) {
  bool detected = true;
  yt8m::Level level = yt8m::Level::kVideo;
  try {
    level = yt8m::detect_level(bytes);
  } catch (const yt8m::RecordError& e) {
    check(e.what()[0] != '\0', "empty RecordError");
    detected = false;
  }
  for (yt8m::Level l : {yt8m::Level::kVideo, yt8m::Level::kFrame}) {
    yt8m::VideoRecord v;
    try {
      v = yt8m::parse(bytes, l);
    } catch (const yt8m::RecordError& e) {
      check(std::string(e.what()).size() < 512, "RecordError message bounded");
      continue;
    }
    check(detected, "parse accepted a record detect_level rejected");
    check(l == level, "parse accepted a record at the level detect_level did not name");
    if (l == yt8m::Level::kFrame) {
      check(v.frame_level(), "frame-level record without frames layout");
      check(v.rgb.size() == static_cast<std::size_t>(v.num_frames) * 1024, "rgb size");
      check(v.audio.size() == static_cast<std::size_t>(v.num_frames) * 128, "audio size");
    } else {
      check(v.mean_rgb.size() == 1024 && v.mean_audio.size() == 128, "video-level sizes");
    }
    const std::string again = yt8m::serialize(v);
    check(same(yt8m::parse(again, l), v), "serialize + parse round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string path = file_path();
  const bool as_record = data[0] & 1;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (as_record) {
    tfrecord::RecordWriter w(path);
    w.write(body);
  } else {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  std::size_t n = 0, bytes_read = 0, prev_index = 0;
  try {
    tfrecord::RecordReader reader(path);
    std::string rec;
    std::size_t index = 0;
    while (reader.next(&rec, &index)) {
      check(n == 0 || index > prev_index, "record indices increase");
      prev_index = index;
      bytes_read += rec.size() + 16;
      check(bytes_read <= size + 16, "records hold more bytes than the file");
      if (as_record) check(rec == body, "a framed record reads back unchanged");
      ++n;
      parse_record(rec);
    }
    uint64_t prev_offset = 0;
    for (const auto& is : reader.issues()) {
      check(is.offset >= prev_offset && is.offset < size, "issue offsets in file order, inside");
      prev_offset = is.offset;
      const std::string head = path + ": record " + std::to_string(is.record_index) + " at byte " +
                               std::to_string(is.offset) + ": " + is.reason;
      check(is.detail.rfind(head, 0) == 0, "issue detail names file, record, byte, reason");
      check(is.reason == "bad length crc" || is.reason == "bad data crc" ||
                is.reason == "truncated record",
            "known issue reason");
    }
    if (as_record) check(n == 1 && reader.issues().empty(), "a framed record reads back alone");
  } catch (const DataError& e) {
    std::fprintf(stderr, "unexpected DataError: %s\n", e.what());
    std::abort();
  }
  return 0;
}
