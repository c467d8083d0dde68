// adaptive.h: per-network memory of the adaptive ("smart") heartbeat.
//
// Owns: up to kCapacity entries, one per network identifier the app supplies
// (a Wi-Fi BSSID hash, a cellular operator id, ...), each holding the longest
// interval known to survive on that network and the shortest one known to
// fail. Many sessions may share one store: what one session learns, the next
// one on the same network starts from. When full, the least recently used
// network is forgotten. No allocation (a fixed array, 16 bytes per entry).
//
// The model, in the spirit of WeChat's smart heartbeat:
//   * A network starts at `good = Policy::adaptive_start_ms`.
//   * After a round that survived (acknowledged on its first attempt, after
//     an idle period of the probed interval), the next interval probes
//     good + adaptive_step_ms, provided that is below the network's known
//     failure `ceiling` and within the server's advised maximum.
//   * A survived round at interval X raises good to X.
//   * A failed round at X (a resend was needed, or the connection died) sets
//     ceiling = min(ceiling, X), so X is not probed again, and the next
//     interval falls back to good. If X was not above good (the known-good
//     interval itself failed) good steps down to max(adaptive_min_ms,
//     X - adaptive_step_ms).
//   * The server's advice always bounds the interval used; it does not change
//     what the store has learned about the network.
// A ceiling is kept until forget() (or eviction): the app calls forget() when
// it learns that the network changed in a way that invalidates it.
//
// Concurrency: none. One store per thread; the sessions that use it must be
// driven by that thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "client/policy.h"

namespace presenced::client {

class AdaptiveIntervalStore {
 public:
  static constexpr std::size_t kCapacity = 16;

  struct Entry {
    uint32_t network_id = 0;
    uint32_t good_ms = 0;     // 0: free slot
    uint32_t ceiling_ms = 0;  // shortest interval seen failing; 0: none
    uint32_t last_use = 0;    // LRU stamp
  };

  // The interval for the next idle period on `network_id`, at most max_ms.
  // Probes one step above the known-good interval only if `may_probe` (the
  // round that just ended survived). Inserts the network if unknown.
  uint32_t next_interval(uint32_t network_id, uint32_t max_ms, bool may_probe, const Policy& p);

  // Records the outcome of a round sent after an idle period of interval_ms.
  void record(uint32_t network_id, uint32_t interval_ms, bool survived, const Policy& p);

  // nullptr if the network is not remembered.
  const Entry* find(uint32_t network_id) const;
  void forget(uint32_t network_id);
  std::size_t size() const;

 private:
  Entry& touch(uint32_t network_id, const Policy& p);

  std::array<Entry, kCapacity> entries_{};
  uint32_t clock_ = 0;
};

}  // namespace presenced::client
