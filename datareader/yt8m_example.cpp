#include "datareader/yt8m_example.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

#include <cstring>
#include <limits>

#include "tensorflow/example.pb.h"

namespace vc::data::yt8m {
namespace {

constexpr int64_t kRgbWidth = 1024;
constexpr int64_t kAudioWidth = 128;
// tf.train.SequenceExample.feature_lists: an Example parsed from a SequenceExample keeps it as
// an unknown field.
constexpr int kFeatureListsField = 2;

[[noreturn]] void fail(const std::string& reason) { throw RecordError(reason); }

const tensorflow::Feature& find(const tensorflow::Features& features, const std::string& name) {
  const auto& map = features.feature();
  auto it = map.find(name);
  if (it == map.end()) fail("feature '" + name + "' missing");
  return it->second;
}

std::string read_id(const tensorflow::Features& features) {
  const tensorflow::Feature& f = find(features, "id");
  if (!f.has_bytes_list()) fail("feature 'id' is not a bytes list");
  if (f.bytes_list().value_size() != 1) {
    fail("feature 'id' has " + std::to_string(f.bytes_list().value_size()) + " values, expected 1");
  }
  return f.bytes_list().value(0);
}

// Absent 'labels' = an unlabelled video (the test split); present it must be an int64 list.
std::vector<int64_t> read_labels(const tensorflow::Features& features) {
  const auto& map = features.feature();
  auto it = map.find("labels");
  if (it == map.end()) return {};
  const tensorflow::Feature& f = it->second;
  if (f.kind_case() == tensorflow::Feature::KIND_NOT_SET) return {};
  if (!f.has_int64_list()) fail("feature 'labels' is not an int64 list");
  return {f.int64_list().value().begin(), f.int64_list().value().end()};
}

std::vector<float> read_floats(const tensorflow::Features& features, const std::string& name,
                               int64_t expected) {
  const tensorflow::Feature& f = find(features, name);
  if (!f.has_float_list()) fail("feature '" + name + "' is not a float list");
  const auto& v = f.float_list().value();
  if (v.size() != expected) {
    fail("float feature '" + name + "' has " + std::to_string(v.size()) + " values, expected " +
         std::to_string(expected));
  }
  return {v.begin(), v.end()};
}

const tensorflow::FeatureList& find_list(const tensorflow::FeatureLists& lists,
                                         const std::string& name) {
  const auto& map = lists.feature_list();
  auto it = map.find(name);
  if (it == map.end()) fail("feature list '" + name + "' missing");
  return it->second;
}

// Appends the frames of a bytes feature list (one `width`-byte string per frame) to `out`.
void read_frames(const tensorflow::FeatureList& list, const std::string& name, int64_t width,
                 std::vector<uint8_t>* out) {
  out->resize(static_cast<std::size_t>(list.feature_size() * width));
  for (int i = 0; i < list.feature_size(); ++i) {
    const tensorflow::Feature& f = list.feature(i);
    if (!f.has_bytes_list() || f.bytes_list().value_size() != 1) {
      fail("frame " + std::to_string(i) + " of '" + name + "' is not one bytes value");
    }
    const std::string& b = f.bytes_list().value(0);
    if (static_cast<int64_t>(b.size()) != width) {
      fail("frame " + std::to_string(i) + " of '" + name + "' has " + std::to_string(b.size()) +
           " bytes, expected " + std::to_string(width));
    }
    std::memcpy(out->data() + static_cast<std::size_t>(i * width), b.data(), b.size());
  }
}

// True when an Example carries a non-empty SequenceExample.feature_lists (the real video-level
// shards end every Example with an empty field 2, which is fine).
bool has_feature_lists_field(const google::protobuf::Message& m) {
  const auto& unknown = m.GetReflection()->GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const auto& f = unknown.field(i);
    if (f.number() == kFeatureListsField &&
        (f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED ||
         !f.length_delimited().empty()))
      return true;
  }
  return false;
}

void set_bytes(tensorflow::Features* features, const std::string& name, const std::string& v) {
  (*features->mutable_feature())[name].mutable_bytes_list()->add_value(v);
}

void set_int64s(tensorflow::Features* features, const std::string& name,
                const std::vector<int64_t>& v) {
  auto* list = (*features->mutable_feature())[name].mutable_int64_list();
  for (int64_t x : v) list->add_value(x);
}

void set_floats(tensorflow::Features* features, const std::string& name,
                const std::vector<float>& v, std::size_t expected) {
  if (v.size() != expected) {
    fail("cannot write '" + name + "': " + std::to_string(v.size()) + " values, expected " +
         std::to_string(expected));
  }
  auto* list = (*features->mutable_feature())[name].mutable_float_list();
  list->mutable_value()->Add(v.begin(), v.end());
}

void set_frames(tensorflow::FeatureLists* lists, const std::string& name,
                const std::vector<uint8_t>& data, int64_t frames, int64_t width) {
  if (static_cast<int64_t>(data.size()) != frames * width) {
    fail("cannot write '" + name + "': " + std::to_string(data.size()) + " bytes for " +
         std::to_string(frames) + " frames of " + std::to_string(width));
  }
  auto& list = (*lists->mutable_feature_list())[name];
  for (int64_t i = 0; i < frames; ++i) {
    list.add_feature()->mutable_bytes_list()->add_value(
        reinterpret_cast<const char*>(data.data() + i * width), static_cast<std::size_t>(width));
  }
}

}  // namespace

VideoRecord parse(const std::string& bytes, Level level) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    fail("record of " + std::to_string(bytes.size()) + " bytes is too large for protobuf");
  }
  VideoRecord v;
  if (level == Level::kVideo) {
    tensorflow::Example ex;
    if (!ex.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      fail("not a tf.train.Example");
    }
    if (has_feature_lists_field(ex)) {
      fail("a tf.train.SequenceExample (frame level), expected a tf.train.Example (video level)");
    }
    const tensorflow::Features& f = ex.features();
    v.id = read_id(f);
    v.labels = read_labels(f);
    v.mean_rgb = read_floats(f, "mean_rgb", kRgbWidth);
    v.mean_audio = read_floats(f, "mean_audio", kAudioWidth);
    return v;
  }
  // On an arena: the ~600 per-frame Feature / BytesList messages of a record come from a few
  // blocks instead of one malloc each (malloc / free were a fifth of the reader's time).
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 1 << 20;
  google::protobuf::Arena arena(arena_options);
  tensorflow::SequenceExample& seq =
      *google::protobuf::Arena::CreateMessage<tensorflow::SequenceExample>(&arena);
  if (!seq.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    fail("not a tf.train.SequenceExample");
  }
  if (seq.feature_lists().feature_list_size() == 0) {
    fail(
        "no feature lists: not a frame-level tf.train.SequenceExample (a video-level "
        "tf.train.Example?)");
  }
  v.id = read_id(seq.context());
  v.labels = read_labels(seq.context());
  const tensorflow::FeatureList& rgb = find_list(seq.feature_lists(), "rgb");
  const tensorflow::FeatureList& audio = find_list(seq.feature_lists(), "audio");
  if (rgb.feature_size() != audio.feature_size()) {
    fail("'rgb' has " + std::to_string(rgb.feature_size()) + " frames, 'audio' has " +
         std::to_string(audio.feature_size()));
  }
  read_frames(rgb, "rgb", kRgbWidth, &v.rgb);
  read_frames(audio, "audio", kAudioWidth, &v.audio);
  v.num_frames = rgb.feature_size();
  return v;
}

Level detect_level(const std::string& bytes) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    fail("record of " + std::to_string(bytes.size()) + " bytes is too large for protobuf");
  }
  // An Example's `features` (field 1) reads as a SequenceExample's `context`; only a
  // SequenceExample has feature lists (field 2; the real video-level shards carry an empty one).
  tensorflow::SequenceExample seq;
  if (!seq.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    fail("neither a tf.train.Example nor a tf.train.SequenceExample");
  }
  return seq.feature_lists().feature_list_size() > 0 ? Level::kFrame : Level::kVideo;
}

namespace {

// Map fields (the feature maps) serialised in key order, so that the same record always gives the
// same bytes (plain SerializeToString follows the hash map's order).
std::string serialize_deterministic(const google::protobuf::MessageLite& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

std::string serialize(const VideoRecord& video) {
  if (!video.frame_level()) {
    tensorflow::Example ex;
    tensorflow::Features* f = ex.mutable_features();
    set_bytes(f, "id", video.id);
    set_int64s(f, "labels", video.labels);
    set_floats(f, "mean_rgb", video.mean_rgb, kRgbWidth);
    set_floats(f, "mean_audio", video.mean_audio, kAudioWidth);
    return serialize_deterministic(ex);
  }
  if (video.num_frames < 0) fail("cannot write a negative frame count");
  tensorflow::SequenceExample seq;
  set_bytes(seq.mutable_context(), "id", video.id);
  set_int64s(seq.mutable_context(), "labels", video.labels);
  set_frames(seq.mutable_feature_lists(), "rgb", video.rgb, video.num_frames, kRgbWidth);
  set_frames(seq.mutable_feature_lists(), "audio", video.audio, video.num_frames, kAudioWidth);
  return serialize_deterministic(seq);
}

}  // namespace vc::data::yt8m
