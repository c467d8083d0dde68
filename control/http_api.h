// http_api.h: the control plane, HTTP/1.1 + JSON on its own threads, off
// the data cores (docs/OPERATIONS.md has the API reference).
//
// Owns: the HTTP server (cpp-httplib, hidden behind a pimpl so its header
// stays out of the rest of the tree), its listening socket, its worker
// threads and the routes:
//
//   GET  /v1/status            GET  /metrics           GET /v1/events (SSE)
//   GET  /v1/users/{user}      POST /v1/users:batch
//   GET  /v1/config            PATCH /v1/config
//   POST /v1/reconnect         POST /v1/drain          GET /v1/drain
//
// Handlers are thin: parse (json_codec), call the ControlTarget, render.
// Errors are JSON {"error": "..."}: 400 bad input (naming the key and its
// range), 401 missing/wrong bearer token (when a token is configured),
// 404 unknown route or user, 405 wrong method (with Allow), 409 drain
// already running, 413 body over 1 MiB or batch over 10,000 users, 503 the
// cores could not take a command. No exception escapes a handler.
//
// Commands reach the data cores only through the ControlTarget (the
// Server's per-core SPSC command rings); the control plane takes no lock a
// data core could wait on. Reads (status, users) copy counters and table
// slots without blocking the cores.
//
// Concurrency: bind/start/stop from one thread (presenced_main); handlers
// run on the HTTP worker pool (one thread per connection; event streams
// hold theirs for their lifetime, at most `max_streams` at once, so the
// pool has max_streams + 8 threads). Config changes are serialised by a
// mutex of this class. stop() closes the event streams (they end cleanly),
// stops accepting and joins every thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "control/event_stream.h"
#include "control/server.h"

namespace presenced::control {

// The server operations the control plane uses. ServerTarget adapts a
// Server; tests use a fake.
class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  virtual StatusSnapshot status() const = 0;
  virtual std::optional<UserInfo> query_user(uint64_t user) const = 0;
  virtual engine::EngineConfig engine_config() const = 0;
  // Sends `config` to every core and waits until all have applied it;
  // false if that takes longer than `timeout_ms`.
  virtual bool apply_config(const engine::EngineConfig& config, uint32_t timeout_ms) = 0;
  virtual bool request_reconnect(const ReconnectRequest& request, std::string* error) = 0;
  virtual bool start_drain(const engine::ReconnectDirective& directive, uint32_t rate,
                           std::string* error) = 0;
  virtual DrainStatus drain_status() const = 0;
};

class ServerTarget final : public ControlTarget {
 public:
  explicit ServerTarget(Server& server) : server_(server) {}
  StatusSnapshot status() const override { return server_.status(); }
  std::optional<UserInfo> query_user(uint64_t user) const override {
    return server_.query_user(user);
  }
  engine::EngineConfig engine_config() const override { return server_.engine_config(); }
  bool apply_config(const engine::EngineConfig& config, uint32_t timeout_ms) override {
    return server_.wait_applied(server_.send_config(config), timeout_ms);
  }
  bool request_reconnect(const ReconnectRequest& request, std::string* error) override {
    return server_.request_reconnect(request, error);
  }
  bool start_drain(const engine::ReconnectDirective& directive, uint32_t rate,
                   std::string* error) override {
    return server_.start_drain(directive, rate, error);
  }
  DrainStatus drain_status() const override { return server_.drain_status(); }

 private:
  Server& server_;
};

struct ControlOptions {
  NetAddr listen = NetAddr::v4_bytes(127, 0, 0, 1, 7461);
  std::string token;  // empty: no Authorization required
  uint32_t default_drain_rate = 50'000;
  std::size_t max_streams = 64;               // concurrent GET /v1/events
  std::chrono::milliseconds keepalive{5000};  // SSE comment when idle
  std::size_t max_body_bytes = 1 << 20;
  uint32_t config_apply_timeout_ms = 5000;
};

class ControlServer {
 public:
  ControlServer(ControlTarget& target, EventStream& stream, ControlOptions options);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds and listens (connections queue until start()). False with
  // `error` naming the address and the OS error.
  bool bind(std::string* error);
  // Serves on a thread of its own until stop().
  void start();
  // Ends the event streams, stops accepting, joins every thread. Idempotent.
  void stop();

  // The bound address (the real port after binding port 0).
  NetAddr address() const { return bound_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  NetAddr bound_;
};

// Reads a bearer token file: one line, surrounding whitespace removed.
// False with `error` when unreadable, empty, longer than 4 KiB, or when the
// token has characters outside visible ASCII.
bool load_token_file(const std::string& path, std::string& token, std::string* error);

}  // namespace presenced::control
