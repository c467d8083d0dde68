// presence_table.h: the sharded, fixed-capacity presence table.
//
// What it is: an open-addressing hash table of SessionSlot records keyed by
// (user_id, device_id), split into shards chosen at start. A session's shard
// and its probe start follow from a seeded hash of its USER only, so all
// devices of a user live in one shard on one probe path: user-level
// aggregation is a short scan, never a global operation.
//
// Layout per shard (each shard its own mappings, counters and eviction
// cursor, so it can be scanned, snapshotted or placed on a NUMA node alone):
//   tags[slot_count]   1 byte per slot: 0x00 EMPTY, 0x01 DELETED,
//                      0x80|7 hash bits for an occupied slot; probed 16 at a
//                      time with SSE2 (bucketized linear probing over groups
//                      of 16 slots; a lookup stops at a group with an EMPTY)
//   slots[slot_count]  36-byte SessionSlot records (session_slot.h); a group
//                      of 16 is 576 bytes, exactly 9 cache lines
//   v6[slot_count]     16-byte IPv6 source addresses, reserved address space
//                      only: pages are backed where IPv6 sessions write
// slot_count = capacity / max_load (0.9) rounded up to whole groups, so the
// table costs 37 / 0.9 = 41 bytes per session at IPv4 (+16 per IPv6 session).
// Memory is mapped once at creation (hugepages when available, else THP
// advice) and prefaulted; nothing is allocated afterwards.
//
// Who does what (the engine relies on these rules):
//   * Any data core may update an existing session (claim protocol of
//     session_slot.h).
//   * Only the shard's home core inserts, evicts and changes tags, so there
//     is a single writer per tag array and no insert races (two cores can
//     never create the same key twice).
//   * Readers (control plane) take consistent copies with the slot seqlock
//     and never block a writer.
// Tombstones: offline sessions keep their record (and so their replay state)
// until space is needed. At capacity an insert first reuses an evictable
// tombstone on its own probe path, else a clock cursor frees one elsewhere
// (EMPTY if its group still has an EMPTY, else DELETED), else it is refused.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/common/compiler.h"
#include "dataplane/common/counter.h"
#include "dataplane/common/net_addr.h"
#include "dataplane/table/mapped_region.h"
#include "dataplane/table/session_slot.h"

namespace presenced::table {

inline constexpr uint32_t kNoSlot = ~0u;
inline constexpr uint32_t kGroupSize = 16;
inline constexpr uint8_t kTagEmpty = 0x00;
inline constexpr uint8_t kTagDeleted = 0x01;

struct UserHash {
  uint64_t h = 0;
  uint32_t shard = 0;
  uint32_t group = 0;  // home group within the shard
  uint8_t tag = 0;     // 0x80 | 7 bits
};

// Counters of one shard. Written only by the shard's home core.
struct alignas(kCacheLine) ShardCounters {
  SingleWriterCounter used;             // slots holding a key (online or tombstone)
  SingleWriterCounter deleted;          // slots tagged DELETED
  SingleWriterCounter sessions_online;  // sessions published online
  SingleWriterCounter users_online;     // users published online (incl. lingering)
  SingleWriterCounter inserts;
  SingleWriterCounter tombstone_reuses;
  SingleWriterCounter evictions;
  SingleWriterCounter full_rejects;
};

struct Shard {
  uint32_t index = 0;
  uint32_t base = 0;  // global index of slot 0
  uint32_t slot_count = 0;
  uint32_t group_count = 0;
  uint32_t capacity = 0;  // most keys it may hold
  SessionSlot* slots = nullptr;
  std::atomic<uint8_t>* tags = nullptr;
  V6Addr* v6 = nullptr;
  ShardCounters counters;
  uint32_t evict_cursor = 0;  // home core only
  MappedRegion slots_region;
  MappedRegion tags_region;
  MappedRegion v6_region;
};

// A consistent copy of one session (seqlock read).
struct SessionView {
  uint32_t slot = kNoSlot;
  uint64_t user = 0;
  uint32_t device = 0;
  uint32_t seq = 0;
  uint32_t token_expiry = 0;
  uint32_t last_seen_ms = 0;  // engine clock, low 32 bits
  uint16_t interval_s = 0;
  NetAddr addr;
  SlotState state;
};

class PresenceTable {
 public:
  struct Options {
    uint64_t max_sessions = 1u << 20;
    uint32_t shards = 1;
    uint64_t hash_seed = 0;  // 0: random
    bool prefault = true;
    bool try_hugetlb = true;
    double max_load = 0.9;
  };
  static constexpr uint64_t kMaxSessionsLimit = 1'000'000'000;  // global slot index fits 32 bits

  // Returns nullptr and sets `error` on bad options or a failed mapping.
  static std::unique_ptr<PresenceTable> create(const Options& options, std::string* error);

  PresenceTable(const PresenceTable&) = delete;
  PresenceTable& operator=(const PresenceTable&) = delete;

  UserHash hash_user(uint64_t user) const {
    uint64_t x = user ^ seed_;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    UserHash u;
    u.h = x;
    u.shard = static_cast<uint32_t>((((x >> 8) & 0xffffff) * shard_count_) >> 24);
    u.group = static_cast<uint32_t>(((x >> 32) * shards_[u.shard]->group_count) >> 32);
    u.tag = static_cast<uint8_t>(0x80 | (x & 0x7f));
    return u;
  }

  uint32_t shard_count() const { return shard_count_; }
  Shard& shard(uint32_t i) { return *shards_[i]; }
  const Shard& shard(uint32_t i) const { return *shards_[i]; }
  uint32_t shard_of_slot(uint32_t global) const { return global / slots_per_shard_; }
  SessionSlot& slot(uint32_t global) {
    return shards_[global / slots_per_shard_]->slots[global % slots_per_shard_];
  }
  const SessionSlot& slot(uint32_t global) const {
    return shards_[global / slots_per_shard_]->slots[global % slots_per_shard_];
  }
  V6Addr& v6(uint32_t global) {
    return shards_[global / slots_per_shard_]->v6[global % slots_per_shard_];
  }
  uint32_t total_slots() const { return slots_per_shard_ * shard_count_; }
  uint64_t max_sessions() const { return max_sessions_; }

  void prefetch_group(const UserHash& u) const {
    prefetch_read(shards_[u.shard]->tags + static_cast<std::size_t>(u.group) * kGroupSize);
  }
  void prefetch_slot(uint32_t global) const {
    const SessionSlot* s = &slot(global);
    prefetch_write(s);
    prefetch_write(reinterpret_cast<const char*>(s) + sizeof(SessionSlot) - 1);
  }

  // Prefetches the slots in the user's home group whose tag matches (the
  // group's tags should already be in cache: prefetch_group first).
  void prefetch_candidates(const UserHash& u) const {
    const Shard& s = *shards_[u.shard];
    uint32_t m =
        match_tags(s.tags + static_cast<std::size_t>(u.group) * kGroupSize, u.tag) & 0xffff;
    while (m != 0) {
      prefetch_slot(s.base + u.group * kGroupSize + static_cast<uint32_t>(__builtin_ctz(m)));
      m &= m - 1;
    }
  }

  // Any thread. The slot holding (user, device), or kNoSlot. Lock-free and
  // racy by design: writers confirm the key under their claim, readers in
  // their seqlock copy.
  uint32_t find(const UserHash& u, uint64_t user, uint32_t device) const;

  enum class InsertOutcome : uint8_t { kInserted, kReusedTombstone, kFull };
  // Home core only; (user, device) must be absent. Returns the slot, claimed
  // (word_before = its word before the claim), with the key written and all
  // other fields to be written by the caller before release_modified(); or
  // kNoSlot with kFull.
  uint32_t insert_claimed(const UserHash& u, uint64_t user, uint32_t device, uint32_t& word_before,
                          InsertOutcome& outcome);

  // Home core only: calls f(global_index, SessionSlot&) for every slot whose
  // key belongs to `user` (any device), in probe order.
  template <typename F>
  void for_each_user_slot(const UserHash& u, uint64_t user, F&& f);

  // Any thread: a consistent copy of one slot; false if it holds no key.
  bool read(uint32_t global, SessionView& out) const;
  // Any thread: every session of `user` (up to `max`); returns the count.
  std::size_t read_user(uint64_t user, SessionView* out, std::size_t max) const;
  // Any thread: calls f(const SessionView&) for every occupied slot of a shard.
  template <typename F>
  void scan_shard(uint32_t shard_index, F&& f) const;

  // Bytes mapped and prefaulted for slots and tags (the IPv6 side array is
  // reported separately: it is reserved, not resident).
  std::size_t resident_bytes() const;
  std::size_t reserved_v6_bytes() const;
  const char* backing() const;

 private:
  PresenceTable() = default;

  // Bitmask of the 16 tags of group `g` equal to `tag`, and of EMPTY ones.
  static uint32_t match_tags(const std::atomic<uint8_t>* group_tags, uint8_t tag);
  uint32_t find_in_shard(const Shard& s, const UserHash& u, uint64_t user, uint32_t device) const;
  PRESENCED_COLD uint32_t evict_one(Shard& s);

  uint64_t seed_ = 0;
  uint64_t max_sessions_ = 0;
  uint32_t shard_count_ = 0;
  uint32_t slots_per_shard_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// ---- inline templates ------------------------------------------------------

template <typename F>
void PresenceTable::for_each_user_slot(const UserHash& u, uint64_t user, F&& f) {
  Shard& s = *shards_[u.shard];
  uint32_t g = u.group;
  for (uint32_t step = 0; step < s.group_count; ++step) {
    const std::atomic<uint8_t>* tags = s.tags + static_cast<std::size_t>(g) * kGroupSize;
    const uint32_t mask = match_tags(tags, u.tag);
    uint32_t m = mask & 0xffff;
    while (m != 0) {
      const uint32_t i = static_cast<uint32_t>(__builtin_ctz(m));
      m &= m - 1;
      SessionSlot& slot = s.slots[g * kGroupSize + i];
      if (slot.user() == user) f(s.base + g * kGroupSize + i, slot);
    }
    if ((mask >> 16) != 0) return;  // group has an EMPTY: the path ends here
    if (++g == s.group_count) g = 0;
  }
}

template <typename F>
void PresenceTable::scan_shard(uint32_t shard_index, F&& f) const {
  const Shard& s = *shards_[shard_index];
  for (uint32_t i = 0; i < s.slot_count; ++i) {
    if ((s.tags[i].load(std::memory_order_acquire) & 0x80) == 0) continue;
    SessionView v;
    if (read(s.base + i, v)) f(static_cast<const SessionView&>(v));
  }
}

}  // namespace presenced::table
