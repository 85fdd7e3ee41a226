// The original's YouTube-8M .pkl files (see yt8m_pkl.h).
#include "datareader/yt8m_pkl.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <exception>

#include "datareader/errors.h"

namespace vc::data::yt8m_pkl {

pickle::ValuePtr read_shard(const std::string& path) {
  pickle::ValuePtr root = pickle::read_pickle_file(path);
  if (!root->is(pickle::Value::Kind::kList) && !root->is(pickle::Value::Kind::kTuple)) {
    throw DataError(path + ": the pickle holds a " + root->kind_name() +
                    ", expected a list of video dicts (the original's tf2pkl.py output)");
  }
  return root;
}

std::string parse_entry(const pickle::Value& e, bool require_label, Entry* out,
                        std::string* detail) {
  using K = pickle::Value::Kind;
  if (!e.is(K::kDict)) {
    *detail = std::string("entry is a ") + e.kind_name() + ", expected a dict";
    return "pkl entry not a dict";
  }
  if (const pickle::Value* id = e.find("video")) {
    if (id->is_string()) out->id = id->s;  // for the messages of the checks below
  }
  for (const char* key : {"video", "feature", "audio", "nframes"}) {
    if (!e.find(key)) {
      *detail = std::string("no key '") + key + "'";
      return "pkl entry missing key";
    }
  }
  const pickle::Value* label = e.find("label");
  if (!label && require_label) {
    *detail = "no key 'label'";
    return "pkl entry missing key";
  }
  try {
    out->id = e.find("video")->as_string("'video'");
    const int64_t nframes = e.find("nframes")->as_int("'nframes'");
    if (nframes < 0) {
      *detail = "'nframes' is " + std::to_string(nframes);
      return "pkl entry bad nframes";
    }
    if (label) {
      if (label->is(K::kTensor)) {
        const at::Tensor t = label->tensor;
        if (t.dim() != 1 || !at::isIntegralType(t.scalar_type(), /*includeBool=*/false)) {
          *detail = "'label' is an array of shape " + std::to_string(t.dim()) +
                    "-d / non-integer dtype, expected a list of ints";
          return "pkl entry wrong dtype";
        }
        const at::Tensor l = t.to(at::kLong).contiguous();
        out->labels.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
      } else {
        for (const auto& item : label->as_sequence("'label'")) {
          out->labels.push_back(item->as_int("a 'label' item"));
        }
      }
    }
    struct Feat {
      const char* key;
      int64_t width;
      at::Tensor* out;
    };
    for (const Feat& f : {Feat{"feature", 1024, &out->rgb}, Feat{"audio", 128, &out->audio}}) {
      const at::Tensor& t = e.find(f.key)->as_tensor(std::string("'") + f.key + "'");
      if (t.scalar_type() != at::kByte) {
        *detail = std::string("'") + f.key + "' has dtype " + c10::toString(t.scalar_type()) +
                  ", expected uint8";
        return "pkl entry wrong dtype";
      }
      if (t.dim() != 2 || t.size(1) != f.width) {
        std::string shape;
        for (int64_t d = 0; d < t.dim(); ++d) shape += (d ? ", " : "") + std::to_string(t.size(d));
        *detail = std::string("'") + f.key + "' has shape [" + shape + "], expected [T, " +
                  std::to_string(f.width) + "]";
        return "pkl entry wrong shape";
      }
      *f.out = t;
    }
    if (out->rgb.size(0) != out->audio.size(0)) {
      *detail = "'feature' has " + std::to_string(out->rgb.size(0)) + " frames, 'audio' " +
                std::to_string(out->audio.size(0));
      return "pkl entry wrong shape";
    }
    // tf2pkl.py: nframes = min(frames, 300) while the arrays keep every frame; the reader takes
    // feature[:nframes].
    const int64_t n = std::min(nframes, out->rgb.size(0));
    out->rgb = out->rgb.slice(0, 0, n).contiguous();
    out->audio = out->audio.slice(0, 0, n).contiguous();
    out->num_frames = n;
  } catch (const std::exception& ex) {  // PickleError of an accessor, c10::Error
    *detail = ex.what();
    return "pkl entry wrong type";
  }
  return "";
}

}  // namespace vc::data::yt8m_pkl
