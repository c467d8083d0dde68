// worker.h: one load-generator thread driving a contiguous range of sessions.
//
// Owns: the session range [begin, end) of the SessionTable (all devices of a
// user fall in one range), its fleet (the packet I/O: a UdpFleet of kernel
// sockets, or a DpdkFleet on a DPDK port), a TimingWheel whose ids
// are session indices, the thread's Rng and AdaptiveIntervalStore, its
// statistics and its histograms (ACK latency, storm return times). The loop
// reads top to bottom: clocks; commands (silence, storm, stop); receive
// bursts and route each datagram by (user, device) to its session's
// on_packet; start the sessions due by the bring-up rate; advance the wheel
// (at most kMaxStepMs per pass, so receiving keeps up when the worker falls
// behind), whose visitor runs on_wake for the sessions due; flush the sends;
// sleep 1 ms (a DpdkFleet: 100 us) when a pass found nothing to do.
//
// The wheel protocol (one authoritative entry per session)
// --------------------------------------------------------
// The client state machine says when it next needs to run
// (Session::next_wake_ms). The wheel holds ids only, so the worker keeps,
// per session, armed_ms: the time of the session's one authoritative entry.
//   * Visiting an entry with armed_ms > now: the entry is stale (an earlier
//     authoritative one was scheduled since); it is dropped.
//   * Otherwise the entry is authoritative: the session runs whatever is due
//     and the entry is re-armed at max(next_wake, now + 1), capped below the
//     wheel's parking limit (entry time + span - 1), so the wheel never moves
//     it and armed_ms always names its real bucket. A session far from due is
//     thus re-visited once per span, which is the wheel's lazy re-arm.
//   * An ACK or RECONNECT that brings next_wake before armed_ms schedules a
//     new entry there and moves armed_ms; the old entry becomes stale. With
//     intervals longer than the ACK timeout (the protocol's normal case) this
//     never happens: an ACK only moves the wake later.
//   * Two entries due in one advance: the first visited runs the session and
//     moves armed_ms past now, so the second is dropped.
// Silenced sessions (churn) drop every entry they meet.
//
// Forced rate (--rate): every session heartbeats every sessions/rate ms.
// This rides on the client library's adaptive mode: Policy::adaptive with
// start = floor = the forced interval, and the worker pins the thread's
// store's ceiling just above it, so sessions never probe longer intervals.
// The server's advice still bounds the interval: a session never heartbeats
// less often than advised, as the protocol asks.
//
// Transports: Worker<Fleet> is a class template over the fleet type, so the
// per-packet calls (send, receive, flush) are direct and inlinable; the
// runner holds workers as WorkerBase, whose virtual calls happen once per run
// or per progress sample. A Fleet provides: sockets(), rx_queues(),
// batch(), bind_thread(), send(s, SockTarget, data, len), flush_all(),
// receive(q, f), wait(ms) and counters() with tx_dropped, tx_eagain_waits,
// tx_calls and rx_calls (udp_fleet.h, dpdk_fleet.h). worker.cc instantiates
// Worker<UdpFleet>, and Worker<DpdkFleet> in builds with DPDK.
//
// Concurrency: run() is the thread body; everything above belongs to that
// thread. The main thread communicates only through Shared (atomics it
// writes, the worker reads; see there) and reads WorkerStats (single-writer
// counters) at any time; histograms only after the thread has joined.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/adaptive.h"
#include "client/endpoint.h"
#include "client/rng.h"
#include "client/session.h"
#include "dataplane/common/compiler.h"
#include "dataplane/common/counter.h"
#include "dataplane/wheel/timing_wheel.h"
#include "tools/loadgen/histogram.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/session_table.h"
#include "tools/loadgen/udp_fleet.h"

namespace presenced::loadgen {

inline constexpr uint64_t kNotYet = UINT64_MAX;

// Written by the main thread, read by every worker on each pass. Each value
// is self-contained (a time or a flag; everything else the workers need was
// fixed before they started), so relaxed/acquire loads are enough: a worker
// that sees a command a pass late acts a pass late.
struct alignas(kCacheLine) Shared {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> silence_at_ms{kNotYet};  // churn: silence at this mono ms
  std::atomic<uint64_t> storm_at_ms{kNotYet};    // storm: restarts spread from here
};

// Counters of one worker; the main thread sums them (operator+= on a
// snapshot) for the progress line and the report.
struct alignas(kCacheLine) WorkerStats {
  SingleWriterCounter started;         // sessions started (bring-up)
  SingleWriterCounter sent;            // datagrams handed to the fleet
  SingleWriterCounter heartbeats;      // Action::kHeartbeat
  SingleWriterCounter resends;         // Action::kResend
  SingleWriterCounter reconnect_attempts;
  SingleWriterCounter redirect_resumes;
  SingleWriterCounter dead;  // Action::kDead: retries exhausted
  SingleWriterCounter token_renewals;
  SingleWriterCounter acks;  // PacketResult::kAccepted
  SingleWriterCounter rx;
  SingleWriterCounter rx_foreign;   // not a session of this worker
  SingleWriterCounter rx_silenced;  // for a silenced session (ignored)
  SingleWriterCounter rx_result[client::kPacketResultCount];
  SingleWriterCounter reconnect_reason[5];  // by wire::ReconnectReason (index 0: other)
  SingleWriterCounter redirect_unsupported;
  SingleWriterCounter up;       // sessions with kUp now
  SingleWriterCounter ever_up;  // sessions acknowledged at least once
  SingleWriterCounter silenced;
  SingleWriterCounter storm_restarted;
  SingleWriterCounter storm_back;
  SingleWriterCounter wheel_schedule_failures;
  SingleWriterCounter advised_interval_s;  // from the latest accepted ACK
  SingleWriterCounter advised_min_s;
  SingleWriterCounter advised_max_s;
  SingleWriterCounter passes;
  SingleWriterCounter sleeps;
  SingleWriterCounter visits;
};

// A plain copy of WorkerStats, summable.
struct StatsSnapshot {
  uint64_t started = 0, sent = 0, heartbeats = 0, resends = 0, reconnect_attempts = 0,
           redirect_resumes = 0, dead = 0, token_renewals = 0, acks = 0, rx = 0, rx_foreign = 0,
           rx_silenced = 0, redirect_unsupported = 0, up = 0, ever_up = 0, silenced = 0,
           storm_restarted = 0, storm_back = 0, wheel_schedule_failures = 0,
           advised_interval_s = 0, advised_min_s = 0, advised_max_s = 0, passes = 0, sleeps = 0,
           visits = 0, tx_dropped = 0, tx_eagain_waits = 0, tx_calls = 0, rx_calls = 0;
  uint64_t rx_result[client::kPacketResultCount] = {};
  uint64_t reconnect_reason[5] = {};

  StatsSnapshot& operator+=(const StatsSnapshot& o);
};

struct WorkerConfig {
  uint32_t index = 0;
  uint64_t begin = 0;  // session indices, a multiple of devices
  uint64_t end = 0;
  uint32_t sockets = 1;
  uint64_t t0_ms = 0;         // steady-clock ms all workers count from
  uint32_t token_expiry = 0;  // of the sessions as created
  double start_rate = 1;      // this worker's share of --start-rate
  const Options* options = nullptr;
};

// What the runner sees of a worker, whatever its transport.
class WorkerBase {
 public:
  virtual ~WorkerBase() = default;
  // Allocates the wheel. False with a message.
  virtual bool open(std::string* error) = 0;
  // The thread body; returns after Shared::stop.
  virtual void run() = 0;
  virtual StatsSnapshot snapshot() const = 0;
  // Valid once run() has returned.
  virtual const Histogram& ack_latency_us() const = 0;
  virtual const Histogram& storm_back_ms() const = 0;
  virtual std::size_t wheel_memory_bytes() const = 0;
};

template <typename Fleet>
class Worker final : public WorkerBase {
 public:
  // Wheel time one pass advances at most (worker.cc, run()).
  static constexpr uint64_t kMaxStepMs = 4;

  // `fleet` is open; the worker owns it from here.
  Worker(const WorkerConfig& config, SessionTable& table, Shared& shared,
         std::unique_ptr<Fleet> fleet);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool open(std::string* error) override;
  void run() override;

  StatsSnapshot snapshot() const override;
  const Histogram& ack_latency_us() const override { return ack_latency_us_; }
  const Histogram& storm_back_ms() const override { return storm_back_ms_; }
  std::size_t wheel_memory_bytes() const override {
    return wheel_ ? wheel_->memory_bytes() : 0;
  }

 private:
  struct Clock {
    uint64_t mono_ms = 0;
    uint32_t us32 = 0;  // microseconds, wrapping (latencies only)
    client::Now now;
  };
  struct Visitor;

  static Clock read_clock();
  uint32_t rel(uint64_t mono_ms) const {
    return mono_ms <= t0_ ? 0 : static_cast<uint32_t>(mono_ms - t0_);
  }
  client::Env env() { return client::Env{options_.policy, rng_, forced_ ? &store_ : nullptr}; }
  uint32_t socket_of(uint64_t i) const {
    return static_cast<uint32_t>((i / options_.devices) % fleet_->sockets());
  }

  void start_due();
  void receive_all();
  void on_datagram(const uint8_t* data, std::size_t len, bool truncated);
  uint64_t visit(uint32_t id, uint64_t now_ms);
  void handle(uint64_t i, const client::Output& out);
  void mark_up(uint64_t i);
  void schedule_if_earlier(uint64_t i);
  void pin_forced_interval();
  PRESENCED_COLD void renew_token(uint64_t i);
  PRESENCED_COLD void silence_range();
  PRESENCED_COLD void storm_range(uint64_t storm_at_ms);
  PRESENCED_COLD void note_redirect(uint64_t i, const client::PacketInfo& info);
  uint8_t target_index(const client::Endpoint& e);

  WorkerConfig config_;
  const Options& options_;
  SessionTable& table_;
  Shared& shared_;
  uint64_t t0_;
  bool forced_;
  std::unique_ptr<Fleet> fleet_;
  std::unique_ptr<wheel::TimingWheel> wheel_;
  client::Rng rng_;
  client::AdaptiveIntervalStore store_;
  std::vector<client::Endpoint> endpoints_;  // [0]: the server; then redirect targets
  std::vector<SockTarget> targets_;          // the same, as socket addresses
  Clock clock_;
  uint64_t start_next_;
  uint64_t start_t0_ = 0;
  bool silenced_done_ = false;
  bool storm_done_ = false;
  uint64_t storm_at_ = 0;
  WorkerStats stats_;
  Histogram ack_latency_us_;
  Histogram storm_back_ms_;
};

extern template class Worker<UdpFleet>;

}  // namespace presenced::loadgen
