// TFRecord framing: CRC-32C against the standard vectors and between its two implementations,
// the masked CRC against tests/support/tfrecord_py.py (an independent Python implementation),
// writer/reader round trip, and each corruption (bad length CRC, bad data CRC, truncated last
// record) reported with file, record index and byte offset while the rest of the file is read.
#include "datareader/tfrecord.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>
#include <sstream>

#include "datareader/errors.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace vc::data::tfrecord;
using vc::testing::read_text;
using vc::testing::run_command;
using vc::testing::TempDir;
using vc::testing::write_text;

uint32_t crc_of(const std::string& s) { return crc32c(s.data(), s.size()); }

TEST(Crc32c, StandardVectors) {
  // RFC 3720 (iSCSI) B.4 and the common check value.
  const std::string zeros(32, '\0'), ones(32, '\xff');
  std::string ascending(32, '\0'), descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  for (auto fn : {&crc32c, &crc32c_portable}) {
    EXPECT_EQ(fn("123456789", 9, 0), 0xE3069283u);
    EXPECT_EQ(fn(zeros.data(), 32, 0), 0x8A9136AAu);
    EXPECT_EQ(fn(ones.data(), 32, 0), 0x62A8AB43u);
    EXPECT_EQ(fn(ascending.data(), 32, 0), 0x46DD794Eu);
    EXPECT_EQ(fn(descending.data(), 32, 0), 0x113FDB5Cu);
    EXPECT_EQ(fn("", 0, 0), 0u);
    // Continuing a CRC equals one pass over the whole.
    EXPECT_EQ(fn("6789", 4, fn("12345", 5, 0)), 0xE3069283u);
  }
}

TEST(Crc32c, DispatchedEqualsTableOnAllLengthsAndOffsets) {
  std::mt19937 g(7);
  std::vector<unsigned char> buf(300 + 16);
  for (auto& b : buf) b = static_cast<unsigned char>(g());
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t n = 0; n <= 300; ++n) {
      const uint32_t seed = g();
      ASSERT_EQ(crc32c(buf.data() + offset, n, seed), crc32c_portable(buf.data() + offset, n, seed))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32c, MaskedMatchesAnIndependentPythonImplementation) {
  if (std::system("/usr/bin/python3 -c '' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 not available";
  TempDir dir("tfrecord_crc");
  std::mt19937 g(11);
  std::vector<std::string> files;
  std::string expected;
  for (std::size_t n : {0, 1, 8, 13, 1000, 4096}) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(g());
    const std::string f = dir / ("blob" + std::to_string(n));
    write_text(f, s);
    files.push_back(f);
    char line[32];
    std::snprintf(line, sizeof line, "%08x %08x\n", crc_of(s), mask_crc(crc_of(s)));
    expected += line;
  }
  std::string cmd = "/usr/bin/python3 " VC_SOURCE_DIR "/tests/datareader/yt8m_dump.py masked-crc";
  for (const auto& f : files) cmd += " " + f;
  auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, expected);
  // TensorFlow's own example of the mask: masked(0) = 0xa282ead8.
  EXPECT_EQ(mask_crc(0), 0xa282ead8u);
}

std::vector<std::string> sample_records() {
  std::vector<std::string> recs = {"", "a", std::string(1, '\0'), "hello tfrecord"};
  std::mt19937 g(3);
  for (std::size_t n : {100, 5000, 70000}) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(g());
    recs.push_back(s);
  }
  return recs;
}

void write_records(const std::string& path, const std::vector<std::string>& recs) {
  RecordWriter w(path);
  for (const auto& r : recs) w.write(r);
  w.flush();
}

// Byte offset of each record's header in a file of `recs`.
std::vector<std::size_t> offsets_of(const std::vector<std::string>& recs) {
  std::vector<std::size_t> out;
  std::size_t at = 0;
  for (const auto& r : recs) {
    out.push_back(at);
    at += 12 + r.size() + 4;
  }
  return out;
}

struct ReadAll {
  std::vector<std::string> records;
  std::vector<std::size_t> indices;
  std::vector<RecordIssue> issues;
};

ReadAll read_all(const std::string& path) {
  RecordReader reader(path);
  ReadAll out;
  std::string rec;
  std::size_t idx = 0;
  while (reader.next(&rec, &idx)) {
    out.records.push_back(rec);
    out.indices.push_back(idx);
  }
  EXPECT_FALSE(reader.next(&rec, &idx));  // stays at the end
  out.issues = reader.issues();
  return out;
}

TEST(TfRecord, RoundTrip) {
  TempDir dir("tfrecord");
  const auto recs = sample_records();
  const std::string path = dir / "a.tfrecord";
  write_records(path, recs);
  EXPECT_EQ(read_text(path).size(), offsets_of(recs).back() + 16 + recs.back().size());
  const ReadAll got = read_all(path);
  EXPECT_TRUE(got.issues.empty());
  ASSERT_EQ(got.records.size(), recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(got.records[i], recs[i]) << i;
    EXPECT_EQ(got.indices[i], i);
  }
  // The framing byte by byte: little-endian length, masked CRCs.
  const std::string bytes = read_text(path);
  const std::string& r3 = recs[3];
  const std::size_t at = offsets_of(recs)[3];
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(bytes[at + i]);
  EXPECT_EQ(len, r3.size());
  auto le32 = [&](std::size_t p) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[p])) |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[p + 1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[p + 2])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[p + 3])) << 24;
  };
  EXPECT_EQ(le32(at + 8), mask_crc(crc32c(bytes.data() + at, 8)));
  EXPECT_EQ(le32(at + 12 + r3.size()), mask_crc(crc_of(r3)));
  EXPECT_EQ(bytes.substr(at + 12, r3.size()), r3);
}

TEST(TfRecord, EmptyFileHasNoRecordsAndNoIssues) {
  TempDir dir("tfrecord");
  write_text(dir / "empty.tfrecord", "");
  const ReadAll got = read_all(dir / "empty.tfrecord");
  EXPECT_TRUE(got.records.empty());
  EXPECT_TRUE(got.issues.empty());
}

TEST(TfRecord, MissingFileThrowsNamingIt) {
  const std::string m = vc::testing::message_of([] { RecordReader r("/no/such/file.tfrecord"); });
  EXPECT_NE(m.find("/no/such/file.tfrecord"), std::string::npos) << m;
  EXPECT_THROW(RecordReader("/no/such/file.tfrecord"), vc::data::DataError);
  EXPECT_THROW(RecordWriter("/no/such/dir/out.tfrecord"), vc::data::DataError);
}

void expect_issue(const RecordIssue& is, const std::string& path, std::size_t index,
                  uint64_t offset, const std::string& reason) {
  EXPECT_EQ(is.record_index, index);
  EXPECT_EQ(is.offset, offset);
  EXPECT_EQ(is.reason, reason);
  const std::string head = path + ": record " + std::to_string(index) + " at byte " +
                           std::to_string(offset) + ": " + reason;
  EXPECT_EQ(is.detail.rfind(head, 0), 0u) << is.detail << "\nexpected to start with " << head;
}

// Writes `recs`, lets `corrupt` edit the bytes, and reads the result back.
ReadAll corrupted(const TempDir& dir, const std::string& name, const std::vector<std::string>& recs,
                  const std::function<void(std::string&)>& corrupt) {
  const std::string path = dir / name;
  write_records(path, recs);
  std::string bytes = read_text(path);
  corrupt(bytes);
  write_text(path, bytes);
  return read_all(path);
}

TEST(TfRecord, BadDataCrcIsReportedAndSkipped) {
  TempDir dir("tfrecord");
  const auto recs = sample_records();
  const auto offs = offsets_of(recs);
  // Flip a data byte of record 5 (5000 bytes) and the stored data CRC of record 2.
  const ReadAll got = corrupted(dir, "bad_data.tfrecord", recs, [&](std::string& b) {
    b[offs[5] + 12 + 100] ^= 0x01;
    b[offs[2] + 12 + recs[2].size()] ^= 0x80;
  });
  ASSERT_EQ(got.issues.size(), 2u);
  expect_issue(got.issues[0], dir / "bad_data.tfrecord", 2, offs[2], "bad data crc");
  expect_issue(got.issues[1], dir / "bad_data.tfrecord", 5, offs[5], "bad data crc");
  EXPECT_EQ(got.indices, (std::vector<std::size_t>{0, 1, 3, 4, 6}));
  for (std::size_t k = 0; k < got.indices.size(); ++k)
    EXPECT_EQ(got.records[k], recs[got.indices[k]]);
}

TEST(TfRecord, BadLengthCrcResynchronisesOnTheNextRecord) {
  TempDir dir("tfrecord");
  const auto recs = sample_records();
  const auto offs = offsets_of(recs);
  // A flipped length byte of record 4 (its CRC then fails): the reader scans forward and finds
  // record 5's header.
  const ReadAll got =
      corrupted(dir, "bad_len.tfrecord", recs, [&](std::string& b) { b[offs[4] + 1] ^= 0x10; });
  ASSERT_EQ(got.issues.size(), 1u);
  expect_issue(got.issues[0], dir / "bad_len.tfrecord", 4, offs[4], "bad length crc");
  EXPECT_NE(got.issues[0].detail.find("resynchronised at byte " + std::to_string(offs[5])),
            std::string::npos)
      << got.issues[0].detail;
  EXPECT_EQ(got.indices, (std::vector<std::size_t>{0, 1, 2, 3, 5, 6}));
  for (std::size_t k = 0; k < got.indices.size(); ++k)
    EXPECT_EQ(got.records[k], recs[got.indices[k]]);

  // The length CRC itself damaged on the first record: records 1.. are still read.
  const ReadAll first =
      corrupted(dir, "bad_len0.tfrecord", recs, [&](std::string& b) { b[offs[0] + 9] ^= 0xff; });
  ASSERT_EQ(first.issues.size(), 1u);
  expect_issue(first.issues[0], dir / "bad_len0.tfrecord", 0, 0, "bad length crc");
  EXPECT_EQ(first.records.size(), recs.size() - 1);
  EXPECT_EQ(first.records.front(), recs[1]);

  // A bad length CRC in the last record: nothing to resynchronise on, the file ends.
  const ReadAll last = corrupted(dir, "bad_len_last.tfrecord", recs,
                                 [&](std::string& b) { b[offs.back() + 3] ^= 0x01; });
  ASSERT_EQ(last.issues.size(), 1u);
  expect_issue(last.issues[0], dir / "bad_len_last.tfrecord", recs.size() - 1, offs.back(),
               "bad length crc");
  EXPECT_NE(last.issues[0].detail.find("no good header after it"), std::string::npos);
  EXPECT_EQ(last.records.size(), recs.size() - 1);
}

TEST(TfRecord, ResynchronisationSkipsHeadersWhoseRecordDoesNotFit) {
  TempDir dir("tfrecord");
  // Record 0's data holds a well-formed header claiming 1 MB; after record 0's length is
  // damaged the scan meets it first but must pass over it (it does not fit in the file) to
  // record 1.
  std::string fake(12, '\0');
  const uint64_t big = 1 << 20;
  for (int i = 0; i < 8; ++i) fake[i] = static_cast<char>(big >> (8 * i));
  const uint32_t m = mask_crc(crc32c(fake.data(), 8));
  for (int i = 0; i < 4; ++i) fake[8 + i] = static_cast<char>(m >> (8 * i));
  const std::vector<std::string> recs = {"xx" + fake + "yy", "second", "third"};
  const auto offs = offsets_of(recs);
  const ReadAll got =
      corrupted(dir, "fake_header.tfrecord", recs, [&](std::string& b) { b[offs[0]] ^= 0x04; });
  ASSERT_EQ(got.issues.size(), 1u);
  EXPECT_NE(got.issues[0].detail.find("resynchronised at byte " + std::to_string(offs[1])),
            std::string::npos)
      << got.issues[0].detail;
  EXPECT_EQ(got.records, (std::vector<std::string>{"second", "third"}));
  EXPECT_EQ(got.indices, (std::vector<std::size_t>{1, 2}));
}

TEST(TfRecord, TruncatedLastRecordIsReportedAndEndsTheFile) {
  TempDir dir("tfrecord");
  const auto recs = sample_records();
  const auto offs = offsets_of(recs);
  const std::string path = dir / "trunc.tfrecord";
  write_records(path, recs);
  const std::string full = read_text(path);
  // Cut inside the last record's data, inside its footer, and inside its header.
  for (std::size_t cut : {offs.back() + 12 + 1000, full.size() - 2, offs.back() + 5}) {
    write_text(path, full.substr(0, cut));
    const ReadAll got = read_all(path);
    ASSERT_EQ(got.issues.size(), 1u) << cut;
    expect_issue(got.issues[0], path, recs.size() - 1, offs.back(), "truncated record");
    ASSERT_EQ(got.records.size(), recs.size() - 1) << cut;
    for (std::size_t i = 0; i + 1 < recs.size(); ++i) EXPECT_EQ(got.records[i], recs[i]);
  }
}

}  // namespace
