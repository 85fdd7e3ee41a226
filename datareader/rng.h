// Small, portable, seedable RNG: identical streams on every platform/standard library, so
// "the same seed gives the same samples" holds across machines and thread counts.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace vc::data {

// SplitMix64 finaliser: a good 64-bit mixer, used to derive independent seeds.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Seed derived from several values (order matters), e.g. derive_seed(seed, epoch, index).
inline uint64_t derive_seed(uint64_t a, uint64_t b) {
  return mix64(mix64(a) ^ (b + 0x632BE59BD9B4E019ULL));
}
inline uint64_t derive_seed(uint64_t a, uint64_t b, uint64_t c) {
  return derive_seed(derive_seed(a, b), c);
}

// xoshiro256** seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& si : s_) {
      x += 0x9E3779B97F4A7C15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      si = z ^ (z >> 31);
    }
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform integer in [lo, hi] (both inclusive, like Python's random.randint). Unbiased.
  int64_t randint(int64_t lo, int64_t hi) {
    if (hi < lo) {
      throw std::invalid_argument("Rng::randint: empty range [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "]");
    }
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == UINT64_MAX) return static_cast<int64_t>(next_u64());
    const uint64_t n = span + 1;
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);  // reject the biased tail
    uint64_t v;
    do {
      v = next_u64();
    } while (v >= limit);
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + v % n);
  }

  // Uniform double in [0, 1) with 53 random bits (like Python's random.random()).
  double uniform() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace vc::data
