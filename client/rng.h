// rng.h: a small deterministic random number generator for the client.
//
// Owns: 32 bytes of xoshiro256** state, seeded through splitmix64 so that any
// 64-bit seed (including 0) gives a good state. The state machine takes its
// randomness (backoff and redirect jitter) from an Rng the caller passes in,
// so a simulation with a fixed seed replays exactly. Not cryptographic: it
// only spreads timers.
//
// Concurrency: none; one Rng per thread (share it among that thread's
// sessions, or give each its own).
#pragma once

#include <cstdint>

namespace presenced::client {

class Rng {
 public:
  explicit constexpr Rng(uint64_t seed) {
    for (uint64_t& w : s_) w = splitmix64(seed);
  }

  // 64 uniformly distributed bits.
  constexpr uint64_t next() {
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

  // Uniform in [0, bound); 0 when bound is 0. Unbiased (Lemire's
  // multiply-shift with rejection; the loop almost never repeats).
  constexpr uint32_t below(uint32_t bound) {
    if (bound == 0) return 0;
    uint64_t m = (next() >> 32) * bound;
    auto low = static_cast<uint32_t>(m);
    if (low < bound) {
      const uint32_t threshold = (0u - bound) % bound;
      while (low < threshold) {
        m = (next() >> 32) * bound;
        low = static_cast<uint32_t>(m);
      }
    }
    return static_cast<uint32_t>(m >> 32);
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static constexpr uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t s_[4]{};
};

}  // namespace presenced::client
