// presence-client: a command-line presence client for demos and integration
// tests.
//
// Owns: flag parsing, the demo's key handling and the event log. One
// UdpClient (client/udp_client.h) does the protocol. There is no login
// service in a demo, so this tool reads the servers' master key and derives
// the session key itself (auth::derive_session_key), exactly as the login
// service would; it renews its own token when it expires.
//
// Exit codes: 0 done (rounds completed, BYE acknowledged); 1 runtime failure
// (socket error, no ACK from the server before the first connection died,
// BYE not acknowledged); 2 usage error, with a message naming the bad flag.
//
// Concurrency: single-threaded; SIGINT/SIGTERM only set a flag.
#include <CLI/CLI.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>

#include "client/endpoint.h"
#include "client/session.h"
#include "client/udp_client.h"
#include "dataplane/auth/session_key.h"
#include "dataplane/wire/names.h"

namespace {

using presenced::client::Action;
using presenced::client::ClientEvent;
using presenced::client::PacketResult;
using presenced::client::State;
namespace client = presenced::client;
namespace wire = presenced::wire;
namespace auth = presenced::auth;

volatile std::sig_atomic_t g_signals = 0;

extern "C" void on_signal(int) {
  g_signals = g_signals + 1;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int usage_error(const std::string& flag, const std::string& message) {
  std::fprintf(stderr, "presence-client: %s: %s\n", flag.c_str(), message.c_str());
  return 2;
}

struct Run {
  bool quiet = false;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  uint64_t acks = 0;
  uint64_t heartbeats = 0;
  bool bye_acked = false;
  bool bye_given_up = false;
  bool dead_without_ack = false;

  void line(const char* fmt, ...) const __attribute__((format(printf, 2, 3))) {
    if (quiet) return;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[%9.3f] ", t);
    va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
    std::printf("\n");
  }

  void on_event(const ClientEvent& ev, const client::Session& s) {
    const std::string target = client::to_string(ev.target);
    switch (ev.kind) {
      case ClientEvent::Kind::kSendError:
        line("send-error seq=%u: %s", ev.seq, std::system_category().message(ev.error).c_str());
        return;
      case ClientEvent::Kind::kAction:
        on_action(ev, s, target);
        return;
      case ClientEvent::Kind::kPacket:
        on_packet(ev, s, target);
        return;
    }
  }

  void on_action(const ClientEvent& ev, const client::Session& s, const std::string& target) {
    switch (ev.action) {
      case Action::kHeartbeat:
        ++heartbeats;
        line("sent seq=%u status=%s interval=%us epoch_seen=%08x%s to %s", ev.seq,
             wire::status_name(s.status()).data(), (s.interval_ms() + 999) / 1000, s.server_epoch(),
             ev.first ? " FIRST" : "", target.c_str());
        break;
      case Action::kResend:
        ++heartbeats;
        line("retry seq=%u%s to %s", ev.seq, ev.first ? " FIRST" : "", target.c_str());
        break;
      case Action::kDead:
        line("dead: no ACK; reconnect in %llums (backoff attempt %u)",
             static_cast<unsigned long long>(ev.wait_ms), s.backoff_attempt());
        if (acks == 0) dead_without_ack = true;
        break;
      case Action::kReconnectAttempt:
        ++heartbeats;
        line("reconnect seq=%u FIRST to %s", ev.seq, target.c_str());
        break;
      case Action::kRedirectResume:
        ++heartbeats;
        line("reconnect seq=%u FIRST to %s (redirected)", ev.seq, target.c_str());
        break;
      case Action::kBye:
        line("bye seq=%u to %s", ev.seq, target.c_str());
        break;
      case Action::kByeResend:
        line("bye-retry seq=%u to %s", ev.seq, target.c_str());
        break;
      case Action::kClosed:
        bye_given_up = true;
        line("closed: BYE not acknowledged");
        break;
      case Action::kTokenExpired:
        line("token expired");
        break;
      case Action::kNone:
        break;
    }
  }

  void on_packet(const ClientEvent& ev, const client::Session& s, const std::string& target) {
    const client::PacketInfo& i = ev.info;
    switch (ev.result) {
      case PacketResult::kAccepted: {
        ++acks;
        char rtt[32] = "?";
        if (ev.rtt_us)
          std::snprintf(rtt, sizeof rtt, "%.3fms", static_cast<double>(*ev.rtt_us) / 1000.0);
        line("ack seq=%u epoch=%08x%s next_interval=%us rtt=%s attempts=%u", i.seq, i.server_epoch,
             i.epoch_changed ? " (changed)" : "", i.next_interval_s, rtt, i.attempts);
        break;
      }
      case PacketResult::kByeAcked:
        bye_acked = true;
        line("bye-ack seq=%u", i.seq);
        break;
      case PacketResult::kReconnect:
        line("redirect reason=%s delay=%ums target=%s resume_in=%llums", wire::reconnect_reason_name(i.reason).data(),
             i.delay_ms, target.c_str(),
             static_cast<unsigned long long>(s.next_wake_ms() - client::UdpClient::now().mono_ms));
        break;
      default:
        if (ev.result == PacketResult::kMalformed) {
          line("drop %s (%s)", std::string(client::packet_result_name(ev.result)).c_str(),
               std::string(wire::drop_reason_name(i.parse_error)).c_str());
        } else {
          line("drop %s seq=%u", std::string(client::packet_result_name(ev.result)).c_str(), i.seq);
        }
        break;
    }
  }
};

int run(int argc, char** argv) {
  CLI::App app{
      "presence-client: a presence heartbeat client (PROTOCOL.md v1) for demos and tests.\n"
      "There is no login service in a demo: the tool reads the servers' master key\n"
      "and derives its own session key with auth::derive_session_key, as the login\n"
      "service would, and renews its token itself when it expires."};
  app.footer(
      "Exit codes: 0 ok; 1 runtime failure (socket error, no ACK before the first\n"
      "connection died, BYE not acknowledged); 2 usage error.");

  std::string server_text;
  std::string key_file;
  uint64_t user = 0;
  uint32_t device = 1;
  std::string status_text = "available";
  uint32_t interval_ms = 0;
  uint64_t count = 0;
  uint32_t token_ttl = 86400;
  uint32_t ack_timeout_ms = 0;
  int retries = -1;
  bool quiet = false;

  app.add_option("--server", server_text, "server address: IPV4:PORT, [IPV6]:PORT or HOST:PORT")
      ->required();
  app.add_option("--master-key-file", key_file,
                 "file with the servers' 16-byte master key as 32 hex characters "
                 "(the session key is derived from it)")
      ->required();
  app.add_option("--user", user, "user id (non-zero)")->required();
  app.add_option("--device", device, "device id")->capture_default_str();
  app.add_option("--status", status_text, "available|away|busy|invisible")->capture_default_str();
  app.add_option("--interval-ms", interval_ms,
                 "heartbeat interval until the server advises one (default 30000); "
                 "the ACKs' next_interval_s then takes over, as the protocol requires");
  app.add_option("--count", count,
                 "heartbeat rounds (accepted ACKs) before BYE and exit; 0: until SIGINT/SIGTERM")
      ->capture_default_str();
  app.add_option("--token-ttl", token_ttl, "token lifetime in seconds")->capture_default_str();
  app.add_option("--ack-timeout-ms", ack_timeout_ms,
                 "resend when no ACK within this (default 5000)");
  app.add_option("--retries", retries, "resends before the connection is dead (default 3)");
  app.add_flag("--quiet,-q", quiet, "print nothing but errors");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  for (char& c : status_text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  wire::Status status = wire::Status::kAvailable;
  if (!wire::parse_status(status_text, status)) {
    return usage_error("--status",
                       "'" + status_text + "' is not one of available|away|busy|invisible");
  }
  if (user == 0) return usage_error("--user", "must be non-zero (PROTOCOL.md: user_id is never 0)");
  if (app.count("--interval-ms") != 0 && interval_ms == 0) {
    return usage_error("--interval-ms", "must be > 0");
  }
  if (token_ttl == 0) return usage_error("--token-ttl", "must be > 0");
  if (app.count("--ack-timeout-ms") != 0 && ack_timeout_ms == 0) {
    return usage_error("--ack-timeout-ms", "must be > 0");
  }
  if (app.count("--retries") != 0 && (retries < 0 || retries > 255)) {
    return usage_error("--retries", "must be in 0..255");
  }

  client::Endpoint server;
  std::string error;
  if (!client::resolve_endpoint(server_text, wire::kDefaultPort, server, error)) {
    return usage_error("--server", error);
  }

  auth::MasterKey master;
  {
    std::ifstream in(key_file);
    if (!in) return usage_error("--master-key-file", "cannot read '" + key_file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    if (!auth::parse_master_key_hex(ss.str(), master)) {
      return usage_error("--master-key-file", "'" + key_file + "' does not hold 32 hex characters");
    }
  }

  auth::ensure_sodium_initialized();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  auto new_expiry = [&](uint32_t now_unix) -> uint64_t { return uint64_t{now_unix} + token_ttl; };
  const uint64_t expiry64 = new_expiry(client::UdpClient::now().unix_s);
  if (expiry64 > std::numeric_limits<uint32_t>::max()) {
    return usage_error("--token-ttl", "token expiry beyond 2106");
  }

  client::UdpClientOptions opts;
  opts.server = server;
  opts.credentials.user_id = user;
  opts.credentials.device_id = device;
  opts.credentials.token_expiry = static_cast<uint32_t>(expiry64);
  opts.credentials.key =
      auth::derive_session_key(master, user, device, opts.credentials.token_expiry);
  opts.status = status;
  if (interval_ms != 0) opts.policy.default_interval_ms = interval_ms;
  if (ack_timeout_ms != 0) opts.policy.ack_timeout_ms = ack_timeout_ms;
  if (retries >= 0) opts.policy.retries = static_cast<uint8_t>(retries);

  Run run;
  run.quiet = quiet;
  client::UdpClient* self = nullptr;
  client::UdpClient udp(opts, [&](const ClientEvent& ev) { run.on_event(ev, self->session()); });
  self = &udp;
  if (!udp.open(error)) {
    std::fprintf(stderr, "presence-client: %s\n", error.c_str());
    return 1;
  }
  install_signal_handlers();
  run.line("session user=%llu device=%u token_expiry=%u server=%s",
           static_cast<unsigned long long>(user), device, opts.credentials.token_expiry,
           client::to_string(server).c_str());
  udp.start();

  bool bye_requested = false;
  while (udp.session().state() != State::kClosed) {
    if (g_signals >= 2) {
      std::fprintf(stderr, "presence-client: interrupted again, exiting without BYE ack\n");
      return 1;
    }
    if (run.dead_without_ack) {
      std::fprintf(stderr, "presence-client: no ACK from %s after %llu heartbeats\n",
                   client::to_string(udp.server()).c_str(),
                   static_cast<unsigned long long>(run.heartbeats));
      return 1;
    }
    if (!bye_requested && (g_signals > 0 || (count > 0 && run.acks >= count))) {
      bye_requested = true;
      udp.bye();
      continue;
    }
    if (udp.session().state() == State::kTokenExpired) {
      const uint64_t expiry = new_expiry(client::UdpClient::now().unix_s);
      if (expiry > std::numeric_limits<uint32_t>::max() || expiry <= udp.session().token_expiry()) {
        std::fprintf(stderr, "presence-client: cannot renew the token\n");
        return 1;
      }
      const auto e32 = static_cast<uint32_t>(expiry);
      run.line("renew token_expiry=%u", e32);
      udp.renew(auth::derive_session_key(master, user, device, e32), e32);
      continue;
    }
    if (!udp.run_once(std::chrono::milliseconds(1000))) {
      std::fprintf(stderr, "presence-client: %s\n", udp.last_error().c_str());
      return 1;
    }
  }
  if (!run.bye_acked) {
    std::fprintf(stderr, "presence-client: BYE not acknowledged by %s\n",
                 client::to_string(udp.server()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "presence-client: %s\n", e.what());
    return 1;
  }
}
