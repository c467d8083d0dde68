// source_limiter.h: per-source budgets for invalid packets.
//
// Owns, for one data core: a bounded table of source prefixes (IPv4 /32,
// IPv6 /64) that recently sent packets failing parse or MAC checks, each
// with a token bucket of `budget` invalid packets per second (burst: one
// second's worth). A source whose bucket is empty is dropped BEFORE any
// MAC work, so a flood of forgeries costs one table probe per packet
// instead of two SipHashes. Valid traffic never enters the table; while the
// table is empty, checking costs one branch.
//
// Bounded: 4-way set-associative, fixed size chosen at construction; a new
// offender replaces the way with the most tokens left (the least abusive),
// so the table cannot grow and a spread of sources cannot evict the worst
// ones cheaply. Concurrency: single-threaded (one per core).
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/common/net_addr.h"

namespace presenced::engine {

class SourceLimiter {
 public:
  explicit SourceLimiter(uint32_t sets_pow2 = 1u << 12);

  // Invalid packets per second each source may send (0: no limiting).
  void set_budget(uint32_t per_second) { budget_ = per_second; }

  // True when `src` has used up its budget (drop the packet unchecked).
  bool over_budget(const NetAddr& src, uint64_t now_ms) {
    if (occupied_ == 0 || budget_ == 0) return false;
    return over_budget_slow(src, now_ms);
  }
  // Records one invalid packet from `src`.
  void charge(const NetAddr& src, uint64_t now_ms);

  uint32_t tracked() const { return occupied_; }
  uint32_t capacity() const { return static_cast<uint32_t>(entries_.size()); }

  static uint64_t prefix_key(const NetAddr& a);

 private:
  struct Entry {
    uint64_t key = 0;  // 0: free
    float tokens = 0;
    uint32_t last_ms = 0;  // low 32 bits of engine ms
  };
  static constexpr uint32_t kWays = 4;

  bool over_budget_slow(const NetAddr& src, uint64_t now_ms);
  Entry* find(uint64_t key);
  void refill(Entry& e, uint64_t now_ms) const;

  std::vector<Entry> entries_;
  uint32_t set_mask_;
  uint32_t budget_ = 0;
  uint32_t occupied_ = 0;
};

}  // namespace presenced::engine
