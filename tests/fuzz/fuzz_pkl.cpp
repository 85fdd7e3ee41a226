// libFuzzer target: bytes -> the pickle interpreter (datareader/pickle.h) -> the tf2pkl.py entry
// checks of the YouTube-8M pkl reader (datareader/yt8m_pkl.h), as FeatureDataset and
// yt8m_convert use them. Checks: unpickle throws only PickleError; a list / tuple root has each
// entry either rejected with a known reason and a detail, or accepted with contiguous uint8
// rgb [n, 1024] and audio [n, 128] of the same n >= 0; parse_entry never throws. Crashes,
// sanitizer reports, other exceptions and hangs are findings. Build and run: tests/fuzz/README.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "datareader/pickle.h"
#include "datareader/yt8m_pkl.h"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_pkl: invariant violated: %s\n", what);
    std::abort();
  }
}

const std::set<std::string>& reasons() {
  static const std::set<std::string> r = {"pkl entry not a dict",  "pkl entry missing key",
                                          "pkl entry wrong type",  "pkl entry wrong dtype",
                                          "pkl entry wrong shape", "pkl entry bad nframes"};
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vc::data::pickle::Value;
  vc::data::pickle::ValuePtr root;
  try {
    root = vc::data::pickle::unpickle(reinterpret_cast<const char*>(data), size);
  } catch (const vc::data::pickle::PickleError&) {
    return 0;  // a malformed stream: the file-level error of the reader
  }
  check(root != nullptr, "unpickle returned null");
  if (!root->is(Value::Kind::kList) && !root->is(Value::Kind::kTuple)) return 0;
  for (const auto& item : root->items) {
    check(item != nullptr, "null list item");
    for (bool require_label : {true, false}) {
      vc::data::yt8m_pkl::Entry e;
      std::string detail;
      const std::string reason = vc::data::yt8m_pkl::parse_entry(*item, require_label, &e, &detail);
      if (!reason.empty()) {
        check(reasons().count(reason) == 1, "unknown reason");
        check(!detail.empty(), "a reason without detail");
        continue;
      }
      check(e.num_frames >= 0, "negative frame count");
      check(e.rgb.defined() && e.audio.defined(), "undefined arrays");
      check(e.rgb.dim() == 2 && e.rgb.size(0) == e.num_frames && e.rgb.size(1) == 1024,
            "rgb shape");
      check(e.audio.dim() == 2 && e.audio.size(0) == e.num_frames && e.audio.size(1) == 128,
            "audio shape");
      check(e.rgb.is_contiguous() && e.audio.is_contiguous(), "non-contiguous arrays");
      check(e.rgb.scalar_type() == c10::kByte && e.audio.scalar_type() == c10::kByte, "dtype");
      // touch every byte (ASan checks the storage really holds them)
      uint64_t sum = 0;
      const uint8_t* r = e.rgb.data_ptr<uint8_t>();
      for (int64_t i = 0; i < e.rgb.numel(); ++i) sum += r[i];
      const uint8_t* a = e.audio.data_ptr<uint8_t>();
      for (int64_t i = 0; i < e.audio.numel(); ++i) sum += a[i];
      check(sum <= 255u * static_cast<uint64_t>(e.rgb.numel() + e.audio.numel()), "sum");
    }
  }
  return 0;
}
