#include "dataplane/engine/engine_config.h"

namespace presenced::engine {
namespace {

std::string range_error(const char* field, uint64_t lo, uint64_t hi, const char* unit) {
  return std::string(field) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
         "]" + unit;
}

}  // namespace

std::optional<std::string> validate(const EngineConfig& c) {
  using L = ConfigLimits;
  if (c.interval_s < L::kIntervalMin || c.interval_s > L::kIntervalMax) {
    return range_error("interval", L::kIntervalMin, L::kIntervalMax, " seconds");
  }
  if (c.min_interval_s < L::kIntervalMin || c.min_interval_s > L::kIntervalMax) {
    return range_error("min_interval", L::kIntervalMin, L::kIntervalMax, " seconds");
  }
  if (c.max_interval_s < L::kIntervalMin || c.max_interval_s > L::kIntervalMax) {
    return range_error("max_interval", L::kIntervalMin, L::kIntervalMax, " seconds");
  }
  if (c.min_interval_s > c.max_interval_s) {
    return "min_interval (" + std::to_string(c.min_interval_s) +
           ") must not exceed max_interval (" + std::to_string(c.max_interval_s) + ")";
  }
  if (c.interval_s < c.min_interval_s || c.interval_s > c.max_interval_s) {
    return range_error("interval", c.min_interval_s, c.max_interval_s,
                       " seconds (between min_interval and max_interval)");
  }
  if (c.miss_limit < L::kMissLimitMin || c.miss_limit > L::kMissLimitMax) {
    return range_error("miss_limit", L::kMissLimitMin, L::kMissLimitMax, "");
  }
  if (c.grace_ms > L::kGraceMax) return range_error("grace", 0, L::kGraceMax, " ms");
  if (c.linger_ms > L::kLingerMax) return range_error("linger", 0, L::kLingerMax, " ms");
  if (c.heartbeat_budget > L::kBudgetMax) {
    return range_error("heartbeat_budget", 0, L::kBudgetMax, " heartbeats/s (0: no budget)");
  }
  if (c.tick_ms < L::kTickMin || c.tick_ms > L::kTickMax) {
    return range_error("tick", L::kTickMin, L::kTickMax, " ms");
  }
  if (c.admission_rate > L::kAdmissionMax) {
    return range_error("admission_rate", 0, L::kAdmissionMax, " sessions/s (0: unlimited)");
  }
  if (c.source_invalid_budget > L::kSourceBudgetMax) {
    return range_error("source_invalid_budget", 0, L::kSourceBudgetMax, " packets/s (0: off)");
  }
  if (c.stall_threshold_ms < L::kStallMin || c.stall_threshold_ms > L::kStallMax) {
    return range_error("stall_threshold", L::kStallMin, L::kStallMax, " ms");
  }
  if (c.restart_grace_ms > L::kRestartGraceMax) {
    return range_error("restart_grace", 0, L::kRestartGraceMax, " ms");
  }
  return std::nullopt;
}

uint32_t advised_interval_s(const EngineConfig& c, uint64_t sessions_online) {
  uint64_t interval = c.interval_s;
  if (c.heartbeat_budget > 0) {
    const uint64_t needed = (sessions_online + c.heartbeat_budget - 1) / c.heartbeat_budget;
    if (needed > interval) interval = needed;
  }
  if (interval < c.min_interval_s) interval = c.min_interval_s;
  if (interval > c.max_interval_s) interval = c.max_interval_s;
  return static_cast<uint32_t>(interval);
}

}  // namespace presenced::engine
