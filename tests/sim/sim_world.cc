// sim_world.cc: the simulation driver of sim_world.h.
#include "tests/sim/sim_world.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <sys/resource.h>

#include "dataplane/auth/session_key.h"
#include "tests/support/spec_vector.h"

namespace presenced::sim {

bool g_engine_call = false;
uint64_t g_engine_allocations = 0;

namespace {

TruthLimits truth_limits(const WorldOptions& o) {
  TruthLimits l;
  l.timeout_ms = engine::timeout_ms(o.config, o.config.interval_s);
  l.linger_ms = o.config.linger_ms;
  l.tick_ms = o.config.tick_ms;
  l.max_delay_ms = o.up.max_delay_ms();
  return l;
}

uint16_t random_port(Random& r) {
  return static_cast<uint16_t>(r.between(1024, 65535));
}

}  // namespace

World::World(const WorldOptions& o)
    : options_(o),
      salt_(stream_seed(o.seed, Stream::kEngine) ^ 0x5eed),
      world_rnd_(o.seed, Stream::kWorld),
      client_rnd_(o.seed, Stream::kClients),
      up_(o.up, o.seed, Stream::kNetUp),
      down_(o.down, o.seed, Stream::kNetDown),
      env_{options_.policy, client_rnd_.rng(), nullptr},
      truth_(o.clients, o.first_user, truth_limits(o)) {
  if (o.clients >= (1u << 24) - 2) throw std::invalid_argument("sim: at most 2^24 - 2 clients");
  for (uint32_t c = 0; c < o.cores; ++c) sockets_.emplace_back(o.socket_buffer);
  stalled_until_.assign(o.cores, 0);
  reply_buf_.resize(8192);
  event_buf_.resize(1 << 16);
  rx_buf_.resize(std::max<uint32_t>(1, o.burst));
  rx_bytes_.resize(rx_buf_.size());

  uint32_t epoch = static_cast<uint32_t>(stream_seed(o.seed, Stream::kEngine));
  if (epoch == 0) epoch = 1;
  build_server(epoch);

  const auto expiry =
      static_cast<uint32_t>(wall_ms() / 1000 + static_cast<int64_t>(o.token_lifetime_s));
  clients_.reserve(o.clients);
  for (uint32_t i = 0; i < o.clients; ++i) {
    clients_.push_back(SimClient{client::Session(credentials(i, expiry), wire::Status::kAvailable),
                                 kNeverMs, random_port(world_rnd_), false});
  }
  if (o.autostart) {
    for (uint32_t i = 0; i < o.clients; ++i) {
      queue_.push(o.start_at_ms + world_rnd_.below(std::max<uint32_t>(1, o.start_spread_ms)),
                  EvKind::kStart, i);
    }
  }
}

World::~World() = default;

client::SessionCredentials World::credentials(uint32_t i, uint32_t expiry) const {
  client::SessionCredentials c;
  c.user_id = user_of(i);
  c.device_id = 1;
  c.token_expiry = expiry;
  c.key = auth::derive_session_key(shared_->master_key(), c.user_id, c.device_id, expiry);
  return c;
}

auth::SessionKey World::key_of(uint32_t i) const {
  return auth::derive_session_key(shared_->master_key(), user_of(i), 1,
                                  clients_[i].session.token_expiry());
}

void World::build_server(uint32_t epoch) {
  engines_.clear();
  shared_.reset();
  table_.reset();
  table::PresenceTable::Options t;
  t.max_sessions = options_.table_sessions != 0 ? options_.table_sessions
                                                : options_.clients + options_.clients / 4 + 1024;
  t.shards = options_.shards;
  t.hash_seed = stream_seed(options_.seed, Stream::kEngine) | 1;
  t.try_hugetlb = false;
  std::string err;
  table_ = table::PresenceTable::create(t, &err);
  if (!table_) throw std::runtime_error("sim: table: " + err);
  engine::EngineShared::Options s;
  s.cores = options_.cores;
  s.mono_base_ns = 0;
  s.epoch = epoch;
  s.master_key = testing::spec_master_key();
  shared_ = std::make_unique<engine::EngineShared>(*table_, s);
  for (uint32_t c = 0; c < options_.cores; ++c) {
    engines_.push_back(std::make_unique<engine::Engine>(*shared_, c, options_.config));
  }
}

void World::restart_server(uint32_t epoch) {
  past_stats_ += server_stats();
  for (SocketBuffer& sb : sockets_) {
    while (sb.size() != 0) pool_.free(sb.pop());
  }
  build_server(epoch);
}

engine::CoreStatsSnapshot World::server_stats() const {
  engine::CoreStatsSnapshot total;
  for (uint32_t c = 0; c < options_.cores; ++c) total += shared_->stats(c).snapshot();
  return total;
}

engine::CoreStatsSnapshot World::total_server_stats() const {
  engine::CoreStatsSnapshot total = past_stats_;
  total += server_stats();
  return total;
}

engine::Clock World::engine_clock() const {
  engine::Clock c;
  c.mono_ns = engine_ms() * 1'000'000;
  c.wall_ms = wall_ms();
  return c;
}

client::Now World::client_now() const {
  client::Now n;
  n.mono_ms = now_ms() + kMonoOriginMs;
  n.unix_s = static_cast<uint32_t>(wall_ms() / 1000);
  return n;
}

void World::at(uint64_t t_ms, std::function<void()> action) {
  actions_.emplace(std::max(t_ms, now_ms()), std::move(action));
}

void World::run_until(uint64_t t_ms) {
  while (now_ms() < t_ms) step();
}

void World::step() {
  const uint64_t t = now_ms();
  while (!actions_.empty() && actions_.begin()->first <= t) {
    auto fn = std::move(actions_.begin()->second);
    actions_.erase(actions_.begin());
    fn();
  }
  traffic_this_ms_ = false;
  SimEvent e;
  while (queue_.pop(e)) {
    ++events_run_;
    handle(e);
  }
  const bool periodic = t % std::max<uint32_t>(1, options_.config.tick_ms) == 0;
  for (uint32_t c = 0; c < options_.cores; ++c) {
    if (stalled(c)) continue;
    if (sockets_[c].size() != 0) {
      run_core(c);
    } else if (periodic || traffic_this_ms_) {
      engine_call(c, {}, nullptr, nullptr);
    }
  }
  if (hooks_.after_cores) hooks_.after_cores(t);
  queue_.advance();
}

void World::handle(const SimEvent& e) {
  switch (e.kind) {
    case EvKind::kWake: {
      SimClient& c = clients_[e.a];
      if (!c.alive || c.wake_at != e.at_ms) return;  // stale
      c.wake_at = kNeverMs;
      client_output(e.a, c.session.on_wake(client_now(), env_));
      refile_wake(e.a);
      return;
    }
    case EvKind::kUpArrive: {
      traffic_this_ms_ = true;
      ++nc_.delivered_up;
      const uint32_t core = core_of(pool_[e.a].addr);
      if (!sockets_[core].push(e.a)) {
        ++nc_.socket_dropped;
        pool_.free(e.a);
      }
      return;
    }
    case EvKind::kDownArrive:
      deliver_to_client(e.a);
      return;
    case EvKind::kLogin:
      login(e.a);
      return;
    case EvKind::kStart:
      start_client(e.a);
      return;
  }
}

void World::deliver_to_client(uint32_t id) {
  const SimPacket& p = pool_[id];
  uint32_t i = 0;
  if (!client_of(p.addr, i) || i >= clients_.size()) {
    pool_.free(id);
    return;
  }
  SimClient& c = clients_[i];
  if (p.addr.port != c.port) {
    ++nc_.nat_dropped;
  } else if (!c.alive) {
    ++nc_.to_stopped;
  } else {
    ++nc_.delivered_down;
    client::PacketInfo info;
    const client::PacketResult r = c.session.on_packet({p.bytes, p.len}, client_now(), env_, &info);
    ++cc_.results[static_cast<std::size_t>(r)];
    if (r == client::PacketResult::kAccepted && info.epoch_changed) ++cc_.epoch_changes;
    if (r == client::PacketResult::kReconnect && info.reason == wire::ReconnectReason::kOverload) {
      ++cc_.overload_reconnects;
    }
    if (hooks_.on_client_packet) hooks_.on_client_packet(i, r, info);
    refile_wake(i);
  }
  pool_.free(id);
}

void World::client_output(uint32_t i, const client::Output& out) {
  ++cc_.actions[static_cast<std::size_t>(out.action)];
  if (out.action == client::Action::kTokenExpired) {
    // The app logs in again; the login service answers after a while.
    queue_.push(
        now_ms() + options_.login_latency_ms + world_rnd_.below(options_.login_jitter_ms + 1),
        EvKind::kLogin, i);
  }
  if (!out.send) return;
  ++cc_.sends;
  const NetAddr src = address_of(i);
  if (hooks_.on_send) hooks_.on_send(i, out, src);
  uint32_t delays[2];
  const int copies = up_.transmit(delays);
  for (int k = 0; k < copies; ++k) {
    const uint32_t id = pool_.alloc_copy(out.packet.data(), out.packet.size(), src);
    queue_.push(now_ms() + delays[k], EvKind::kUpArrive, id);
  }
}

void World::refile_wake(uint32_t i) {
  SimClient& c = clients_[i];
  const uint64_t w = c.session.next_wake_ms();
  if (!c.alive || w == client::kNever) {
    c.wake_at = kNeverMs;
    return;
  }
  const uint64_t at = w < kMonoOriginMs ? 0 : w - kMonoOriginMs;
  if (at == c.wake_at) return;
  c.wake_at = std::max(at, now_ms());
  queue_.push(c.wake_at, EvKind::kWake, i);
}

void World::login(uint32_t i) {
  SimClient& c = clients_[i];
  if (!c.alive) return;
  // Tokens are issued relative to the wall clock; never earlier than the
  // one the session holds (the server would drop that as stale).
  const int64_t wall_s = wall_ms() / 1000;
  const auto expiry = static_cast<uint32_t>(
      std::max<int64_t>(wall_s + options_.token_lifetime_s, int64_t{c.session.token_expiry()} + 1));
  const client::SessionCredentials cr = credentials(i, expiry);
  ++cc_.renewals;
  client_output(i, c.session.renew(cr.key, expiry, client_now(), env_));
  refile_wake(i);
}

void World::start_client(uint32_t i) {
  SimClient& c = clients_[i];
  if (c.alive) return;
  if (c.session.state() != client::State::kNew) {
    // A new app instance: a fresh login and a fresh state machine.
    const int64_t wall_s = wall_ms() / 1000;
    const auto expiry = static_cast<uint32_t>(std::max<int64_t>(
        wall_s + options_.token_lifetime_s, int64_t{c.session.token_expiry()} + 1));
    c.session = client::Session(credentials(i, expiry), wire::Status::kAvailable);
  }
  c.alive = true;
  truth_.started(i, now_ms());
  client_output(i, c.session.start(client_now(), env_));
  refile_wake(i);
}

void World::stop_client(uint32_t i) {
  SimClient& c = clients_[i];
  if (!c.alive) return;
  c.alive = false;
  c.wake_at = kNeverMs;
  truth_.stopped(i, now_ms());
}

void World::rebind(uint32_t i) {
  SimClient& c = clients_[i];
  uint16_t p = c.port;
  while (p == c.port) p = random_port(world_rnd_);
  c.port = p;
}

void World::set_status(uint32_t i, wire::Status status) {
  SimClient& c = clients_[i];
  if (!c.alive) return;
  client_output(i, c.session.set_status(status, client_now(), env_));
  refile_wake(i);
}

void World::stall_core(uint32_t core, uint64_t duration_ms) {
  stalled_until_[core] = std::max(stalled_until_[core], now_ms() + duration_ms);
}

void World::run_core(uint32_t core) {
  SocketBuffer& sb = sockets_[core];
  uint32_t budget = options_.rx_per_ms;
  while (sb.size() != 0 && budget != 0) {
    const auto n = static_cast<uint32_t>(
        std::min<std::size_t>({sb.size(), rx_buf_.size(), static_cast<std::size_t>(budget)}));
    // Copied out of the pool: replies allocate pool records (which may move
    // them) while the burst is still in use.
    for (uint32_t k = 0; k < n; ++k) {
      const uint32_t id = sb.pop();
      const SimPacket& p = pool_[id];
      std::memcpy(rx_bytes_[k].data(), p.bytes, p.len);
      engine::RxDatagram& d = rx_buf_[k];
      d.data = rx_bytes_[k].data();
      d.len = p.len;
      d.src = p.addr;
      d.local = NetAddr::v4_bytes(192, 0, 2, 1, wire::kDefaultPort);
      d.l2_hint = 0;
      pool_.free(id);
    }
    const std::span<const engine::RxDatagram> burst(rx_buf_.data(), n);
    engine_call(core, burst, nullptr, nullptr);
    if (hooks_.after_process) hooks_.after_process(core, burst);
    budget -= n;
  }
}

void World::call_core(uint32_t core, std::span<const engine::RxDatagram> burst,
                      std::vector<engine::TxDatagram>* replies_out,
                      std::vector<engine::PresenceEvent>* events_out) {
  engine_call(core, burst, replies_out, events_out);
}

void World::engine_call(uint32_t core, std::span<const engine::RxDatagram> burst,
                        std::vector<engine::TxDatagram>* replies_out,
                        std::vector<engine::PresenceEvent>* events_out) {
  ++nc_.core_calls;
  engine::ReplyBatch replies{reply_buf_.data(), static_cast<uint32_t>(reply_buf_.size()), 0};
  engine::EventBatch events{event_buf_.data(), static_cast<uint32_t>(event_buf_.size()), 0};
  const engine::Clock clock = engine_clock();
  g_engine_call = true;
  if (burst.empty()) {
    engines_[core]->tick(clock, replies, events);
  } else {
    engines_[core]->process(burst, clock, replies, events);
  }
  g_engine_call = false;
  const uint64_t t = now_ms();
  for (uint32_t k = 0; k < replies.size; ++k) {
    const engine::TxDatagram& tx = replies.data[k];
    if (replies_out != nullptr) replies_out->push_back(tx);
    uint32_t delays[2];
    const int copies = down_.transmit(delays);
    for (int j = 0; j < copies; ++j) {
      const uint32_t id = pool_.alloc_copy(tx.bytes, tx.len, tx.dst);
      queue_.push(t + delays[j], EvKind::kDownArrive, id);
    }
  }
  for (uint32_t k = 0; k < events.size; ++k) {
    const engine::PresenceEvent& ev = events.data[k];
    if (events_out != nullptr) events_out->push_back(ev);
    truth_.on_event(ev, t);
    if (hooks_.on_event) hooks_.on_event(ev, t);
  }
}

std::vector<table::SessionView> World::table_snapshot() const {
  std::vector<table::SessionView> out;
  for (uint32_t s = 0; s < table_->shard_count(); ++s) {
    table_->scan_shard(s, [&](const table::SessionView& v) { out.push_back(v); });
  }
  return out;
}

std::string World::traffic_summary() const {
  char buf[512];
  const engine::CoreStatsSnapshot s = total_server_stats();
  std::snprintf(buf, sizeof buf,
                "up_sent=%llu up_lost=%llu down_sent=%llu down_lost=%llu socket_drops=%llu "
                "heartbeats=%llu resends=%llu dead=%llu reconnect_attempts=%llu acks_accepted=%llu "
                "renewals=%llu srv_accepted=%llu srv_drops=%llu",
                static_cast<unsigned long long>(up_.stats().sent),
                static_cast<unsigned long long>(up_.stats().lost),
                static_cast<unsigned long long>(down_.stats().sent),
                static_cast<unsigned long long>(down_.stats().lost),
                static_cast<unsigned long long>(nc_.socket_dropped),
                static_cast<unsigned long long>(cc_.action(client::Action::kHeartbeat)),
                static_cast<unsigned long long>(cc_.action(client::Action::kResend)),
                static_cast<unsigned long long>(cc_.action(client::Action::kDead)),
                static_cast<unsigned long long>(cc_.action(client::Action::kReconnectAttempt)),
                static_cast<unsigned long long>(cc_.result(client::PacketResult::kAccepted)),
                static_cast<unsigned long long>(cc_.renewals),
                static_cast<unsigned long long>(s.heartbeats_accepted),
                static_cast<unsigned long long>(s.drops_total()));
  return buf;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

uint64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0;
  unsigned long long resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * 4096ULL : 0;
}

}  // namespace presenced::sim
