// engine_shared.h: what all data cores of one server share.
//
// Owns: the cross-core lanes (an SPSC ring for every ordered pair of cores,
// including a core to itself), the per-core statistics blocks, the server
// epoch, the master key and the common monotonic time base. It references
// the presence table, which outlives it.
//
// Shard ownership: shard s is homed on core s % cores. The home core is the
// only one that inserts sessions into its shards, publishes their users'
// events and keeps their timing-wheel entries (see engine.h). Other cores
// reach it through lane(from, to).
//
// Concurrency: immutable after construction except the lanes (one producer,
// one consumer each), the stats (one writer each) and `draining` (atomic).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/auth/session_key.h"
#include "dataplane/common/net_addr.h"
#include "dataplane/common/spsc_ring.h"
#include "dataplane/engine/core_stats.h"
#include "dataplane/table/presence_table.h"
#include "dataplane/wire/protocol.h"

namespace presenced::engine {

// A message from a data core to the home core of a session's shard.
struct LaneMessage {
  enum class Kind : uint8_t {
    kSlotChanged = 1,  // `slot` has live state the home core has not published
    kCreate = 2,       // authenticated packet for a session not in the table
  };
  Kind kind = Kind::kSlotChanged;
  wire::PacketType type = wire::PacketType::kHeartbeat;  // kCreate
  wire::Status status = wire::Status::kAvailable;        // kCreate
  uint8_t flags = 0;                                     // kCreate
  uint32_t slot = 0;                                     // kSlotChanged
  uint64_t user = 0;
  uint32_t device = 0;
  uint32_t seq = 0;
  uint32_t token_expiry = 0;
  uint32_t epoch_seen = 0;
  NetAddr src;
  NetAddr local;
  uint64_t l2_hint = 0;  // kCreate: RxDatagram::l2_hint, for the reply
  auth::SessionKey key;  // kCreate: the derived key, to sign the reply
};

// Liveness of one data core, for the stall rule (engine.h): its progress
// and a ring of its recent stalls. Written by that core only.
struct alignas(kCacheLine) CoreLiveness {
  static constexpr uint32_t kStallRing = 16;
  std::atomic<uint64_t> progress_ms{0};  // engine ms of its last call (0: none yet)
  std::atomic<uint32_t> stalls{0};       // stalls recorded; ring index = stalls % kStallRing
  std::atomic<uint64_t> stall_start_ms[kStallRing] = {};
  std::atomic<uint64_t> stall_end_ms[kStallRing] = {};
};

class EngineShared {
 public:
  struct Options {
    uint32_t cores = 1;
    uint32_t lane_capacity = 0;  // 0: 64 Ki messages spread over the cores
    uint64_t mono_base_ns = 0;   // engine time 0 (all cores share it)
    uint32_t epoch = 0;          // 0: random non-zero
    auth::MasterKey master_key;
  };

  EngineShared(table::PresenceTable& table, const Options& options);

  table::PresenceTable& table() { return table_; }
  const table::PresenceTable& table() const { return table_; }
  uint32_t cores() const { return cores_; }
  uint32_t home_core(uint32_t shard) const { return shard % cores_; }
  SpscRing<LaneMessage>& lane(uint32_t from, uint32_t to) { return *lanes_[from * cores_ + to]; }
  CoreStats& stats(uint32_t core) { return stats_[core]; }
  CoreLiveness& liveness(uint32_t core) { return liveness_[core]; }
  const CoreLiveness& liveness(uint32_t core) const { return liveness_[core]; }
  const CoreStats& stats(uint32_t core) const { return stats_[core]; }
  uint32_t epoch() const { return epoch_; }
  const auth::MasterKey& master_key() const { return master_key_; }
  uint64_t mono_base_ns() const { return mono_base_ns_; }

  // Sessions published online, summed over shards (relaxed; for the dynamic
  // interval and status).
  uint64_t sessions_online() const;
  uint64_t users_online() const;

 private:
  table::PresenceTable& table_;
  uint32_t cores_;
  uint32_t epoch_;
  uint64_t mono_base_ns_;
  auth::MasterKey master_key_;
  std::vector<std::unique_ptr<SpscRing<LaneMessage>>> lanes_;
  std::unique_ptr<CoreStats[]> stats_;
  std::unique_ptr<CoreLiveness[]> liveness_;
};

}  // namespace presenced::engine
