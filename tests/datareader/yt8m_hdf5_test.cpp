// The HDF5 feature store (datareader/yt8m_hdf5.h): C++ writes -> h5py reads, h5py writes -> C++
// reads (tests/datareader/write_yt8m_features.py), and files the reader must refuse.
#include "datareader/yt8m_hdf5.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "datareader/errors.h"
#include "tests/datareader/yt8m_fixtures.h"
#include "tests/support/temp_dir.h"

namespace vc::data {
namespace {

using vc::testing::message_of;
using vc::testing::yt8m_features;
using vc::testing::YtVideo;

TEST(Yt8mHdf5, CppWrittenFileReadsInH5py) {
  VC_REQUIRE_H5PY();
  vc::testing::TempDir dir;
  const std::string path = dir / "cpp.h5";
  const std::vector<YtVideo> videos = vc::testing::yt8m_fixture_videos();
  {
    yt8m_h5::Writer w(path, /*chunk_rows=*/16);
    for (std::size_t v = 0; v < videos.size(); ++v) {
      const auto f = yt8m_features(static_cast<int>(v), videos[v].frames);
      w.append(videos[v].id, videos[v].labels, f.rgb.data(), f.audio.data(), videos[v].frames);
    }
    w.close();
    EXPECT_EQ(w.videos(), videos.size());
  }
  // h5py prints, per video: id as hex, labels, frames, and sums / corner values of rgb and audio.
  const std::string script = dir / "dump.py";
  vc::testing::write_text(script, R"(import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["format"] == "videocls-yt8m", f.attrs["format"]
    assert int(f.attrs["version"]) == 1
    fo, lo = f["frame_offsets"][:], f["label_offsets"][:]
    assert f["rgb"].dtype == "uint8" and f["audio"].dtype == "uint8"
    for i in range(len(f["ids"])):
        rgb = f["rgb"][fo[i]:fo[i + 1]]
        audio = f["audio"][fo[i]:fo[i + 1]]
        labels = " ".join(str(int(x)) for x in f["labels"][lo[i]:lo[i + 1]])
        print(f["ids"][i].hex(), rgb.shape[0], int(rgb.sum(dtype="int64")),
              int(audio.sum(dtype="int64")), int(rgb[-1, -1]), int(audio[-1, 0]), "|", labels)
)");
  const auto r = vc::testing::run_command("/usr/bin/python3 " + script + " " + path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ostringstream want;
  for (std::size_t v = 0; v < videos.size(); ++v) {
    const auto f = yt8m_features(static_cast<int>(v), videos[v].frames);
    int64_t rs = 0, as = 0;
    for (uint8_t x : f.rgb) rs += x;
    for (uint8_t x : f.audio) as += x;
    std::string hex;
    for (unsigned char c : videos[v].id) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", c);
      hex += b;
    }
    std::string labels;
    for (std::size_t k = 0; k < videos[v].labels.size(); ++k) {
      labels += (k ? " " : "") + std::to_string(videos[v].labels[k]);
    }
    want << hex << " " << videos[v].frames << " " << rs << " " << as << " " << int(f.rgb.back())
         << " " << int(f.audio[f.audio.size() - 128]) << " | " << labels << "\n";
  }
  EXPECT_EQ(r.output, want.str());
}

void expect_fixture_videos(const std::string& path) {
  const yt8m_h5::Reader r(path);
  const std::vector<YtVideo> videos = vc::testing::yt8m_fixture_videos();
  ASSERT_EQ(r.size(), videos.size()) << path;
  for (std::size_t v = 0; v < videos.size(); ++v) {
    SCOPED_TRACE(path + " video " + std::to_string(v));
    EXPECT_EQ(r.id(v), videos[v].id);
    EXPECT_EQ(r.labels(v), videos[v].labels);
    ASSERT_EQ(r.num_frames(v), videos[v].frames);
    const auto f = yt8m_features(static_cast<int>(v), videos[v].frames);
    std::vector<uint8_t> rgb(f.rgb.size()), audio(f.audio.size());
    r.read_frames(v, 0, videos[v].frames, rgb.data(), audio.data());
    EXPECT_EQ(rgb, f.rgb);
    EXPECT_EQ(audio, f.audio);
    if (videos[v].frames > 2) {  // a middle hyperslab
      std::vector<uint8_t> r1(1024), a1(128);
      r.read_frames(v, 2, 1, r1.data(), a1.data());
      EXPECT_TRUE(std::equal(r1.begin(), r1.end(), f.rgb.begin() + 2 * 1024));
      EXPECT_TRUE(std::equal(a1.begin(), a1.end(), f.audio.begin() + 2 * 128));
    }
  }
  EXPECT_THROW(r.read_frames(0, 0, videos[0].frames + 1, nullptr, nullptr), DataError);
}

TEST(Yt8mHdf5, ReadsH5pyWrittenFiles) {
  VC_REQUIRE_H5PY();
  expect_fixture_videos(vc::testing::yt8m_fixtures() + "/h5py.h5");
  // fixed-length 'S' ids and int32 labels
  expect_fixture_videos(vc::testing::yt8m_fixtures() + "/h5py_fixed_ids.h5");
}

TEST(Yt8mHdf5, CppRoundTripWithEmptyVideoAndNoLabels) {
  vc::testing::TempDir dir;
  const std::string path = dir / "rt.h5";
  const auto f = yt8m_features(1, 5);
  {
    yt8m_h5::Writer w(path, 2);
    w.append("a", {}, nullptr, nullptr, 0);
    w.append("b", {7, 8}, f.rgb.data(), f.audio.data(), 5);
  }  // the destructor closes
  const yt8m_h5::Reader r(path);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r.num_frames(0), 0);
  EXPECT_TRUE(r.labels(0).empty());
  EXPECT_EQ(r.labels(1), (std::vector<int64_t>{7, 8}));
  std::vector<uint8_t> rgb(5 * 1024), audio(5 * 128);
  r.read_frames(1, 0, 5, rgb.data(), audio.data());
  EXPECT_EQ(rgb, f.rgb);
}

TEST(Yt8mHdf5, RefusesFilesOfAnotherLayoutNamingThem) {
  vc::testing::TempDir dir;
  const std::string text = dir / "text.h5";
  vc::testing::write_text(text, "not hdf5\n");
  std::string m = message_of([&] { yt8m_h5::Reader r(text); });
  EXPECT_NE(m.find(text), std::string::npos) << m;
  EXPECT_NE(m.find("not an HDF5 file"), std::string::npos) << m;
  const std::string missing = dir / "missing.h5";
  m = message_of([&] { yt8m_h5::Reader r(missing); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;

  if (!vc::testing::have_h5py()) {
    GTEST_SKIP() << "skipped the h5py-made bad files: /usr/bin/python3 cannot import h5py "
                    "(install python3-h5py)";
  }
  const std::string script = dir / "bad.py";
  vc::testing::write_text(script, R"(import sys, h5py, numpy as np
d = sys.argv[1]
def base(name, fmt="videocls-yt8m", skip=(), **over):
    with h5py.File(d + "/" + name, "w") as f:
        f.attrs["format"] = fmt
        f.attrs["version"] = 1
        data = dict(ids=np.array([b"a", b"b"]), labels=np.array([1, 2]),
                    label_offsets=np.array([0, 1, 2]), frame_offsets=np.array([0, 2, 3]),
                    rgb=np.zeros((3, 1024), np.uint8), audio=np.zeros((3, 128), np.uint8))
        data.update(over)
        for k, v in data.items():
            if k not in skip:
                f[k] = v
base("other_format.h5", fmt="something else")
base("unfinished.h5", skip=("frame_offsets",))
base("narrow.h5", rgb=np.zeros((3, 1000), np.uint8))
base("rows.h5", audio=np.zeros((4, 128), np.uint8))
base("decreasing.h5", frame_offsets=np.array([0, 3, 2]))
base("short_offsets.h5", label_offsets=np.array([0, 2]))
base("past_end.h5", frame_offsets=np.array([0, 2, 5]))
)");
  const auto r = vc::testing::run_command("/usr/bin/python3 " + script + " " + dir.str());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"other_format.h5", "attribute 'format' is 'something else'"},
      {"unfinished.h5", "no dataset 'frame_offsets'"},
      {"narrow.h5", "'rgb' has shape [3, 1000]"},
      {"rows.h5", "'audio' has shape [4, 128]"},
      {"decreasing.h5", "'frame_offsets' decreases at video 1"},
      {"short_offsets.h5", "'label_offsets' has 2 entries, expected 3"},
      {"past_end.h5", "'frame_offsets' ends at 5 but 'rgb' has 3 rows"},
  };
  for (const auto& c : cases) {
    const std::string p = dir / c.first;
    const std::string msg = message_of([&] { yt8m_h5::Reader rd(p); });
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.second), std::string::npos) << c.first << ": " << msg;
  }
}

}  // namespace
}  // namespace vc::data
