// YouTube-8M records: the real video-level shards in ../shared/data/yt8m against an independent
// Python parse (tests/datareader/yt8m_dump.py: its own framing + python3-protobuf), frame-level
// SequenceExamples through our writer and parser and through the Python parser, and every bad
// record (not a message, missing feature, wrong kind, wrong size) reported with a clear reason;
// with the framing errors, each is named by file and record index and the rest is still read.
#include "datareader/yt8m_example.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "datareader/tfrecord.h"
#include "tensorflow/example.pb.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using namespace vc::data;
using vc::testing::read_text;
using vc::testing::run_command;
using vc::testing::TempDir;
using vc::testing::write_text;

constexpr int kSkipCode = 77;  // yt8m_dump.py: python3-protobuf / protoc missing
const std::string kDump = "/usr/bin/python3 " VC_SOURCE_DIR "/tests/datareader/yt8m_dump.py";

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string hex(const std::vector<uint8_t>& v) { return hex(std::string(v.begin(), v.end())); }

// Runs yt8m_dump.py dump on `files`: one JSON object per record. Skips the test (returns false)
// when Python's protobuf is missing.
bool python_dump(const std::vector<std::string>& files, std::vector<nlohmann::json>* out,
                 std::string* skip_message) {
  std::string cmd = kDump + " dump";
  for (const auto& f : files) cmd += " '" + f + "'";
  auto r = run_command(cmd);
  if (r.exit_code == kSkipCode) {
    *skip_message = r.output;
    return false;
  }
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out->push_back(nlohmann::json::parse(line));
  return true;
}

TEST(Yt8mRealShards, EveryRecordMatchesAnIndependentPythonParse) {
  const fs::path dir = fs::path(VC_SOURCE_DIR) / ".." / "shared" / "data" / "yt8m";
  std::vector<std::string> shards;
  for (const char* n : {"validate0065.tfrecord", "validate0067.tfrecord", "validate0076.tfrecord"})
    shards.push_back((dir / n).string());
  for (const auto& s : shards)
    if (!fs::exists(s)) GTEST_SKIP() << "real YouTube-8M shard not found: " << s;
  std::vector<nlohmann::json> ref;
  std::string skip;
  if (!python_dump(shards, &ref, &skip)) GTEST_SKIP() << skip;

  std::size_t n = 0;
  for (const auto& shard : shards) {
    tfrecord::RecordReader reader(shard);
    std::string bytes;
    std::size_t index = 0;
    while (reader.next(&bytes, &index)) {
      ASSERT_LT(n, ref.size());
      const nlohmann::json& j = ref[n++];
      SCOPED_TRACE(shard + " record " + std::to_string(index));
      ASSERT_EQ(j["file"].get<std::string>(), shard);
      ASSERT_EQ(j["index"].get<std::size_t>(), index);
      ASSERT_EQ(yt8m::detect_level(bytes), yt8m::Level::kVideo);
      ASSERT_EQ(j["level"], "video");
      const yt8m::VideoRecord v = yt8m::parse(bytes, yt8m::Level::kVideo);
      EXPECT_FALSE(v.frame_level());
      EXPECT_EQ(hex(v.id), j["id_hex"].get<std::string>());
      EXPECT_EQ(v.labels, j["labels"].get<std::vector<int64_t>>());
      ASSERT_EQ(v.mean_rgb.size(), 1024u);
      ASSERT_EQ(v.mean_audio.size(), 128u);
      EXPECT_EQ(j["mean_rgb_len"], 1024);
      EXPECT_EQ(j["mean_audio_len"], 128);
      const int rgb_picks[] = {0, 1, 511, 1023}, audio_picks[] = {0, 64, 127};
      for (int k = 0; k < 4; ++k)  // float32 printed by Python as a double: exact
        EXPECT_EQ(static_cast<double>(v.mean_rgb[rgb_picks[k]]),
                  j["mean_rgb_picks"][k].get<double>());
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(static_cast<double>(v.mean_audio[audio_picks[k]]),
                  j["mean_audio_picks"][k].get<double>());
      double sum = 0.0;
      for (float x : v.mean_rgb) sum += x;
      EXPECT_EQ(sum, j["mean_rgb_sum"].get<double>());
    }
    EXPECT_TRUE(reader.issues().empty()) << reader.issues().front().detail;
  }
  EXPECT_EQ(n, ref.size());
  EXPECT_EQ(n, 746u);  // the shards' README: 746 records in all
}

yt8m::VideoRecord frame_record(const std::string& id, std::vector<int64_t> labels, int64_t frames,
                               unsigned seed) {
  std::mt19937 g(seed);
  yt8m::VideoRecord v;
  v.id = id;
  v.labels = std::move(labels);
  v.num_frames = frames;
  v.rgb.resize(static_cast<std::size_t>(frames * 1024));
  v.audio.resize(static_cast<std::size_t>(frames * 128));
  for (auto& b : v.rgb) b = static_cast<uint8_t>(g());
  for (auto& b : v.audio) b = static_cast<uint8_t>(g());
  return v;
}

yt8m::VideoRecord video_record(const std::string& id, std::vector<int64_t> labels, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  yt8m::VideoRecord v;
  v.id = id;
  v.labels = std::move(labels);
  v.mean_rgb.resize(1024);
  v.mean_audio.resize(128);
  for (auto& x : v.mean_rgb) x = d(g);
  for (auto& x : v.mean_audio) x = d(g);
  return v;
}

void expect_same(const yt8m::VideoRecord& a, const yt8m::VideoRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.num_frames, b.num_frames);
  EXPECT_EQ(a.rgb, b.rgb);
  EXPECT_EQ(a.audio, b.audio);
  EXPECT_EQ(a.mean_rgb, b.mean_rgb);
  EXPECT_EQ(a.mean_audio, b.mean_audio);
}

std::vector<yt8m::VideoRecord> frame_records() {
  return {frame_record("vid0", {3, 17, 3861}, 5, 1), frame_record("v1", {}, 1, 2),
          frame_record("empty", {42}, 0, 3), frame_record(std::string("a\0b\xff", 4), {0}, 300, 4)};
}

TEST(Yt8mRecords, FrameAndVideoLevelRoundTripThroughTheWriter) {
  TempDir dir("yt8m");
  const auto frames = frame_records();
  const std::vector<yt8m::VideoRecord> videos = {video_record("abcd", {1, 2}, 5),
                                                 video_record("", {}, 6)};
  const std::string path = dir / "mixed.tfrecord";
  {
    tfrecord::RecordWriter w(path);
    for (const auto& v : frames) w.write(yt8m::serialize(v));
    for (const auto& v : videos) w.write(yt8m::serialize(v));
  }
  tfrecord::RecordReader reader(path);
  std::string bytes;
  std::size_t i = 0;
  while (reader.next(&bytes)) {
    SCOPED_TRACE(i);
    if (i < frames.size()) {
      ASSERT_EQ(yt8m::detect_level(bytes), yt8m::Level::kFrame);
      const auto v = yt8m::parse(bytes, yt8m::Level::kFrame);
      EXPECT_TRUE(v.frame_level());
      expect_same(v, frames[i]);
    } else {
      ASSERT_EQ(yt8m::detect_level(bytes), yt8m::Level::kVideo);
      expect_same(yt8m::parse(bytes, yt8m::Level::kVideo), videos[i - frames.size()]);
    }
    ++i;
  }
  EXPECT_EQ(i, frames.size() + videos.size());
  EXPECT_TRUE(reader.issues().empty());
}

TEST(Yt8mRecords, PythonParsesOurFrameLevelFile) {
  TempDir dir("yt8m");
  const auto frames = frame_records();
  const std::string path = dir / "frames.tfrecord";
  {
    tfrecord::RecordWriter w(path);
    for (const auto& v : frames) w.write(yt8m::serialize(v));
  }
  std::vector<nlohmann::json> ref;
  std::string skip;
  if (!python_dump({path}, &ref, &skip)) GTEST_SKIP() << skip;
  ASSERT_EQ(ref.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ref[i]["level"], "frame");
    EXPECT_EQ(ref[i]["id_hex"].get<std::string>(), hex(frames[i].id));
    EXPECT_EQ(ref[i]["labels"].get<std::vector<int64_t>>(), frames[i].labels);
    EXPECT_EQ(ref[i]["num_frames"].get<int64_t>(), frames[i].num_frames);
    EXPECT_EQ(ref[i]["rgb_hex"].get<std::string>(), hex(frames[i].rgb));
    EXPECT_EQ(ref[i]["audio_hex"].get<std::string>(), hex(frames[i].audio));
  }
}

// A good message of either level, built with the generated classes so that tests can break it.
tensorflow::Example good_example() {
  tensorflow::Example ex;
  auto& f = *ex.mutable_features()->mutable_feature();
  f["id"].mutable_bytes_list()->add_value("vid");
  f["labels"].mutable_int64_list()->add_value(7);
  for (int i = 0; i < 1024; ++i) f["mean_rgb"].mutable_float_list()->add_value(0.5f);
  for (int i = 0; i < 128; ++i) f["mean_audio"].mutable_float_list()->add_value(-0.5f);
  return ex;
}

tensorflow::SequenceExample good_sequence(int frames) {
  tensorflow::SequenceExample seq;
  auto& c = *seq.mutable_context()->mutable_feature();
  c["id"].mutable_bytes_list()->add_value("vid");
  c["labels"].mutable_int64_list()->add_value(7);
  auto& lists = *seq.mutable_feature_lists()->mutable_feature_list();
  lists["rgb"];  // present, even with zero frames
  lists["audio"];
  for (int t = 0; t < frames; ++t) {
    lists["rgb"].add_feature()->mutable_bytes_list()->add_value(std::string(1024, 'r'));
    lists["audio"].add_feature()->mutable_bytes_list()->add_value(std::string(128, 'a'));
  }
  return seq;
}

std::string reason_of(const google::protobuf::Message& m, yt8m::Level level) {
  try {
    yt8m::parse(m.SerializeAsString(), level);
  } catch (const yt8m::RecordError& e) {
    return e.what();
  }
  return "<no RecordError>";
}

std::string reason_of(const std::string& bytes, yt8m::Level level) {
  try {
    yt8m::parse(bytes, level);
  } catch (const yt8m::RecordError& e) {
    return e.what();
  }
  return "<no RecordError>";
}

TEST(Yt8mRecords, BadVideoLevelRecordsGiveAShortClearReason) {
  using yt8m::Level;
  const std::string not_proto(
      "\x0a\x05"
      "ab",
      4);  // field 1 claims 5 bytes, 2 follow
  EXPECT_EQ(reason_of(not_proto, Level::kVideo), "not a tf.train.Example");
  EXPECT_THROW(yt8m::detect_level(not_proto), yt8m::RecordError);
  EXPECT_THROW(yt8m::detect_level(std::string("\x07", 1)), yt8m::RecordError);  // wire type 7
  EXPECT_EQ(reason_of(good_example(), Level::kVideo), "<no RecordError>");
  EXPECT_EQ(reason_of(tensorflow::Example(), Level::kVideo), "feature 'id' missing");

  auto ex = good_example();
  ex.mutable_features()->mutable_feature()->erase("mean_rgb");
  EXPECT_EQ(reason_of(ex, Level::kVideo), "feature 'mean_rgb' missing");
  ex = good_example();
  (*ex.mutable_features()->mutable_feature())["mean_audio"].mutable_float_list()->add_value(1);
  EXPECT_EQ(reason_of(ex, Level::kVideo),
            "float feature 'mean_audio' has 129 values, expected 128");
  ex = good_example();
  (*ex.mutable_features()->mutable_feature())["mean_rgb"].mutable_int64_list()->add_value(1);
  EXPECT_EQ(reason_of(ex, Level::kVideo), "feature 'mean_rgb' is not a float list");
  ex = good_example();
  (*ex.mutable_features()->mutable_feature())["labels"].mutable_float_list()->add_value(1);
  EXPECT_EQ(reason_of(ex, Level::kVideo), "feature 'labels' is not an int64 list");
  ex = good_example();
  (*ex.mutable_features()->mutable_feature())["id"].mutable_bytes_list()->add_value("two");
  EXPECT_EQ(reason_of(ex, Level::kVideo), "feature 'id' has 2 values, expected 1");
  // No 'labels' at all: an unlabelled video (the test split), not an error.
  ex = good_example();
  ex.mutable_features()->mutable_feature()->erase("labels");
  EXPECT_TRUE(yt8m::parse(ex.SerializeAsString(), Level::kVideo).labels.empty());

  EXPECT_EQ(reason_of(good_sequence(2), Level::kVideo),
            "a tf.train.SequenceExample (frame level), expected a tf.train.Example (video level)");
  // serialize refuses what it cannot write faithfully.
  auto v = video_record("id", {1}, 1);
  v.mean_audio.pop_back();
  EXPECT_THROW(yt8m::serialize(v), yt8m::RecordError);
}

TEST(Yt8mRecords, BadFrameLevelRecordsGiveAShortClearReason) {
  using yt8m::Level;
  EXPECT_EQ(reason_of(std::string("\x12\x09", 2), Level::kFrame), "not a tf.train.SequenceExample");
  EXPECT_EQ(reason_of(good_sequence(3), Level::kFrame), "<no RecordError>");
  EXPECT_EQ(reason_of(good_example(), Level::kFrame),
            "no feature lists: not a frame-level tf.train.SequenceExample (a video-level "
            "tf.train.Example?)");
  auto seq = good_sequence(3);
  seq.mutable_feature_lists()->mutable_feature_list()->erase("audio");
  EXPECT_EQ(reason_of(seq, Level::kFrame), "feature list 'audio' missing");
  seq = good_sequence(3);
  seq.mutable_context()->mutable_feature()->erase("id");
  EXPECT_EQ(reason_of(seq, Level::kFrame), "feature 'id' missing");
  seq = good_sequence(3);
  auto& lists = *seq.mutable_feature_lists()->mutable_feature_list();
  lists["audio"].mutable_feature(2)->mutable_bytes_list()->set_value(0, std::string(100, 'a'));
  EXPECT_EQ(reason_of(seq, Level::kFrame), "frame 2 of 'audio' has 100 bytes, expected 128");
  seq = good_sequence(3);
  (*seq.mutable_feature_lists()->mutable_feature_list())["rgb"]
      .add_feature()
      ->mutable_bytes_list()
      ->add_value(std::string(1024, 'r'));
  EXPECT_EQ(reason_of(seq, Level::kFrame), "'rgb' has 4 frames, 'audio' has 3");
  seq = good_sequence(3);
  (*seq.mutable_feature_lists()->mutable_feature_list())["rgb"]
      .mutable_feature(1)
      ->mutable_float_list()
      ->add_value(1);
  EXPECT_EQ(reason_of(seq, Level::kFrame), "frame 1 of 'rgb' is not one bytes value");
  // Zero frames parse (whether a video without frames is usable is the dataset's call).
  EXPECT_EQ(yt8m::parse(good_sequence(0).SerializeAsString(), Level::kFrame).num_frames, 0);
}

// What a feature reader does with a shard: RecordReader + detect_level + parse, each problem
// named by file and record index, the good records all read.
TEST(Yt8mRecords, BadRecordsInAShardAreNamedByFileAndIndexAndTheRestIsRead) {
  TempDir dir("yt8m");
  const std::string path = dir / "bad.tfrecord";
  std::vector<std::string> records;
  records.push_back(yt8m::serialize(frame_record("good0", {1}, 2, 1)));  // 0 ok
  records.push_back(
      std::string("\x0a\x05"
                  "ab",
                  4));  // 1 not a msg
  auto missing = good_sequence(2);
  missing.mutable_feature_lists()->mutable_feature_list()->erase("rgb");
  records.push_back(missing.SerializeAsString());  // 2 missing
  auto small = good_sequence(2);
  (*small.mutable_feature_lists()->mutable_feature_list())["rgb"]
      .mutable_feature(1)
      ->mutable_bytes_list()
      ->set_value(0, "short");
  records.push_back(small.SerializeAsString());                          // 3 size
  records.push_back(yt8m::serialize(frame_record("good4", {2}, 1, 2)));  // 4 bad crc
  records.push_back(yt8m::serialize(frame_record("good5", {3}, 3, 3)));  // 5 ok
  records.push_back(yt8m::serialize(frame_record("good6", {4}, 1, 4)));  // 6 truncated
  {
    tfrecord::RecordWriter w(path);
    for (const auto& r : records) w.write(r);
  }
  std::string bytes = read_text(path);
  std::size_t off4 = 0;
  for (int i = 0; i < 4; ++i) off4 += 16 + records[i].size();
  bytes[off4 + 12 + 40] ^= 0x20;                         // record 4: bad data crc
  write_text(path, bytes.substr(0, bytes.size() - 10));  // record 6: cut

  std::vector<std::string> ids, problems;
  tfrecord::RecordReader reader(path);
  std::string rec;
  std::size_t index = 0;
  while (reader.next(&rec, &index)) {
    try {
      ids.push_back(yt8m::parse(rec, yt8m::detect_level(rec)).id);
    } catch (const yt8m::RecordError& e) {
      problems.push_back(path + ": record " + std::to_string(index) + ": " + e.what());
    }
  }
  for (const auto& is : reader.issues()) problems.push_back(is.detail);
  EXPECT_EQ(ids, (std::vector<std::string>{"good0", "good5"}));
  ASSERT_EQ(problems.size(), 5u);
  const std::string p = path + ": record ";
  EXPECT_EQ(problems[0], p + "1: neither a tf.train.Example nor a tf.train.SequenceExample");
  EXPECT_EQ(problems[1], p + "2: feature list 'rgb' missing");
  EXPECT_EQ(problems[2], p + "3: frame 1 of 'rgb' has 5 bytes, expected 1024");
  EXPECT_EQ(problems[3].rfind(p + "4 at byte " + std::to_string(off4) + ": bad data crc", 0), 0u)
      << problems[3];
  EXPECT_NE(problems[4].find(p + "6 at byte "), std::string::npos) << problems[4];
  EXPECT_NE(problems[4].find("truncated record"), std::string::npos) << problems[4];
}

}  // namespace
