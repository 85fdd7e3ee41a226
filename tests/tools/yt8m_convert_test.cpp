// build/bin/yt8m_convert end to end: TFRecord and pkl inputs -> HDF5 shards that the feature
// reader (and h5py) read back with the same videos; skipped records counted by reason; exit 1
// when nothing could be converted (the real shards are video level).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "datareader/feature_reader.h"
#include "datareader/tfrecord.h"
#include "datareader/yt8m_hdf5.h"
#include "tests/datareader/yt8m_fixtures.h"
#include "tests/support/temp_dir.h"

namespace vc::data {
namespace {

const std::string kBin = std::string(VC_BINARY_DIR) + "/bin/yt8m_convert";

vc::testing::CommandResult convert(const std::string& args) {
  return vc::testing::run_command("'" + kBin + "' " + args + " 2>&1");
}

std::string write_list(const vc::testing::TempDir& dir, const std::string& name,
                       const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  vc::testing::write_text(dir / name, text);
  return dir / name;
}

FeatureReaderOptions raw() {
  FeatureReaderOptions o;
  o.phase = Phase::kTest;
  o.dequantize = false;
  return o;
}

void expect_same_samples(const FeatureDataset& a, const FeatureDataset& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Sample x = a.get(i, 3), y = b.get(i, 3);
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.target.classes, y.target.classes);
    EXPECT_TRUE(x.inputs.at("rgb").equal(y.inputs.at("rgb"))) << x.id;
    EXPECT_TRUE(x.inputs.at("audio").equal(y.inputs.at("audio"))) << x.id;
  }
}

TEST(Yt8mConvert, TFRecordAndPklToHdf5) {
  VC_REQUIRE_YT8M_FIXTURES();
  vc::testing::TempDir dir;
  // A TFRecord shard: the fixture videos, then a video-level record and a truncated tail.
  const std::string tfr = dir / "mixed.tfrecord";
  const auto videos = vc::testing::yt8m_fixture_videos();
  {
    tfrecord::RecordWriter w(tfr);
    for (std::size_t v = 0; v < videos.size(); ++v) {
      const auto f = vc::testing::yt8m_features(static_cast<int>(v), videos[v].frames);
      w.write(vc::testing::sequence_example(videos[v].id, videos[v].labels, f, videos[v].frames));
    }
    w.write(vc::testing::video_example("vl", {1}, std::vector<float>(1024, 0.5f),
                                       std::vector<float>(128, 0.25f)));
    w.write(vc::testing::sequence_example("tail", {1}, vc::testing::yt8m_features(0, 2), 2));
  }
  std::string bytes = vc::testing::read_text(tfr);
  bytes.resize(bytes.size() - 30);
  vc::testing::write_text(tfr, bytes);
  const std::string pkl = vc::testing::yt8m_fixtures() + "/bad_entries.pkl";

  const auto r = convert("--out '" + (dir / "h5") + "' '" + tfr + "' '" + pkl + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("converted 7 videos"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("video-level record: 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pkl entry wrong dtype: 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("zero frames: 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[2/2]"), std::string::npos) << r.output;  // progress
  ASSERT_TRUE(std::filesystem::exists(dir / "h5/mixed.h5"));
  ASSERT_TRUE(std::filesystem::exists(dir / "h5/bad_entries.h5"));

  // 4 frame-level videos of the TFRecord + 3 of the pkl (its label out of range is copied as
  // stored: range checks are the reader's, which skips it from both). The reader sees the same
  // videos in the HDF5 shards as in the inputs.
  const FeatureDataset from_tfr(write_list(dir, "a", {tfr}), raw());
  const FeatureDataset from_h5(write_list(dir, "b", {dir / "h5/mixed.h5"}), raw());
  ASSERT_EQ(from_h5.size(), videos.size());
  // from_tfr also holds the video-level record, as one frame: compare the frame-level ones
  ASSERT_EQ(from_tfr.size(), videos.size() + 1);
  for (std::size_t i = 0; i < videos.size(); ++i) {
    EXPECT_TRUE(from_tfr.get(i, 0).inputs.at("rgb").equal(from_h5.get(i, 0).inputs.at("rgb")));
    EXPECT_TRUE(from_tfr.get(i, 0).inputs.at("audio").equal(from_h5.get(i, 0).inputs.at("audio")));
  }
  expect_same_samples(FeatureDataset(write_list(dir, "c", {pkl}), raw()),
                      FeatureDataset(write_list(dir, "d", {dir / "h5/bad_entries.h5"}), raw()));

  // --videos-per-shard packs across inputs
  const auto p = convert("--quiet --videos-per-shard 4 --out '" + (dir / "packed") + "' '" + tfr +
                         "' '" + pkl + "'");
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_EQ(yt8m_h5::Reader(dir / "packed/shard-00000.h5").size(), 4u);
  EXPECT_EQ(yt8m_h5::Reader(dir / "packed/shard-00001.h5").size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(dir / "packed/shard-00002.h5"));
}

TEST(Yt8mConvert, NothingConvertibleExitsNonZero) {
  vc::testing::TempDir dir;
  const std::string tfr = dir / "video_level.tfrecord";
  {
    tfrecord::RecordWriter w(tfr);
    w.write(vc::testing::video_example("vl", {1}, std::vector<float>(1024, 0.f),
                                       std::vector<float>(128, 0.f)));
  }
  const auto r =
      convert("--out '" + (dir / "o") + "' '" + tfr + "' '" + (dir / "missing.pkl") + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nothing could be converted"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("video-level"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing.pkl"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o/video_level.h5"));  // no empty shard left
  EXPECT_EQ(convert("--out x").exit_code, 2);                       // no input
}

TEST(Yt8mConvert, H5pyReadsConvertedShard) {
  VC_REQUIRE_H5PY();
  vc::testing::TempDir dir;
  const auto r =
      convert("--out '" + dir.str() + "' '" + vc::testing::yt8m_fixtures() + "/py2.pkl'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto py = vc::testing::run_command(
      "/usr/bin/python3 -c \"import h5py, sys; f = h5py.File(sys.argv[1]); fo = "
      "f['frame_offsets'][:]; "
      "print(list(f['ids'][:]), fo.tolist(), f['rgb'][fo[1]:fo[2]].shape, int(f['rgb'][fo[3] + 2, "
      "5]))\" '" +
      (dir / "py2.h5") + "'");
  ASSERT_EQ(py.exit_code, 0) << py.output;
  // nframes of the 320-frame video is 300 (tf2pkl.py), frame 2 of video 3: (3*37 + 22 + 15) % 256
  EXPECT_EQ(py.output,
            "[b'Aa01', b'Bb\\xff2', b'Cc03', b'Dd04'] [0, 7, 307, 308, 348] (300, 1024) 148\n");
}

}  // namespace
}  // namespace vc::data
