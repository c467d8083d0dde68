// presenced_main.cc: the presenced entry point.
//
// Parses the configuration (exit 2 on bad flags or values, a control
// address off loopback without a token file, an empty or unreadable token
// file), loads or creates the master key, builds the server and binds the
// control plane (exit 1 if either cannot bind), prints `listening on
// ADDR:PORT` then `control on ADDR:PORT`, starts the data cores and then
// the control plane, runs until SIGTERM or SIGINT, then stops the control
// plane first (its event streams end), stops receiving, flushes the events
// and exits 0. Signals are handled synchronously (sigtimedwait in this
// thread); every other thread has them blocked.
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <memory>

#include <signal.h>

#include "control/event_stream.h"
#include "control/http_api.h"
#include "control/key_file.h"
#include "control/log.h"
#include "control/server.h"
#include "control/server_config.h"

namespace presenced::control {
namespace {

struct Totals {
  engine::CoreStatsSnapshot core;
  io::BackendStats io;
};

Totals totals(const Server& s) {
  Totals t;
  for (uint32_t c = 0; c < s.cores(); ++c) {
    t.core += s.core_stats(c);
    t.io += s.backend_stats(c);
  }
  return t;
}

void print_status(const Server& s, const Totals& now, const Totals& before, double seconds) {
  auto rate = [&](uint64_t a, uint64_t b) { return seconds > 0 ? double(a - b) / seconds : 0.0; };
  std::fprintf(stderr,
               "status: up %" PRIu64 " s | sessions online %" PRIu64 " | users online %" PRIu64
               " | rx %.0f/s | heartbeats %.0f/s | acks %.0f/s | drops %.0f/s | events %" PRIu64
               " | interval %" PRIu64 " s\n",
               s.uptime_ms() / 1000, s.shared().sessions_online(), s.shared().users_online(),
               rate(now.io.rx_datagrams, before.io.rx_datagrams),
               rate(now.core.heartbeats_accepted, before.core.heartbeats_accepted),
               rate(now.core.acks_sent, before.core.acks_sent),
               rate(now.core.drops_total(), before.core.drops_total()), s.events_delivered(),
               now.core.advised_interval_s);
}

int run(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerConfig config;
  const ParseResult parsed = parse_server_config(argc, argv, config);
  if (parsed.exit_code >= 0) {
    std::fprintf(parsed.exit_code == 0 ? stdout : stderr, "%s\n", parsed.message.c_str());
    return parsed.exit_code;
  }
  log::set_level(config.log_level);

  auth::ensure_sodium_initialized();
  auth::MasterKey key;
  std::string error;
  if (!config.master_key_file.empty()) {
    if (!load_master_key(config.master_key_file, key, &error)) {
      std::fprintf(stderr, "presenced: --master-key-file: %s\n", error.c_str());
      return 2;
    }
  } else {
    std::string path;
    bool created = false;
    if (!load_or_create_state_key(config.state_dir, key, path, created, &error)) {
      std::fprintf(stderr, "presenced: %s\n", error.c_str());
      return 1;
    }
    log::info(std::string(created ? "created master key " : "using master key ") + path);
  }

  std::string token;
  if (config.control_enabled && !config.control_token_file.empty() &&
      !load_token_file(config.control_token_file, token, &error)) {
    std::fprintf(stderr, "presenced: %s\n", error.c_str());
    return 2;
  }

  std::unique_ptr<JsonLinesSink> events_out;
  if (!config.events_out.empty()) {
    events_out = JsonLinesSink::open(config.events_out, &error);
    if (!events_out) {
      std::fprintf(stderr, "presenced: %s\n", error.c_str());
      return 2;
    }
  }

  std::unique_ptr<Server> server = Server::create(config, key, &error);
  if (!server) {
    std::fprintf(stderr, "presenced: %s\n", error.c_str());
    return 1;
  }
  if (events_out) server->add_event_sink(events_out.get());

  // The control plane: its event stream is a hub sink (added before the
  // hub starts); it binds now, so a busy port stops start-up cleanly, and
  // serves once the data cores run.
  EventStream event_stream(static_cast<std::size_t>(config.event_backlog));
  ServerTarget target(*server);
  std::unique_ptr<ControlServer> control;
  if (config.control_enabled) {
    server->add_event_sink(&event_stream);
    ControlOptions co;
    co.listen = config.control;
    co.token = token;
    co.default_drain_rate = config.drain_rate;
    control = std::make_unique<ControlServer>(target, event_stream, co);
    if (!control->bind(&error)) {
      std::fprintf(stderr, "presenced: --control: %s\n", error.c_str());
      return 1;
    }
  }

  std::printf("listening on %s\n", to_string(server->listen_address()).c_str());
  if (control) std::printf("control on %s\n", to_string(control->address()).c_str());
  std::fflush(stdout);
  log::info(std::string("backend ") + io::backend_name(config.backend) + " on " +
            std::to_string(server->cores()) + " data core(s), epoch " +
            std::to_string(server->shared().epoch()));
  server->start();
  if (control) {
    control->start();
    log::info("control plane on http://" + to_string(control->address()) +
              (token.empty() ? "" : " (bearer token required)"));
  }

  Totals before = totals(*server);
  uint64_t last_status_ms = server->uptime_ms();
  for (;;) {
    timespec timeout{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
      log::info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
      break;
    }
    if (config.stats_interval_s == 0) continue;
    const uint64_t now_ms = server->uptime_ms();
    if (now_ms - last_status_ms >= config.stats_interval_s * 1000ULL) {
      const Totals now = totals(*server);
      print_status(*server, now, before, double(now_ms - last_status_ms) / 1000.0);
      before = now;
      last_status_ms = now_ms;
    }
  }
  if (control) control->stop();  // first: no command reaches stopping cores
  server->stop();
  events_out.reset();  // flushes
  log::info("stopped");
  return 0;
}

}  // namespace
}  // namespace presenced::control

int main(int argc, char** argv) {
  return presenced::control::run(argc, argv);
}
