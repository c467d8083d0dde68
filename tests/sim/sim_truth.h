// sim_truth.h: the ground truth of a simulation and the checker that holds
// the server's events against it.
//
// Owns: for every simulated client (one user, one device), when it was
// alive (running and sending) and when it was stopped, and what the
// server's user-level events have said about it. Every event is checked as
// it arrives:
//   * order: ONLINE only when not published online, STATUS and OFFLINE only
//     when published online ("no double events");
//   * false offline: an OFFLINE for a client that was alive during the whole
//     window in which silence could have caused it (timeout + linger before
//     the event);
//   * late offline: an OFFLINE for a stopped client later than
//     stop + max one-way delay + timeout + tick + linger (+ an allowance a
//     scenario grants, e.g. a stall);
// and at the end, missed offlines: stopped clients still published online
// past that bound. The checker also folds every event into a digest, so
// two runs can be compared for identical event streams.
//
// Time: simulated milliseconds (the driver's clock, which no clock jump of
// the server or the wall affects).
// Concurrency: none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/engine/presence_event.h"

namespace presenced::sim {

inline constexpr uint64_t kNeverMs = UINT64_MAX;

struct TruthLimits {
  uint64_t timeout_ms = 92'000;  // server timeout at the advised interval
  uint64_t linger_ms = 5'000;
  uint64_t tick_ms = 10;
  uint64_t max_delay_ms = 100;  // longest one-way delay to the server
  uint64_t allowance_ms = 0;    // extra lateness a scenario accepts (stalls)
};

struct TruthCounts {
  uint64_t online = 0;
  uint64_t status = 0;
  uint64_t offline = 0;
  uint64_t false_offlines = 0;  // OFFLINE while alive for the whole window
  uint64_t offline_of_stopped = 0;
  uint64_t late_offlines = 0;
  uint64_t double_online = 0;
  uint64_t double_offline = 0;  // OFFLINE (or STATUS) while not published online
  uint64_t unknown_user = 0;
  uint64_t max_offline_after_stop_ms = 0;
  uint64_t min_offline_after_stop_ms = kNeverMs;

  uint64_t order_violations() const { return double_online + double_offline + unknown_user; }
};

class Truth {
 public:
  Truth(uint32_t clients, uint64_t first_user, const TruthLimits& limits);

  void started(uint32_t client, uint64_t t);
  void stopped(uint32_t client, uint64_t t);
  // A server restart that lost nothing the consumers keep: no change. (The
  // published state belongs to the event consumers, who outlive servers.)

  void on_event(const engine::PresenceEvent& ev, uint64_t t);

  // Stopped clients still published online whose OFFLINE bound has passed.
  uint64_t missed_offlines(uint64_t t) const;

  bool alive(uint32_t client) const { return c_[client].alive_since != kNeverMs; }
  bool published(uint32_t client) const { return c_[client].published; }
  uint64_t last_online_ms(uint32_t client) const { return c_[client].last_online_ms; }
  uint32_t offlines_of(uint32_t client) const { return c_[client].offlines; }
  uint32_t onlines_of(uint32_t client) const { return c_[client].onlines; }
  uint64_t stopped_at(uint32_t client) const { return c_[client].stopped_ms; }

  const TruthCounts& counts() const { return counts_; }
  uint64_t digest() const { return digest_; }
  TruthLimits& limits() { return limits_; }
  uint64_t offline_bound_ms() const;  // stop -> OFFLINE, at the latest
  // The first few order violations and late offlines, for failure messages.
  const std::vector<std::string>& problems() const { return problems_; }
  // The first few false offlines (client, time), for failure messages.
  const std::vector<std::string>& false_offline_examples() const { return false_examples_; }

 private:
  struct Client {
    uint64_t alive_since = kNeverMs;  // kNeverMs: not running
    uint64_t stopped_ms = kNeverMs;   // last stop, if not running
    uint64_t last_online_ms = kNeverMs;
    uint32_t onlines = 0;
    uint32_t offlines = 0;
    bool published = false;
  };
  void problem(const std::string& what);

  std::vector<Client> c_;
  uint64_t first_user_;
  TruthLimits limits_;
  TruthCounts counts_;
  uint64_t digest_ = 0;
  std::vector<std::string> problems_;
  std::vector<std::string> false_examples_;
};

}  // namespace presenced::sim
