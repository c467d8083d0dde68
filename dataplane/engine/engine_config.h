// engine_config.h: the liveness and interval settings every data core uses,
// changeable at run time.
//
// Owns: the values, their accepted ranges and the timeout formula of
// PROTOCOL.md (timeout = miss_limit x interval last advised + grace).
// Concurrency: a value type; each core holds its own copy, replaced between
// bursts when the control plane sends a new one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace presenced::engine {

struct EngineConfig {
  uint32_t interval_s = 30;               // base heartbeat interval advised to clients
  uint32_t miss_limit = 3;                // missed intervals before offline
  uint32_t grace_ms = 2000;               // added to every timeout
  uint32_t linger_ms = 5000;              // anti-flap delay of OFFLINE events
  uint32_t min_interval_s = 10;           // dynamic interval never advised below
  uint32_t max_interval_s = 300;          // ... nor above
  uint64_t heartbeat_budget = 2'000'000;  // heartbeats/s before intervals stretch; 0 = none
  uint32_t tick_ms = 10;                  // wheel sweep period = offline detection bound
  // Hardening (docs/SECURITY.md):
  uint32_t admission_rate = 200'000;     // new sessions/s over all cores; 0 = unlimited
  uint32_t source_invalid_budget = 200;  // invalid packets/s per source prefix and core; 0 = off
  uint32_t stall_threshold_ms = 1000;    // a core gap longer than this is a stall
  uint32_t restart_grace_ms = 92'000;    // resumed sessions publish no ONLINE this long

  friend bool operator==(const EngineConfig&, const EngineConfig&) = default;
};

// Accepted ranges (inclusive). linger stays below 65.5 s: the linger queue
// identifies entries by 16 bits of their deadline (engine.h).
struct ConfigLimits {
  static constexpr uint32_t kIntervalMin = 1, kIntervalMax = 3600;
  static constexpr uint32_t kMissLimitMin = 1, kMissLimitMax = 10;
  static constexpr uint32_t kGraceMax = 600'000;
  static constexpr uint32_t kLingerMax = 60'000;
  static constexpr uint64_t kBudgetMax = 1'000'000'000;
  static constexpr uint32_t kTickMin = 1, kTickMax = 1000;
  static constexpr uint32_t kAdmissionMax = 100'000'000;
  static constexpr uint32_t kSourceBudgetMax = 10'000'000;
  static constexpr uint32_t kStallMin = 100, kStallMax = 600'000;
  static constexpr uint32_t kRestartGraceMax = 3'600'000;
};

// nullopt when valid; otherwise a message naming the field (by its config
// key, e.g. "miss_limit") and the accepted range.
std::optional<std::string> validate(const EngineConfig& c);

// Timeout in ms for a session last advised `interval_s`.
inline uint64_t timeout_ms(const EngineConfig& c, uint32_t interval_s) {
  return static_cast<uint64_t>(c.miss_limit) * interval_s * 1000 + c.grace_ms;
}

// The interval to advise when `sessions_online` sessions heartbeat: the base
// interval, stretched so that sessions / interval stays within the budget,
// clamped to [min_interval, max_interval].
uint32_t advised_interval_s(const EngineConfig& c, uint64_t sessions_online);

}  // namespace presenced::engine
