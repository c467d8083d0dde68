// sim_features.h: engine features the scenarios use if the engine has them.
//
// Owns: compile-time detection of the EngineConfig fields and CoreStats
// counters of issue 7 (admission control, the stall rule, the restart
// rule), so the scenarios build against an engine with or without them and
// skip (GTEST_SKIP, with the reason) what they cannot test yet. Once every
// engine in use has them, these helpers may be replaced by the fields.
#pragma once

#include <cstdint>

#include "dataplane/engine/core_stats.h"
#include "dataplane/engine/engine_config.h"

namespace presenced::sim {

template <typename C = engine::EngineConfig>
inline constexpr bool kHasAdmission = requires(C c) {
  c.admission_rate;
};
template <typename C = engine::EngineConfig>
inline constexpr bool kHasStallRule = requires(C c) {
  c.stall_threshold_ms;
};
template <typename C = engine::EngineConfig>
inline constexpr bool kHasRestartRule = requires(C c) {
  c.restart_grace_ms;
};

template <typename C>
void set_admission_rate(C& c, uint32_t per_s) {
  if constexpr (requires { c.admission_rate; }) c.admission_rate = per_s;
}

template <typename S>
uint64_t admission_deferred(const S& s) {
  if constexpr (requires { s.admission_deferred; }) {
    return s.admission_deferred;
  } else {
    return 0;
  }
}
template <typename S>
uint64_t stalls(const S& s) {
  if constexpr (requires { s.stalls; }) {
    return s.stalls;
  } else {
    return 0;
  }
}
template <typename S>
uint64_t stalled_ms(const S& s) {
  if constexpr (requires { s.stalled_ms; }) {
    return s.stalled_ms;
  } else {
    return 0;
  }
}
template <typename S>
uint64_t sessions_resumed(const S& s) {
  if constexpr (requires { s.sessions_resumed; }) {
    return s.sessions_resumed;
  } else {
    return 0;
  }
}

}  // namespace presenced::sim
