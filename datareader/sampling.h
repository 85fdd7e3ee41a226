// Segment sampling of the Kinetics reader (spec §3.2, `video_loader`).
#pragma once

#include <cstdint>
#include <vector>

#include "datareader/rng.h"

namespace vc::data {

// Frame indices for seg_num segments of seglen consecutive frames out of num_frames (L):
//   avg = L / seg_num (integer division). For segment i:
//   train:     avg >= seglen: start = randint(0, avg - seglen) (inclusive) + i*avg
//              avg >= 1:      start = i*avg;  else start = i
//   non-train: avg >= seglen: start = (avg - seglen)/2 + i*avg
//              avg >= 1:      start = i*avg;  else start = i
//   frames start .. start+seglen-1, each modulo L.
// Returns seg_num*seglen indices, segment-major (NOT sorted). `rng` is used only when train
// (one randint per segment, in segment order). Throws std::invalid_argument when
// num_frames < 1, seg_num < 1 or seglen < 1.
std::vector<int64_t> segment_indices(int64_t num_frames, int64_t seg_num, int64_t seglen,
                                     bool train, Rng& rng);

// Sorted, de-duplicated copy of `indices` (what a decoder has to read).
std::vector<int64_t> unique_sorted(const std::vector<int64_t>& indices);

}  // namespace vc::data
