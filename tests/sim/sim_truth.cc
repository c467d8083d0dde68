// sim_truth.cc: the event checker of sim_truth.h.
#include "tests/sim/sim_truth.h"

#include "tests/sim/sim_random.h"

namespace presenced::sim {

Truth::Truth(uint32_t clients, uint64_t first_user, const TruthLimits& limits)
    : c_(clients), first_user_(first_user), limits_(limits) {}

void Truth::started(uint32_t i, uint64_t t) {
  if (c_[i].alive_since == kNeverMs) c_[i].alive_since = t;
  c_[i].stopped_ms = kNeverMs;
}

void Truth::stopped(uint32_t i, uint64_t t) {
  c_[i].alive_since = kNeverMs;
  c_[i].stopped_ms = t;
}

uint64_t Truth::offline_bound_ms() const {
  // The last packet is delivered by stop + max delay; the session times out
  // by then + timeout (+1 ms rounding) and is declared within a tick; its
  // OFFLINE waits linger; home work runs every simulated millisecond.
  return limits_.max_delay_ms + limits_.timeout_ms + limits_.tick_ms + limits_.linger_ms + 3 +
         limits_.allowance_ms;
}

void Truth::problem(const std::string& what) {
  if (problems_.size() < 20) problems_.push_back(what);
}

void Truth::on_event(const engine::PresenceEvent& ev, uint64_t t) {
  digest_ =
      mix64(digest_ ^ mix64(ev.user ^ (t << 20) ^ (uint64_t{static_cast<uint8_t>(ev.type)} << 8) ^
                            static_cast<uint8_t>(ev.status)));
  if (ev.user < first_user_ || ev.user - first_user_ >= c_.size()) {
    ++counts_.unknown_user;
    problem("event for unknown user " + std::to_string(ev.user));
    return;
  }
  const auto i = static_cast<uint32_t>(ev.user - first_user_);
  Client& c = c_[i];
  switch (ev.type) {
    case engine::EventType::kOnline:
      ++counts_.online;
      ++c.onlines;
      if (c.published) {
        ++counts_.double_online;
        problem("double ONLINE, client " + std::to_string(i) + " at " + std::to_string(t));
      }
      c.published = true;
      c.last_online_ms = t;
      break;
    case engine::EventType::kStatus:
      ++counts_.status;
      if (!c.published) {
        ++counts_.double_offline;
        problem("STATUS while offline, client " + std::to_string(i));
      }
      break;
    case engine::EventType::kOffline: {
      ++counts_.offline;
      ++c.offlines;
      if (!c.published) {
        ++counts_.double_offline;
        problem("double OFFLINE, client " + std::to_string(i) + " at " + std::to_string(t));
      }
      c.published = false;
      const uint64_t window = limits_.timeout_ms + limits_.linger_ms;
      if (c.alive_since != kNeverMs) {
        if (c.alive_since + window <= t) {
          ++counts_.false_offlines;
          if (false_examples_.size() < 10)
            false_examples_.push_back("false OFFLINE, client " + std::to_string(i) + " at " +
                                      std::to_string(t) + " alive since " +
                                      std::to_string(c.alive_since));
        }
      } else if (c.stopped_ms != kNeverMs) {
        ++counts_.offline_of_stopped;
        const uint64_t after = t - c.stopped_ms;
        if (after > counts_.max_offline_after_stop_ms) counts_.max_offline_after_stop_ms = after;
        if (after < counts_.min_offline_after_stop_ms) counts_.min_offline_after_stop_ms = after;
        if (after > offline_bound_ms()) {
          ++counts_.late_offlines;
          problem("late OFFLINE, client " + std::to_string(i) + " " + std::to_string(after) +
                  " ms after its stop");
        }
      }
      break;
    }
  }
}

uint64_t Truth::missed_offlines(uint64_t t) const {
  uint64_t n = 0;
  for (const Client& c : c_) {
    if (c.alive_since == kNeverMs && c.stopped_ms != kNeverMs && c.published &&
        c.stopped_ms + offline_bound_ms() < t) {
      ++n;
    }
  }
  return n;
}

}  // namespace presenced::sim
