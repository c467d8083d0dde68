// server.h: one presenced server process, assembled from its parts.
//
// Owns: the presence table, the engines (one per data core), the I/O
// backends, the per-core loops and their threads, the event and command
// rings, and the event hub. It is the only place that knows how the parts
// fit together; the control plane reads it and sends commands through it.
//
// Lifecycle: create() builds everything (mapping the table, binding the
// sockets) and fails without side effects; start() launches the data cores
// and the hub; stop() stops receiving, lets the cores finish their
// iteration, drains the events to the sinks and joins every thread.
// Concurrency: create/start/stop from one thread; the accessors and
// send_config() from any thread (send_config serialises its producers).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/event_hub.h"
#include "control/server_config.h"
#include "dataplane/auth/session_key.h"
#include "dataplane/engine/engine.h"
#include "dataplane/engine/reconnect_directive.h"
#include "dataplane/io/io_backend.h"
#include "dataplane/loop/core_loop.h"
#include "dataplane/table/presence_table.h"

namespace presenced::control {

// One session of a user, as the control plane reports it.
struct DeviceInfo {
  uint32_t device = 0;
  bool online = false;
  wire::Status status = wire::Status::kAvailable;
  int64_t last_seen_ms = 0;  // Unix ms
  NetAddr address;           // last authenticated source
  uint16_t interval_s = 0;   // interval last advised (online sessions)
  uint32_t seq = 0;
  uint32_t token_expiry = 0;
  bool reconnect_pending = false;
};

// A user's presence: what events have published (lingering counts as
// online, as the OFFLINE event has not been published yet).
struct UserInfo {
  uint64_t user = 0;
  bool online = false;
  bool lingering = false;
  wire::Status status = wire::Status::kAvailable;  // meaningful when online
  int64_t last_seen_ms = 0;                        // Unix ms, latest of the devices
  std::vector<DeviceInfo> devices;
};

struct ReconnectRequest {
  engine::ReconnectScope scope = engine::ReconnectScope::kUser;
  uint64_t user = 0;
  uint32_t device = 0;
  engine::ReconnectDirective directive;
};

struct DrainStatus {
  bool active = false;
  int64_t started_ms = 0;  // Unix ms
  uint64_t total = 0;      // sessions online when the drain started
  uint64_t pushed = 0;     // RECONNECTs pushed so far
  uint32_t rate = 0;       // pushes per second, all cores
  engine::ReconnectDirective directive;
};

// Everything /v1/status and /metrics report, taken at one moment.
struct CoreStatus {
  uint32_t core = 0;
  int cpu = -1;
  engine::CoreStatsSnapshot engine;
  io::BackendStats io;
  uint64_t sessions_online = 0;  // of the shards this core homes
  uint64_t users_online = 0;
  uint64_t table_used = 0;  // slots holding a session (incl. tombstones)
  uint64_t table_capacity = 0;
  uint64_t loop_iterations = 0;
  uint64_t loop_sleeps = 0;
};

struct StatusSnapshot {
  std::string version;
  std::string backend;
  uint32_t epoch = 0;
  uint64_t uptime_ms = 0;
  NetAddr listen;
  std::vector<CoreStatus> cores;
  CoreStatus total;  // sums (advised interval: the max)
  uint64_t max_sessions = 0;
  uint64_t events_delivered = 0;
  DrainStatus drain;
};

class Server {
 public:
  static std::unique_ptr<Server> create(const ServerConfig& config, const auth::MasterKey& key,
                                        std::string* error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void add_event_sink(EventSink* sink) { hub_->add_sink(sink); }  // before start()
  void start();
  void stop();

  NetAddr listen_address() const { return backends_.front()->local_address(); }
  const ServerConfig& config() const { return config_; }
  uint32_t cores() const { return static_cast<uint32_t>(loops_.size()); }
  uint64_t uptime_ms() const;

  // Sums and per-core snapshots, safe from any thread.
  engine::CoreStatsSnapshot core_stats(uint32_t core) const;
  io::BackendStats backend_stats(uint32_t core) const { return backends_[core]->stats(); }
  const loop::LoopCounters& loop_counters(uint32_t core) const { return loops_[core]->counters(); }
  const table::PresenceTable& table() const { return *table_; }
  const engine::EngineShared& shared() const { return *shared_; }
  uint64_t events_delivered() const { return hub_->events_delivered(); }
  std::size_t wheel_memory_bytes() const;

  // Sends a new engine configuration to every core; returns the command id
  // (cores report it in loop_counters().last_command once applied).
  uint64_t send_config(const engine::EngineConfig& config);
  engine::EngineConfig engine_config() const;
  // Waits (bounded) until every core has applied command `id`.
  bool wait_applied(uint64_t id, uint32_t timeout_ms) const;

  StatusSnapshot status() const;
  // nullopt when the table holds no session of the user.
  std::optional<UserInfo> query_user(uint64_t user) const;

  // Marks the matching sessions: their next heartbeat is answered with a
  // RECONNECT carrying the directive. Returns false with `error` when the
  // cores could not take it (e.g. too many pending directives).
  bool request_reconnect(const ReconnectRequest& request, std::string* error);
  // Stops admitting new sessions (they get RECONNECT with reason DRAIN) and
  // pushes one RECONNECT to every online session's last authenticated
  // address, at most `rate` per second over all cores.
  bool start_drain(const engine::ReconnectDirective& directive, uint32_t rate, std::string* error);
  DrainStatus drain_status() const;

 private:
  Server() = default;

  ServerConfig config_;
  uint64_t start_mono_ns_ = 0;
  std::unique_ptr<table::PresenceTable> table_;
  std::unique_ptr<engine::EngineShared> shared_;
  std::vector<std::unique_ptr<engine::Engine>> engines_;
  std::vector<std::unique_ptr<io::IoBackend>> backends_;
  std::vector<std::unique_ptr<SpscRing<engine::PresenceEvent>>> event_rings_;
  std::vector<std::unique_ptr<SpscRing<loop::CoreCommand>>> command_rings_;
  std::vector<std::unique_ptr<loop::CoreLoop>> loops_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<EventHub> hub_;
  // Sends `c` to every core with a fresh id; caller holds command_mutex_.
  uint64_t broadcast_locked(loop::CoreCommand c);
  uint64_t directive_overflows() const;

  mutable std::mutex command_mutex_;  // command rings have one producer at a time
  engine::EngineConfig engine_config_;
  uint64_t next_command_id_ = 1;
  DrainStatus drain_;  // guarded by command_mutex_ (pushed comes from the cores)
};

}  // namespace presenced::control
