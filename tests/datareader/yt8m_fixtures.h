// Fixtures of the YouTube-8M feature tests: the videos of tests/datareader/write_yt8m_features.py
// (its VIDEOS and features(v)), the files it writes (made once per build tree and script version
// under VC_BINARY_DIR/tests/datareader/), and a hand-made protobuf encoder of tf.train.Example /
// SequenceExample records, independent of the parser under test (yt8m_example.cpp).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/script_output.h"
#include "tests/tools/paddle_fixtures.h"  // have_numpy

namespace vc::testing {

struct YtVideo {
  std::string id;
  std::vector<int64_t> labels;
  int64_t frames = 0;
};

/// write_yt8m_features.py's VIDEOS.
inline std::vector<YtVideo> yt8m_fixture_videos() {
  return {{"Aa01", {0, 5, 3861}, 7},
          {"Bb\xff"
           "2",
           {12},
           320},
          {"Cc03", {}, 1},
          {"Dd04", {100, 101}, 40}};
}

struct YtFeatures {
  std::vector<uint8_t> rgb;    // frames x 1024
  std::vector<uint8_t> audio;  // frames x 128
};

/// write_yt8m_features.py's features(v, frames).
inline YtFeatures yt8m_features(int v, int64_t frames) {
  YtFeatures f;
  f.rgb.resize(static_cast<std::size_t>(frames * 1024));
  f.audio.resize(static_cast<std::size_t>(frames * 128));
  for (int64_t t = 0; t < frames; ++t) {
    for (int64_t c = 0; c < 1024; ++c) f.rgb[t * 1024 + c] = (v * 37 + t * 11 + c * 3) % 256;
    for (int64_t c = 0; c < 128; ++c) f.audio[t * 128 + c] = (v * 91 + t * 5 + c) % 256;
  }
  return f;
}

inline bool have_h5py() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
  return ok;
}

/// The script's OUT_DIR, or "" when it failed (its output is in the test log).
inline std::string yt8m_fixtures() {
  static const std::string dir = cached_script_output("datareader", "write_yt8m_features.py");
  return dir;
}

// ---- a minimal protobuf encoder (wire format) for tf.train.Example / SequenceExample ----------
inline void pb_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
/// Field `field` of wire type 2 (length-delimited) holding `payload`.
inline std::string pb_bytes(int field, const std::string& payload) {
  std::string out;
  pb_varint(out, static_cast<uint64_t>(field) << 3 | 2);
  pb_varint(out, payload.size());
  return out + payload;
}
/// Feature { bytes_list (1) { value (1) ... } }
inline std::string pb_feature_bytes(const std::vector<std::string>& values) {
  std::string list;
  for (const auto& v : values) list += pb_bytes(1, v);
  return pb_bytes(1, list);
}
/// Feature { int64_list (3) { value (1) packed } }
inline std::string pb_feature_int64(const std::vector<int64_t>& values) {
  std::string packed;
  for (int64_t v : values) pb_varint(packed, static_cast<uint64_t>(v));
  return pb_bytes(3, pb_bytes(1, packed));
}
/// Feature { float_list (2) { value (1) packed } }
inline std::string pb_feature_float(const std::vector<float>& values) {
  std::string packed(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  return pb_bytes(2, pb_bytes(1, packed));
}
/// Features { feature (1): map<string, Feature> } entries.
inline std::string pb_features(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (const auto& kv : entries) out += pb_bytes(1, pb_bytes(1, kv.first) + pb_bytes(2, kv.second));
  return out;
}

/// A frame-level SequenceExample: context {id, labels}, feature lists {rgb, audio} of one bytes
/// Feature per frame. `rgb_width` / `audio_width` bytes per frame; drop_audio leaves 'audio' out.
inline std::string sequence_example(const std::string& id, const std::vector<int64_t>& labels,
                                    const YtFeatures& f, int64_t frames, bool drop_audio = false,
                                    std::size_t rgb_width = 1024, std::size_t audio_width = 128) {
  const std::string context =
      pb_features({{"id", pb_feature_bytes({id})}, {"labels", pb_feature_int64(labels)}});
  auto list = [&](const std::vector<uint8_t>& data, std::size_t stored, std::size_t width) {
    std::string fl;
    for (int64_t t = 0; t < frames; ++t) {
      const std::string frame(reinterpret_cast<const char*>(data.data()) + t * stored, width);
      fl += pb_bytes(1, pb_feature_bytes({frame}));
    }
    return fl;
  };
  std::vector<std::pair<std::string, std::string>> lists = {{"rgb", list(f.rgb, 1024, rgb_width)}};
  if (!drop_audio) lists.push_back({"audio", list(f.audio, 128, audio_width)});
  return pb_bytes(1, context) + pb_bytes(2, pb_features(lists));
}

/// A video-level Example {id, labels, mean_rgb, mean_audio}.
inline std::string video_example(const std::string& id, const std::vector<int64_t>& labels,
                                 const std::vector<float>& mean_rgb,
                                 const std::vector<float>& mean_audio) {
  return pb_bytes(1, pb_features({{"id", pb_feature_bytes({id})},
                                  {"labels", pb_feature_int64(labels)},
                                  {"mean_rgb", pb_feature_float(mean_rgb)},
                                  {"mean_audio", pb_feature_float(mean_audio)}}));
}

}  // namespace vc::testing

/// Skips the test (saying why) without numpy + h5py; fails when the writer itself fails.
#define VC_REQUIRE_H5PY()                                                                  \
  do {                                                                                     \
    if (!vc::testing::have_numpy() || !vc::testing::have_h5py()) {                         \
      GTEST_SKIP() << "skipped: /usr/bin/python3 cannot import numpy and h5py (install "   \
                      "python3-numpy python3-h5py)";                                       \
    }                                                                                      \
    ASSERT_FALSE(vc::testing::yt8m_fixtures().empty()) << "write_yt8m_features.py failed"; \
  } while (0)

/// Skips the test without numpy (the pkl fixtures); fails when the writer fails.
#define VC_REQUIRE_YT8M_FIXTURES()                                                             \
  do {                                                                                         \
    if (!vc::testing::have_numpy()) {                                                          \
      GTEST_SKIP() << "skipped: /usr/bin/python3 cannot import numpy (install python3-numpy)"; \
    }                                                                                          \
    ASSERT_FALSE(vc::testing::yt8m_fixtures().empty()) << "write_yt8m_features.py failed";     \
  } while (0)
