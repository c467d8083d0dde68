#include "tools/loadgen/worker.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <netinet/in.h>

#include "dataplane/common/byte_order.h"
#if PRESENCED_LOADGEN_DPDK
#include "tools/loadgen/dpdk_fleet.h"
#endif

namespace presenced::loadgen {

using client::Action;
using client::PacketResult;
using client::State;

StatsSnapshot& StatsSnapshot::operator+=(const StatsSnapshot& o) {
  started += o.started;
  sent += o.sent;
  heartbeats += o.heartbeats;
  resends += o.resends;
  reconnect_attempts += o.reconnect_attempts;
  redirect_resumes += o.redirect_resumes;
  dead += o.dead;
  token_renewals += o.token_renewals;
  acks += o.acks;
  rx += o.rx;
  rx_foreign += o.rx_foreign;
  rx_silenced += o.rx_silenced;
  redirect_unsupported += o.redirect_unsupported;
  up += o.up;
  ever_up += o.ever_up;
  silenced += o.silenced;
  storm_restarted += o.storm_restarted;
  storm_back += o.storm_back;
  wheel_schedule_failures += o.wheel_schedule_failures;
  advised_interval_s = std::max(advised_interval_s, o.advised_interval_s);
  if (o.advised_min_s != 0 && (advised_min_s == 0 || o.advised_min_s < advised_min_s)) {
    advised_min_s = o.advised_min_s;
  }
  advised_max_s = std::max(advised_max_s, o.advised_max_s);
  passes += o.passes;
  sleeps += o.sleeps;
  visits += o.visits;
  tx_dropped += o.tx_dropped;
  tx_eagain_waits += o.tx_eagain_waits;
  tx_calls += o.tx_calls;
  rx_calls += o.rx_calls;
  for (std::size_t i = 0; i < client::kPacketResultCount; ++i) rx_result[i] += o.rx_result[i];
  for (std::size_t i = 0; i < 5; ++i) reconnect_reason[i] += o.reconnect_reason[i];
  return *this;
}

// The wheel's visitor: prefetches the sessions of a chunk, then visits.
template <typename Fleet>
struct Worker<Fleet>::Visitor {
  Worker& w;
  uint64_t operator()(uint32_t id, uint64_t now_ms) { return w.visit(id, now_ms); }
  void prefetch(uint32_t id) { prefetch_write(&w.table_.session(id)); }
};

template <typename Fleet>
Worker<Fleet>::Worker(const WorkerConfig& config, SessionTable& table, Shared& shared,
                      std::unique_ptr<Fleet> fleet)
    : config_(config),
      options_(*config.options),
      table_(table),
      shared_(shared),
      t0_(config.t0_ms),
      forced_(config.options->forced_interval_ms != 0),
      fleet_(std::move(fleet)),
      rng_(config.options->seed * 1000003 + config.index + 1),
      start_next_(config.begin) {}

template <typename Fleet>
Worker<Fleet>::~Worker() = default;

template <typename Fleet>
typename Worker<Fleet>::Clock Worker<Fleet>::read_clock() {
  using namespace std::chrono;
  const auto mono = steady_clock::now().time_since_epoch();
  const auto wall = system_clock::now().time_since_epoch();
  Clock c;
  const auto us = static_cast<uint64_t>(duration_cast<microseconds>(mono).count());
  c.mono_ms = us / 1000;
  c.us32 = static_cast<uint32_t>(us);
  c.now = client::Now{c.mono_ms, static_cast<uint32_t>(duration_cast<seconds>(wall).count())};
  return c;
}

template <typename Fleet>
bool Worker<Fleet>::open(std::string* error) {
  // Entries: one per session, one more per session for a storm restart, and
  // the stale entries an ACK leaves behind when the interval is shorter than
  // the ACK timeout (at most one per interval, each living one ACK timeout).
  // The pool's pages are touched only as they are used.
  const uint64_t n = config_.end - config_.begin;
  const uint64_t shortest = forced_ ? std::max<uint64_t>(options_.forced_interval_ms, 1) : 1000;
  const uint64_t stale = (options_.policy.ack_timeout_ms + shortest - 1) / shortest;
  const uint64_t capacity = std::min<uint64_t>(n * (3 + stale), uint64_t{1} << 31);
  wheel::TimingWheel::Options wo;
  wo.bucket_bits = 16;
  wo.capacity = static_cast<uint32_t>(capacity);
  wheel_ = std::make_unique<wheel::TimingWheel>(wo, read_clock().mono_ms);
  if (!wheel_->ok()) {
    if (error != nullptr) *error = "cannot allocate the timing wheel";
    return false;
  }
  endpoints_.push_back(options_.server);
  targets_.reserve(16);
  targets_.push_back(to_sock_target(options_.server));
  return true;
}

template <typename Fleet>
StatsSnapshot Worker<Fleet>::snapshot() const {
  StatsSnapshot s;
  const WorkerStats& w = stats_;
  s.started = w.started.get();
  s.sent = w.sent.get();
  s.heartbeats = w.heartbeats.get();
  s.resends = w.resends.get();
  s.reconnect_attempts = w.reconnect_attempts.get();
  s.redirect_resumes = w.redirect_resumes.get();
  s.dead = w.dead.get();
  s.token_renewals = w.token_renewals.get();
  s.acks = w.acks.get();
  s.rx = w.rx.get();
  s.rx_foreign = w.rx_foreign.get();
  s.rx_silenced = w.rx_silenced.get();
  s.redirect_unsupported = w.redirect_unsupported.get();
  s.up = w.up.get();
  s.ever_up = w.ever_up.get();
  s.silenced = w.silenced.get();
  s.storm_restarted = w.storm_restarted.get();
  s.storm_back = w.storm_back.get();
  s.wheel_schedule_failures = w.wheel_schedule_failures.get();
  s.advised_interval_s = w.advised_interval_s.get();
  s.advised_min_s = w.advised_min_s.get();
  s.advised_max_s = w.advised_max_s.get();
  s.passes = w.passes.get();
  s.sleeps = w.sleeps.get();
  s.visits = w.visits.get();
  for (std::size_t i = 0; i < client::kPacketResultCount; ++i) s.rx_result[i] = w.rx_result[i].get();
  for (std::size_t i = 0; i < 5; ++i) s.reconnect_reason[i] = w.reconnect_reason[i].get();
  if (fleet_) {
    const auto& c = fleet_->counters();
    s.tx_dropped = c.tx_dropped.get();
    s.tx_eagain_waits = c.tx_eagain_waits.get();
    s.tx_calls = c.tx_calls.get();
    s.rx_calls = c.rx_calls.get();
  }
  return s;
}

template <typename Fleet>
void Worker<Fleet>::run() {
  fleet_->bind_thread();
  clock_ = read_clock();
  start_t0_ = clock_.mono_ms;
  pin_forced_interval();
  while (!shared_.stop.load(std::memory_order_relaxed)) {
    clock_ = read_clock();
    stats_.passes.add();
    if (!silenced_done_ &&
        clock_.mono_ms >= shared_.silence_at_ms.load(std::memory_order_acquire)) {
      silence_range();
    }
    if (!storm_done_) {
      const uint64_t at = shared_.storm_at_ms.load(std::memory_order_acquire);
      if (at != kNotYet) storm_range(at);
    }
    const uint64_t before = stats_.sent.get() + stats_.rx.get();
    receive_all();
    start_due();
    // At most kMaxStepMs of timers per pass: a worker that falls behind
    // (more due than it can send) still drains its sockets between steps,
    // instead of sending for a whole second while the replies overflow the
    // receive buffers and turn into resends.
    const uint64_t step_to = std::min(clock_.mono_ms, wheel_->current_ms() + kMaxStepMs);
    const std::size_t visited = wheel_->advance(step_to, Visitor{*this});
    stats_.visits.add(visited);
    fleet_->flush_all();
    if (forced_) pin_forced_interval();
    if (stats_.sent.get() + stats_.rx.get() == before && wheel_->current_ms() >= clock_.mono_ms) {
      stats_.sleeps.add();
      fleet_->wait(1);
    }
  }
  fleet_->flush_all();
}

template <typename Fleet>
void Worker<Fleet>::start_due() {
  if (start_next_ >= config_.end) return;
  const double elapsed_s = static_cast<double>(clock_.mono_ms - start_t0_) / 1000.0;
  const auto due = static_cast<uint64_t>(elapsed_s * config_.start_rate) + 1;
  // Bounded per pass, so receiving and timers keep up while a fast ramp runs.
  const uint64_t target = std::min({config_.end, config_.begin + due, start_next_ + 4096});
  const client::Env e = env();
  for (; start_next_ < target; ++start_next_) {
    const uint64_t i = start_next_;
    client::Session& s = table_.session(i);
    handle(i, s.start(clock_.now, e));
    stats_.started.add();
    const uint64_t w = s.next_wake_ms();
    if (w == client::kNever) continue;
    const uint64_t at = std::min(w, wheel_->current_ms() + wheel_->span_ms() / 2);
    if (wheel_->schedule(static_cast<uint32_t>(i), at)) {
      table_.armed_ms(i) = rel(at);
    } else {
      stats_.wheel_schedule_failures.add();
    }
  }
}

template <typename Fleet>
void Worker<Fleet>::receive_all() {
  const uint32_t queues = fleet_->rx_queues();
  // Up to 64 bursts per socket per pass (a DPDK fleet's one queue gets the
  // budget of all its source ports); whatever is left waits for the next
  // pass, after the timers had their (bounded) turn.
  const uint32_t bursts = 64 * std::max(fleet_->sockets() / queues, 1u);
  const uint32_t full = fleet_->batch();
  for (uint32_t q = 0; q < queues; ++q) {
    for (uint32_t burst = 0; burst < bursts; ++burst) {
      const uint32_t n = fleet_->receive(q, [this](const uint8_t* d, std::size_t len, bool trunc) {
        on_datagram(d, len, trunc);
      });
      if (n < full) break;
    }
  }
}

template <typename Fleet>
void Worker<Fleet>::on_datagram(const uint8_t* data, std::size_t len, bool truncated) {
  stats_.rx.add();
  if (truncated || len < wire::kHeaderSize) {
    stats_.rx_result[static_cast<std::size_t>(PacketResult::kMalformed)].add();
    return;
  }
  const uint64_t user = load_be<uint64_t>(data + wire::kOffUserId);
  const uint32_t device = load_be<uint32_t>(data + wire::kOffDeviceId);
  const uint64_t i = table_.index_of(user, device);
  if (i < config_.begin || i >= config_.end) {  // also UINT64_MAX: not ours
    stats_.rx_foreign.add();
    return;
  }
  if (table_.flags(i) & kSilenced) {
    stats_.rx_silenced.add();
    return;
  }
  client::Session& s = table_.session(i);
  client::PacketInfo info;
  const PacketResult r = s.on_packet(std::span<const uint8_t>(data, len), clock_.now, env(), &info);
  stats_.rx_result[static_cast<std::size_t>(r)].add();
  switch (r) {
    case PacketResult::kAccepted: {
      stats_.acks.add();
      if (info.seq == s.seq()) ack_latency_us_.record(clock_.us32 - table_.sent_us(i));
      mark_up(i);
      const uint16_t adv = std::max<uint16_t>(info.next_interval_s, 1);
      stats_.advised_interval_s.set(adv);
      if (stats_.advised_min_s.get() == 0 || adv < stats_.advised_min_s.get()) {
        stats_.advised_min_s.set(adv);
      }
      if (adv > stats_.advised_max_s.get()) stats_.advised_max_s.set(adv);
      schedule_if_earlier(i);
      break;
    }
    case PacketResult::kReconnect:
      note_redirect(i, info);
      schedule_if_earlier(i);
      break;
    default:
      break;
  }
}

template <typename Fleet>
void Worker<Fleet>::mark_up(uint64_t i) {
  uint8_t& f = table_.flags(i);
  if ((f & kUp) == 0) {
    f |= kUp;
    stats_.up.add();
  }
  if ((f & kEverUp) == 0) {
    f |= kEverUp;
    stats_.ever_up.add();
  }
  if (f & kStormPending) {
    f = static_cast<uint8_t>(f & ~kStormPending);
    stats_.storm_back.add();
    storm_back_ms_.record(clock_.mono_ms - storm_at_);
  }
}

template <typename Fleet>
void Worker<Fleet>::schedule_if_earlier(uint64_t i) {
  const uint64_t w = table_.session(i).next_wake_ms();
  if (w == client::kNever) return;
  if (rel(w) >= table_.armed_ms(i)) return;  // the authoritative entry comes first anyway
  const uint64_t at = std::min(w, wheel_->current_ms() + wheel_->span_ms() / 2);
  if (wheel_->schedule(static_cast<uint32_t>(i), at)) {
    table_.armed_ms(i) = rel(at);
  } else {
    stats_.wheel_schedule_failures.add();
  }
}

template <typename Fleet>
uint64_t Worker<Fleet>::visit(uint32_t id, uint64_t now_ms) {
  const uint64_t i = id;
  if (table_.flags(i) & kSilenced) return wheel::TimingWheel::kDone;
  uint32_t& armed = table_.armed_ms(i);
  if (armed == kUnarmed || armed > rel(now_ms)) return wheel::TimingWheel::kDone;  // stale
  client::Session& s = table_.session(i);
  const client::Env e = env();
  if (s.state() == State::kNew) {
    handle(i, s.start(clock_.now, e));
  } else {
    // A step may make the next one due at once (a zero backoff); bounded.
    for (int k = 0; k < 4 && s.next_wake_ms() <= now_ms; ++k) {
      const client::Output out = s.on_wake(clock_.now, e);
      if (out.action == Action::kNone) break;
      handle(i, out);
    }
  }
  const uint64_t w = s.next_wake_ms();
  if (w == client::kNever) {
    armed = kUnarmed;
    return wheel::TimingWheel::kDone;
  }
  // This entry sits in bucket t0 + armed (or later, if schedule() clamped
  // it up); the wheel parks re-arms beyond bucket + span - 1, so stay below.
  const uint64_t bucket = t0_ + armed;
  uint64_t at = std::max(w, now_ms + 1);
  at = std::min(at, bucket + wheel_->span_ms() - 1);
  at = std::max(at, now_ms + 1);
  armed = rel(at);
  return at;
}

template <typename Fleet>
void Worker<Fleet>::handle(uint64_t i, const client::Output& out) {
  switch (out.action) {
    case Action::kNone:
      return;
    case Action::kHeartbeat:
      stats_.heartbeats.add();
      break;
    case Action::kResend:
      stats_.resends.add();
      break;
    case Action::kReconnectAttempt:
      stats_.reconnect_attempts.add();
      break;
    case Action::kRedirectResume:
      stats_.redirect_resumes.add();
      break;
    case Action::kDead: {
      stats_.dead.add();
      uint8_t& f = table_.flags(i);
      if (f & kUp) {
        f = static_cast<uint8_t>(f & ~kUp);
        stats_.up.sub();
      }
      break;
    }
    case Action::kTokenExpired:
      renew_token(i);
      return;
    case Action::kBye:
    case Action::kByeResend:
    case Action::kClosed:
      break;
  }
  if (!out.send) return;
  uint8_t& route = table_.route(i);
  if (out.switch_target) route = static_cast<uint8_t>((route >> 4) * 0x11);  // current = pending
  fleet_->send(socket_of(i), targets_[route & 0x0f], out.packet.data(), out.packet.size());
  table_.sent_us(i) = clock_.us32;
  stats_.sent.add();
}

template <typename Fleet>
void Worker<Fleet>::pin_forced_interval() {
  if (!forced_) return;
  // Keep the store's ceiling just above the forced interval so that no
  // session probes a longer one (see the header comment). A survived round
  // at the ceiling clears it; this puts it back before the next pass.
  const client::AdaptiveIntervalStore::Entry* e = store_.find(0);
  if (e == nullptr || e->ceiling_ms == 0) {
    store_.record(0, options_.forced_interval_ms + 1, /*survived=*/false, options_.policy);
  }
}

template <typename Fleet>
void Worker<Fleet>::renew_token(uint64_t i) {
  client::Session& s = table_.session(i);
  const uint64_t wanted = uint64_t{clock_.now.unix_s} + options_.token_ttl_s;
  const uint64_t expiry = std::max<uint64_t>(wanted, uint64_t{s.token_expiry()} + 1);
  if (expiry > UINT32_MAX) return;
  const auto e32 = static_cast<uint32_t>(expiry);
  stats_.token_renewals.add();
  const auth::SessionKey key =
      auth::derive_session_key(options_.master, s.user_id(), s.device_id(), e32);
  handle(i, s.renew(key, e32, clock_.now, env()));
}

template <typename Fleet>
void Worker<Fleet>::silence_range() {
  silenced_done_ = true;
  const uint32_t d = options_.devices;
  for (uint64_t i = config_.begin; i < config_.end; i += d) {
    const uint64_t u = i / d;
    if (!churn_selected(u, options_.churn_fraction, options_.seed)) continue;
    for (uint64_t k = i; k < i + d; ++k) {
      uint8_t& f = table_.flags(k);
      if (f & kUp) stats_.up.sub();
      f = static_cast<uint8_t>((f & ~kUp) | kSilenced);
      stats_.silenced.add();
    }
  }
}

template <typename Fleet>
void Worker<Fleet>::storm_range(uint64_t storm_at_ms) {
  storm_done_ = true;
  storm_at_ = storm_at_ms;
  // Every session restarts as an app would after being killed and logging
  // in again: the old state is dropped silently (no BYE), a new token (one
  // second later, so the server starts it afresh) and a FIRST heartbeat at a
  // uniform time within the window.
  table_.reset_range(config_.begin, config_.end, options_.master, config_.token_expiry + 1,
                     options_.status);
  const uint32_t window =
      static_cast<uint32_t>(std::min<uint64_t>(options_.storm_window_ms, UINT32_MAX));
  for (uint64_t i = config_.begin; i < config_.end; ++i) {
    uint8_t& f = table_.flags(i);
    if (f & kSilenced) continue;
    if (f & kUp) stats_.up.sub();
    f = static_cast<uint8_t>((f & kEverUp) | kStormPending);
    table_.route(i) = 0;
    const uint64_t at = storm_at_ms + rng_.below(window);
    const uint64_t capped = std::min(at, wheel_->current_ms() + wheel_->span_ms() / 2);
    if (wheel_->schedule(static_cast<uint32_t>(i), capped)) {
      table_.armed_ms(i) = rel(capped);
    } else {
      stats_.wheel_schedule_failures.add();
    }
    stats_.storm_restarted.add();
  }
}

template <typename Fleet>
uint8_t Worker<Fleet>::target_index(const client::Endpoint& e) {
  for (std::size_t k = 0; k < endpoints_.size(); ++k) {
    if (endpoints_[k] == e) return static_cast<uint8_t>(k);
  }
  const bool same_family = (e.family == wire::TargetFamily::kIpv6) ==
                           (options_.server.family == wire::TargetFamily::kIpv6);
  if (endpoints_.size() >= 16 || !same_family) return 0xff;
  endpoints_.push_back(e);
  targets_.push_back(to_sock_target(e));
  return static_cast<uint8_t>(endpoints_.size() - 1);
}

template <typename Fleet>
void Worker<Fleet>::note_redirect(uint64_t i, const client::PacketInfo& info) {
  const auto reason = static_cast<std::size_t>(info.reason);
  stats_.reconnect_reason[reason < 5 ? reason : 0].add();
  uint8_t& route = table_.route(i);
  const client::Endpoint next = client::apply_redirect(endpoints_[route & 0x0f], info.target);
  uint8_t k = target_index(next);
  if (k == 0xff) {
    // More than 16 servers or another address family: stay where we are.
    stats_.redirect_unsupported.add();
    k = route & 0x0f;
  }
  route = static_cast<uint8_t>((route & 0x0f) | (k << 4));
}

template class Worker<UdpFleet>;
#if PRESENCED_LOADGEN_DPDK
template class Worker<DpdkFleet>;
#endif

}  // namespace presenced::loadgen
