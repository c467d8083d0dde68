// core_stats.h: the counters of one data core.
//
// Owns: one cache-aligned block of single-writer counters per core (the
// core's engine is the only writer); the control plane takes snapshots and
// sums them with operator+= (per core and total). The X-macro list is the
// single source of names and help texts for status JSON and Prometheus.
// Concurrency: written by the owning core, read by anyone (relaxed).
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/common/compiler.h"
#include "dataplane/common/counter.h"
#include "dataplane/wire/drop_reason.h"

namespace presenced::engine {

// X(name, help)
#define PRESENCED_CORE_COUNTERS(X)                                                          \
  X(rx_datagrams, "Datagrams handed to the engine")                                         \
  X(heartbeats_accepted, "Authenticated heartbeats accepted")                               \
  X(byes_accepted, "Authenticated BYE packets accepted")                                    \
  X(acks_sent, "ACK replies built")                                                         \
  X(reconnects_sent, "RECONNECT replies built")                                             \
  X(forwarded, "Packets for unknown sessions forwarded to their home core")                 \
  X(notes_sent, "Session-change notes sent to home cores")                                  \
  X(lane_messages, "Cross-core messages handled as home core")                              \
  X(sessions_created, "Sessions inserted into the table")                                   \
  X(events_online, "ONLINE events published")                                               \
  X(events_status, "STATUS events published")                                               \
  X(events_offline, "OFFLINE events published")                                             \
  X(events_deferred, "Home work postponed because the event buffer was full")               \
  X(wheel_visits, "Timing-wheel entries examined")                                          \
  X(wheel_expired, "Sessions declared offline by timeout")                                  \
  X(linger_started, "Users whose OFFLINE started lingering")                                \
  X(linger_cancelled, "Lingering users back before their OFFLINE was published")            \
  X(linger_overflow, "OFFLINE published without linger because the linger queue was full")  \
  X(reconnects_marked, "Sessions marked to be answered with RECONNECT")                     \
  X(reconnect_directive_overflow, "Reconnect directives refused: the core's book was full") \
  X(drain_pushed, "RECONNECT packets pushed to online sessions while draining")             \
  X(admission_deferred, "New sessions over the admission rate, told to come back later")    \
  X(sessions_resumed, "Sessions back after a restart, published without an ONLINE event")   \
  X(stalls, "Gaps in this core's loop longer than the stall threshold")                     \
  X(stalled_ms, "Milliseconds this core spent stalled")                                     \
  X(verdicts_deferred, "Offline verdicts postponed because a core was stalled")

struct CoreStatsSnapshot {
#define PRESENCED_DECLARE_VALUE(name, help) uint64_t name = 0;
  PRESENCED_CORE_COUNTERS(PRESENCED_DECLARE_VALUE)
#undef PRESENCED_DECLARE_VALUE
  std::array<uint64_t, wire::kDropReasonCount> drops{};
  // Gauges (not summed meaningfully; totals take the max or the sum as noted).
  uint64_t wheel_entries = 0;       // summed
  uint64_t advised_interval_s = 0;  // max over cores

  uint64_t drops_total() const {
    uint64_t n = 0;
    for (std::size_t i = 1; i < drops.size(); ++i) n += drops[i];
    return n;
  }

  CoreStatsSnapshot& operator+=(const CoreStatsSnapshot& o) {
#define PRESENCED_ADD_VALUE(name, help) name += o.name;
    PRESENCED_CORE_COUNTERS(PRESENCED_ADD_VALUE)
#undef PRESENCED_ADD_VALUE
    for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += o.drops[i];
    wheel_entries += o.wheel_entries;
    if (o.advised_interval_s > advised_interval_s) advised_interval_s = o.advised_interval_s;
    return *this;
  }
};

struct alignas(kCacheLine) CoreStats {
#define PRESENCED_DECLARE_COUNTER(name, help) SingleWriterCounter name;
  PRESENCED_CORE_COUNTERS(PRESENCED_DECLARE_COUNTER)
#undef PRESENCED_DECLARE_COUNTER
  std::array<SingleWriterCounter, wire::kDropReasonCount> drops;
  SingleWriterCounter wheel_entries;
  SingleWriterCounter advised_interval_s;

  void drop(wire::DropReason r) {
    drops[static_cast<std::size_t>(r)].add();
  }

  CoreStatsSnapshot snapshot() const {
    CoreStatsSnapshot s;
#define PRESENCED_READ_COUNTER(name, help) s.name = name.get();
    PRESENCED_CORE_COUNTERS(PRESENCED_READ_COUNTER)
#undef PRESENCED_READ_COUNTER
    for (std::size_t i = 0; i < drops.size(); ++i) s.drops[i] = drops[i].get();
    s.wheel_entries = wheel_entries.get();
    s.advised_interval_s = advised_interval_s.get();
    return s;
  }
};

}  // namespace presenced::engine
