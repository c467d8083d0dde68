#include "dataplane/engine/engine_shared.h"

#include <algorithm>

#include <sys/random.h>

namespace presenced::engine {
namespace {

uint32_t random_epoch() {
  uint32_t e = 0;
  while (e == 0) {
    if (getrandom(&e, sizeof e, 0) != static_cast<ssize_t>(sizeof e)) e = 0x5eed1234;
  }
  return e;
}

}  // namespace

EngineShared::EngineShared(table::PresenceTable& table, const Options& o)
    : table_(table),
      cores_(std::max<uint32_t>(1, o.cores)),
      epoch_(o.epoch != 0 ? o.epoch : random_epoch()),
      mono_base_ns_(o.mono_base_ns),
      master_key_(o.master_key),
      stats_(new CoreStats[cores_]),
      liveness_(new CoreLiveness[cores_]) {
  const uint32_t capacity =
      o.lane_capacity != 0 ? o.lane_capacity : std::max<uint32_t>(1024, 65536 / cores_);
  lanes_.reserve(static_cast<std::size_t>(cores_) * cores_);
  for (uint32_t i = 0; i < cores_ * cores_; ++i) {
    lanes_.push_back(std::make_unique<SpscRing<LaneMessage>>(capacity));
  }
}

uint64_t EngineShared::sessions_online() const {
  uint64_t n = 0;
  for (uint32_t s = 0; s < table_.shard_count(); ++s) {
    n += table_.shard(s).counters.sessions_online.get();
  }
  return n;
}

uint64_t EngineShared::users_online() const {
  uint64_t n = 0;
  for (uint32_t s = 0; s < table_.shard_count(); ++s) {
    n += table_.shard(s).counters.users_online.get();
  }
  return n;
}

}  // namespace presenced::engine
