// presence_event.h: user-level presence events produced by data cores.
//
// Owns: the event record. Events of one user are produced only by the home
// core of the user's shard, in order, and `seq` comes from that core's event
// counter, so it strictly increases per user. Concurrency: a value type,
// carried through SPSC rings to the control plane.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/wire/names.h"
#include "dataplane/wire/protocol.h"

namespace presenced::engine {

enum class EventType : uint8_t { kOnline = 0, kStatus = 1, kOffline = 2 };

struct PresenceEvent {
  uint64_t user = 0;
  uint64_t seq = 0;               // strictly increasing per user (per home core)
  int64_t last_seen_wall_ms = 0;  // Unix ms of the user's last accepted packet
  uint64_t at_mono_ms = 0;        // engine clock when the event was decided
  EventType type = EventType::kOnline;
  wire::Status status = wire::Status::kAvailable;  // ONLINE/STATUS: new status
  uint16_t core = 0;
};

constexpr std::string_view event_type_name(EventType t) {
  switch (t) {
    case EventType::kOnline:
      return "online";
    case EventType::kStatus:
      return "status";
    case EventType::kOffline:
      return "offline";
  }
  return "invalid";
}

// Status names live with the protocol (wire/names.h).
using wire::status_name;

}  // namespace presenced::engine
