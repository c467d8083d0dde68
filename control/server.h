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
#include <string>
#include <thread>
#include <vector>

#include "control/event_hub.h"
#include "control/server_config.h"
#include "dataplane/auth/session_key.h"
#include "dataplane/engine/engine.h"
#include "dataplane/io/io_backend.h"
#include "dataplane/loop/core_loop.h"
#include "dataplane/table/presence_table.h"

namespace presenced::control {

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
  mutable std::mutex command_mutex_;  // command rings have one producer at a time
  engine::EngineConfig engine_config_;
  uint64_t next_command_id_ = 1;
};

}  // namespace presenced::control
