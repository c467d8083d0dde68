#include "control/server.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "control/log.h"
#include "dataplane/table/user_presence.h"

namespace presenced::control {
namespace {

constexpr std::size_t kEventRingCapacity = 1 << 16;
constexpr std::size_t kCommandRingCapacity = 256;

uint64_t mono_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

std::unique_ptr<Server> Server::create(const ServerConfig& config, const auth::MasterKey& key,
                                       std::string* error) {
  std::unique_ptr<Server> s(new Server());
  s->config_ = config;
  s->engine_config_ = config.engine;
  const uint32_t cores = static_cast<uint32_t>(config.cores.size());

  table::PresenceTable::Options t;
  t.max_sessions = config.max_sessions;
  t.shards = config.shards != 0 ? config.shards : cores;
  s->table_ = table::PresenceTable::create(t, error);
  if (!s->table_) return nullptr;
  log::info("presence table: " + std::to_string(config.max_sessions) + " sessions in " +
            std::to_string(t.shards) + " shards, " +
            std::to_string(s->table_->resident_bytes() >> 20) + " MiB (" + s->table_->backing() +
            " pages)");

  s->start_mono_ns_ = mono_now_ns();
  engine::EngineShared::Options so;
  so.cores = cores;
  so.master_key = key;
  // Engine time starts a second before now: engine ms 0 is never "now".
  so.mono_base_ns = s->start_mono_ns_ - 1'000'000'000;
  s->shared_ = std::make_unique<engine::EngineShared>(*s->table_, so);

  io::BackendOptions bo;
  bo.kind = config.backend;
  bo.listen = config.listen;
  bo.instances = cores;
  bo.burst = config.burst;
  bo.dpdk_args = config.dpdk_args;
  bo.dpdk_port = config.dpdk_port;
  bo.dpdk_addresses = config.dpdk_ips;
  bo.dpdk_prefix_lengths = config.dpdk_ip_prefixes;
  bo.dpdk_exception = config.dpdk_exception;
  s->backends_ = io::create_backends(bo, error);
  if (s->backends_.empty()) return nullptr;

  std::vector<SpscRing<engine::PresenceEvent>*> rings;
  for (uint32_t c = 0; c < cores; ++c) {
    s->engines_.push_back(std::make_unique<engine::Engine>(*s->shared_, c, config.engine));
    s->event_rings_.push_back(
        std::make_unique<SpscRing<engine::PresenceEvent>>(kEventRingCapacity));
    s->command_rings_.push_back(
        std::make_unique<SpscRing<loop::CoreCommand>>(kCommandRingCapacity));
    rings.push_back(s->event_rings_.back().get());
    loop::CoreLoop::Options lo;
    lo.cpu = config.cores[c];
    lo.busy_poll = config.busy_poll;
    lo.burst = config.burst;
    s->loops_.push_back(std::make_unique<loop::CoreLoop>(
        *s->engines_[c], *s->backends_[c], *s->event_rings_[c], *s->command_rings_[c], lo));
  }
  s->hub_ = std::make_unique<EventHub>(std::move(rings));
  return s;
}

Server::~Server() {
  stop();
}

void Server::start() {
  hub_->start();
  for (auto& loop : loops_) {
    threads_.emplace_back([this, l = loop.get()] { l->run(stop_); });
  }
}

void Server::stop() {
  if (threads_.empty()) return;
  stop_.store(true, std::memory_order_relaxed);
  for (auto& t : threads_) t.join();
  threads_.clear();
  hub_->stop();
}

uint64_t Server::uptime_ms() const {
  return (mono_now_ns() - start_mono_ns_) / 1'000'000;
}

engine::CoreStatsSnapshot Server::core_stats(uint32_t core) const {
  return shared_->stats(core).snapshot();
}

std::size_t Server::wheel_memory_bytes() const {
  std::size_t n = 0;
  for (const auto& e : engines_) n += e->wheel_memory_bytes();
  return n;
}

uint64_t Server::broadcast_locked(loop::CoreCommand c) {
  c.id = next_command_id_++;
  for (auto& ring : command_rings_) {
    // A core drains its ring every iteration; a full ring means it is stuck,
    // and waiting here (control plane only) is the right call.
    while (!ring->try_push(c)) std::this_thread::yield();
  }
  return c.id;
}

uint64_t Server::send_config(const engine::EngineConfig& config) {
  std::lock_guard<std::mutex> lock(command_mutex_);
  loop::CoreCommand c;
  c.kind = loop::CoreCommand::Kind::kSetConfig;
  c.config = config;
  engine_config_ = config;
  return broadcast_locked(c);
}

engine::EngineConfig Server::engine_config() const {
  std::lock_guard<std::mutex> lock(command_mutex_);
  return engine_config_;
}

}  // namespace presenced::control

// ---- control-plane queries and commands (bodies below are filled in as the
// engine support lands; see request_reconnect/start_drain) ----
namespace presenced::control {

bool Server::wait_applied(uint64_t id, uint32_t timeout_ms) const {
  const uint64_t deadline = mono_now_ns() + uint64_t{timeout_ms} * 1'000'000;
  for (;;) {
    bool all = true;
    for (const auto& l : loops_) all = all && l->counters().last_command.get() >= id;
    if (all) return true;
    if (threads_.empty()) return false;  // not running: nobody applies commands
    if (mono_now_ns() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace presenced::control

namespace presenced::control {

StatusSnapshot Server::status() const {
  StatusSnapshot s;
  s.version = PRESENCED_VERSION;
  s.backend = io::backend_name(config_.backend);
  s.epoch = shared_->epoch();
  s.uptime_ms = uptime_ms();
  s.listen = listen_address();
  s.max_sessions = table_->max_sessions();
  s.events_delivered = hub_->events_delivered();
  s.drain = drain_status();
  const uint32_t n = cores();
  s.cores.resize(n);
  for (uint32_t c = 0; c < n; ++c) {
    CoreStatus& cs = s.cores[c];
    cs.core = c;
    cs.cpu = config_.cores[c];
    cs.engine = core_stats(c);
    cs.io = backends_[c]->stats();
    cs.loop_iterations = loops_[c]->counters().iterations.get();
    cs.loop_sleeps = loops_[c]->counters().sleeps.get();
  }
  for (uint32_t sh = 0; sh < table_->shard_count(); ++sh) {
    const table::Shard& shard = table_->shard(sh);
    CoreStatus& cs = s.cores[shared_->home_core(sh)];
    cs.sessions_online += shard.counters.sessions_online.get();
    cs.users_online += shard.counters.users_online.get();
    cs.table_used += shard.counters.used.get();
    cs.table_capacity += shard.capacity;
  }
  for (const CoreStatus& cs : s.cores) {
    s.total.engine += cs.engine;
    s.total.io += cs.io;
    s.total.sessions_online += cs.sessions_online;
    s.total.users_online += cs.users_online;
    s.total.table_used += cs.table_used;
    s.total.table_capacity += cs.table_capacity;
    s.total.loop_iterations += cs.loop_iterations;
    s.total.loop_sleeps += cs.loop_sleeps;
  }
  return s;
}

std::optional<UserInfo> Server::query_user(uint64_t user) const {
  table::SessionView views[256];
  const std::size_t n = table_->read_user(user, views, 256);
  if (n == 0) return std::nullopt;
  const engine::Clock now = loop::CoreLoop::read_clock();
  const uint64_t now_ms = (now.mono_ns - shared_->mono_base_ns()) / 1'000'000;
  auto wall = [&](uint32_t last_seen32) {
    const int32_t age = static_cast<int32_t>(static_cast<uint32_t>(now_ms) - last_seen32);
    return now.wall_ms - age;
  };
  UserInfo u;
  u.user = user;
  table::UserPresenceFold fold;
  for (std::size_t i = 0; i < n; ++i) {
    const table::SessionView& v = views[i];
    DeviceInfo d;
    d.device = v.device;
    d.online = v.state.pub_online();
    d.status = v.state.pub_online() ? v.state.pub_status() : v.state.live_status();
    d.last_seen_ms = wall(v.last_seen_ms);
    d.address = v.addr;
    d.interval_s = v.state.pub_online() ? v.interval_s : 0;
    d.seq = v.seq;
    d.token_expiry = v.token_expiry;
    d.reconnect_pending = v.state.reconnect();
    if (v.state.pub_online() || v.state.linger()) fold.add(true, v.state.pub_status());
    u.lingering = u.lingering || v.state.linger();
    if (d.last_seen_ms > u.last_seen_ms) u.last_seen_ms = d.last_seen_ms;
    u.devices.push_back(d);
  }
  const table::UserPresence p = fold.result();
  u.online = p.online;
  u.status = p.status;
  return u;
}

uint64_t Server::directive_overflows() const {
  uint64_t n = 0;
  for (uint32_t c = 0; c < cores(); ++c) n += shared_->stats(c).reconnect_directive_overflow.get();
  return n;
}

bool Server::request_reconnect(const ReconnectRequest& request, std::string* error) {
  constexpr uint32_t kApplyTimeoutMs = 5000;
  std::lock_guard<std::mutex> lock(command_mutex_);
  // Phase 1: every core learns the directive (whichever core receives the
  // session's next heartbeat answers it). Phase 2, only once all have it:
  // the home cores mark the sessions.
  const uint64_t overflows = directive_overflows();
  loop::CoreCommand c;
  c.kind = loop::CoreCommand::Kind::kAddDirective;
  c.scope = request.scope;
  c.user = request.user;
  c.device = request.device;
  c.directive = request.directive;
  if (!wait_applied(broadcast_locked(c), kApplyTimeoutMs)) {
    if (error != nullptr) *error = "the data cores did not take the directive in time";
    return false;
  }
  if (directive_overflows() != overflows) {
    if (error != nullptr) {
      *error = "too many pending reconnect directives; retry after the current ones expire";
    }
    return false;
  }
  c.kind = loop::CoreCommand::Kind::kMarkReconnect;
  if (!wait_applied(broadcast_locked(c), kApplyTimeoutMs)) {
    if (error != nullptr) *error = "the data cores did not mark the sessions in time";
    return false;
  }
  return true;
}

bool Server::start_drain(const engine::ReconnectDirective& directive, uint32_t rate,
                         std::string* error) {
  std::lock_guard<std::mutex> lock(command_mutex_);
  if (drain_.active) {
    if (error != nullptr) *error = "a drain is already in progress";
    return false;
  }
  const engine::Clock now = loop::CoreLoop::read_clock();
  drain_.active = true;
  drain_.started_ms = now.wall_ms;
  drain_.total = shared_->sessions_online();
  drain_.rate = rate;
  drain_.directive = directive;
  loop::CoreCommand c;
  c.kind = loop::CoreCommand::Kind::kStartDrain;
  c.directive = directive;
  c.rate = rate == 0 ? 0 : std::max<uint32_t>(1, rate / cores());
  broadcast_locked(c);
  return true;
}

DrainStatus Server::drain_status() const {
  std::lock_guard<std::mutex> lock(command_mutex_);
  DrainStatus d = drain_;
  for (uint32_t c = 0; c < cores(); ++c) d.pushed += shared_->stats(c).drain_pushed.get();
  return d;
}

}  // namespace presenced::control
