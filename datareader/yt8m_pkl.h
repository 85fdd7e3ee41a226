// The original's YouTube-8M .pkl files (spec §3.1, dataset/youtube8m/tf2pkl.py): a Python-2
// cPickle (protocol 2) list of dicts, one per video,
//
//   {'video': id (str / bytes), 'label': [int, ...], 'nframes': min(frames, 300),
//    'feature': uint8 [frames, 1024] (rgb), 'audio': uint8 [frames, 128]}
//
// read with the pickle interpreter of pickle.h (Python 3 pickles of the same structure too).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "datareader/pickle.h"

namespace vc::data::yt8m_pkl {

/// One usable entry; rgb / audio are contiguous uint8 [num_frames, 1024] / [num_frames, 128],
/// already cut to nframes (the original's reader takes feature[:nframes]).
struct Entry {
  std::string id;
  std::vector<int64_t> labels;  ///< as stored (range checks are the reader's job)
  int64_t num_frames = 0;
  at::Tensor rgb, audio;
};

/// Reads a .pkl shard; its root must be a list (or tuple) of entries. Throws vc::data::DataError
/// naming the file (unreadable, not a pickle, truncated, root of another type).
pickle::ValuePtr read_shard(const std::string& path);

/// Checks and converts one entry of the list. Returns "" and fills `out` when it is usable,
/// else a short reason usable as a counter key ("pkl entry not a dict", "pkl entry missing key",
/// "pkl entry wrong type", "pkl entry wrong dtype", "pkl entry wrong shape", "pkl entry bad
/// nframes") with `*detail` saying what was found. `out->id` is filled as soon as it is known.
/// `require_label` false: a missing 'label' is an empty label list (unlabelled data). Never
/// throws on any Value.
std::string parse_entry(const pickle::Value& entry, bool require_label, Entry* out,
                        std::string* detail);

}  // namespace vc::data::yt8m_pkl
