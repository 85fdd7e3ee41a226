#include "datareader/sampling.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace vc::data {

std::vector<int64_t> segment_indices(int64_t num_frames, int64_t seg_num, int64_t seglen,
                                     bool train, Rng& rng) {
  if (num_frames < 1 || seg_num < 1 || seglen < 1) {
    throw std::invalid_argument("segment_indices: need num_frames, seg_num, seglen >= 1, got " +
                                std::to_string(num_frames) + ", " + std::to_string(seg_num) + ", " +
                                std::to_string(seglen));
  }
  const int64_t L = num_frames;
  const int64_t avg = L / seg_num;
  std::vector<int64_t> out;
  out.reserve(static_cast<std::size_t>(seg_num * seglen));
  for (int64_t i = 0; i < seg_num; ++i) {
    int64_t start;
    if (avg >= seglen) {
      start = (train ? rng.randint(0, avg - seglen) : (avg - seglen) / 2) + i * avg;
    } else if (avg >= 1) {
      start = i * avg;
    } else {
      start = i;
    }
    for (int64_t j = 0; j < seglen; ++j) out.push_back((start + j) % L);
  }
  return out;
}

int64_t clip_offset(int64_t max_offset, int64_t clip, int64_t num_clips) {
  if (max_offset < 0 || num_clips < 1 || clip < 0 || clip >= num_clips) {
    throw std::invalid_argument(
        "clip_offset: need max_offset >= 0 and 0 <= clip < num_clips, got " +
        std::to_string(max_offset) + ", " + std::to_string(clip) + ", " +
        std::to_string(num_clips));
  }
  if (num_clips == 1) return max_offset / 2;
  // round(clip * max_offset / den), halves to even, in integers.
  const int64_t num = clip * max_offset, den = num_clips - 1;
  int64_t q = num / den;
  const int64_t twice_rem = 2 * (num % den);
  if (twice_rem > den || (twice_rem == den && q % 2 == 1)) ++q;
  return q;
}

std::vector<int64_t> clip_indices(int64_t num_frames, int64_t seg_num, int64_t seglen, int64_t clip,
                                  int64_t num_clips) {
  if (num_frames < 1 || seg_num < 1 || seglen < 1) {
    throw std::invalid_argument("clip_indices: need num_frames, seg_num, seglen >= 1, got " +
                                std::to_string(num_frames) + ", " + std::to_string(seg_num) + ", " +
                                std::to_string(seglen));
  }
  const int64_t L = num_frames;
  const int64_t avg = L / seg_num;
  // Checks clip / num_clips even when the offset is not used.
  const int64_t offset = clip_offset(std::max<int64_t>(avg - seglen, 0), clip, num_clips);
  std::vector<int64_t> out;
  out.reserve(static_cast<std::size_t>(seg_num * seglen));
  for (int64_t i = 0; i < seg_num; ++i) {
    int64_t start;
    if (avg >= seglen) {
      start = offset + i * avg;
    } else if (avg >= 1) {
      start = i * avg;
    } else {
      start = i;
    }
    for (int64_t j = 0; j < seglen; ++j) out.push_back((start + j) % L);
  }
  return out;
}

std::vector<int64_t> unique_sorted(const std::vector<int64_t>& indices) {
  std::vector<int64_t> v = indices;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace vc::data
