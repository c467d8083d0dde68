// sim_random.h: the seed of a simulation and the random streams drawn from it.
//
// Owns: reading the scenario seed (env PRESENCED_SIM_SEED overrides the
// scenario's fixed default; "random" picks one from the clock) and deriving
// independent, named sub-streams from it. Everything random in a simulation
// (network loss and delays, client jitter, start times, the attacker, the
// engine's epoch and table hash seed) comes from ONE seed through these
// streams, so a run replays exactly. Separate streams keep unrelated parts
// from perturbing each other: adding attack traffic (its own stream) does not
// change a single draw of the network or the clients, which is what lets the
// attack scenario compare a run with forgeries against one without.
//
// Concurrency: none; the simulation is single-threaded.
#pragma once

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "client/rng.h"

namespace presenced::sim {

// Sub-stream identifiers (any distinct constants).
enum class Stream : uint64_t {
  kNetUp = 1,
  kNetDown = 2,
  kClients = 3,  // the clients' Env::rng (backoff and redirect jitter)
  kWorld = 4,    // start times, ports, login latency, scenario choices
  kAttack = 5,   // forged packets and replays
  kEngine = 6,   // epoch and table hash seed
  kScenario = 7,
};

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t stream_seed(uint64_t seed, Stream s) {
  return mix64(seed ^ mix64(static_cast<uint64_t>(s) * 0x9e3779b97f4a7c15ULL));
}

// A random stream: client::Rng (xoshiro256**) plus the helpers a
// simulation needs.
class Random {
 public:
  Random(uint64_t seed, Stream s) : rng_(stream_seed(seed, s)) {}
  explicit Random(uint64_t raw_seed) : rng_(raw_seed) {}

  uint64_t next() { return rng_.next(); }
  uint32_t below(uint32_t bound) { return rng_.below(bound); }
  // Uniform in [lo, hi] (inclusive).
  uint32_t between(uint32_t lo, uint32_t hi) { return lo + rng_.below(hi - lo + 1); }
  // True with probability p (p in [0, 1]); no draw when p <= 0.
  bool chance(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return static_cast<double>(rng_.next() >> 11) * 0x1.0p-53 < p;
  }
  client::Rng& rng() { return rng_; }

 private:
  client::Rng rng_;
};

// The seed of one scenario: PRESENCED_SIM_SEED (decimal or 0x-hex, or
// "random") if set, else the scenario's fixed default, so CI is
// reproducible and any failure can be replayed by exporting the printed seed.
inline uint64_t scenario_seed(uint64_t default_seed) {
  const char* env = std::getenv("PRESENCED_SIM_SEED");
  if (env == nullptr || *env == '\0') return default_seed;
  if (std::strcmp(env, "random") == 0) {
    return mix64(
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  }
  return std::strtoull(env, nullptr, 0);
}

inline std::string seed_text(uint64_t seed) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, seed);
  return buf;
}

// True when the full-size runs are requested (PRESENCED_SIM_FULL=1).
inline bool full_runs() {
  const char* env = std::getenv("PRESENCED_SIM_FULL");
  return env != nullptr && std::strcmp(env, "0") != 0 && *env != '\0';
}

}  // namespace presenced::sim
