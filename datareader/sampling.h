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

// Multi-view testing: the start offset within a segment of temporal clip `clip` of
// `num_clips` (0 <= clip < num_clips), for segments whose start offset may range over
// [0, max_offset] (max_offset = avg - seglen). The clips are evenly spaced from the first to
// the last possible offset, mmaction2's SampleFrames test_mode rule applied within each segment:
//   num_clips == 1: max_offset / 2 (integer division: the centred offset of segment_indices)
//   num_clips  > 1: round(clip * max_offset / (num_clips - 1)), halves to even (numpy's round),
//                   computed exactly in integers.
// Throws std::invalid_argument when max_offset < 0, num_clips < 1 or clip is out of range.
int64_t clip_offset(int64_t max_offset, int64_t clip, int64_t num_clips);

// The non-train segment_indices of temporal clip `clip` of `num_clips`: for segment i,
//   avg >= seglen: start = clip_offset(avg - seglen, clip, num_clips) + i*avg
//   avg >= 1:      start = i*avg;  else start = i   (every clip the same: nothing to spread)
// frames start .. start+seglen-1 modulo L, segment-major. clip_indices(L, S, l, 0, 1) equals
// segment_indices(L, S, l, false, rng). Throws std::invalid_argument as segment_indices and
// clip_offset.
std::vector<int64_t> clip_indices(int64_t num_frames, int64_t seg_num, int64_t seglen, int64_t clip,
                                  int64_t num_clips);

// Sorted, de-duplicated copy of `indices` (what a decoder has to read).
std::vector<int64_t> unique_sorted(const std::vector<int64_t>& indices);

}  // namespace vc::data
