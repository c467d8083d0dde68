#include "control/server.h"

#include <ctime>

#include "control/log.h"

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

uint64_t Server::send_config(const engine::EngineConfig& config) {
  std::lock_guard<std::mutex> lock(command_mutex_);
  loop::CoreCommand c;
  c.kind = loop::CoreCommand::Kind::kSetConfig;
  c.id = next_command_id_++;
  c.config = config;
  for (auto& ring : command_rings_) {
    // A core drains its ring every iteration; 256 pending commands means
    // it is stuck, and waiting here (control plane only) is the right call.
    while (!ring->try_push(c)) std::this_thread::yield();
  }
  engine_config_ = config;
  return c.id;
}

engine::EngineConfig Server::engine_config() const {
  std::lock_guard<std::mutex> lock(command_mutex_);
  return engine_config_;
}

}  // namespace presenced::control
