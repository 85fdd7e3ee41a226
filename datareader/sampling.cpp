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

std::vector<int64_t> unique_sorted(const std::vector<int64_t>& indices) {
  std::vector<int64_t> v = indices;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace vc::data
