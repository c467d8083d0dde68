// udp_client.h: a real-time driver of one Session over one UDP socket.
//
// Owns: one non-blocking UDP socket (IPv4 or IPv6, connect()ed to the current
// server so the kernel drops datagrams from other sources), the Session, its
// Rng and (adaptive mode) its AdaptiveIntervalStore, and the server address,
// which it switches when the session obeys a RECONNECT. Time comes from
// std::chrono::steady_clock (Now::mono_ms) and system_clock (Now::unix_s).
// Convenience for apps, demos and the presence-client CLI; the load generator
// drives Sessions directly.
//
// Usage: open(), start(), then call run_once(max_wait) in a loop; it sleeps in
// poll() until a datagram arrives, the session's timer is due or max_wait
// passes, and reports what happened through the event callback. bye() and
// loop until session().state() == State::kClosed to leave cleanly.
//
// Errors: open() reports socket/connect failures as a message. A failed send
// (e.g. ICMP unreachable, no route) is reported as an event and treated as a
// lost datagram: the protocol's resends and backoff deal with it. run_once()
// returns false only when the socket itself fails (see last_error()).
//
// Concurrency: not thread-safe; one thread drives a UdpClient. The event
// callback runs on that thread, inside run_once()/start()/bye()/...
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "client/adaptive.h"
#include "client/endpoint.h"
#include "client/policy.h"
#include "client/rng.h"
#include "client/session.h"

namespace presenced::client {

struct UdpClientOptions {
  Endpoint server;
  SessionCredentials credentials;
  wire::Status status = wire::Status::kAvailable;
  Policy policy;
  uint64_t seed = 0;        // jitter seed; 0: from std::random_device
  uint32_t network_id = 0;  // adaptive mode memory key
};

struct ClientEvent {
  enum class Kind : uint8_t {
    kAction,     // the session acted (action, seq, first, target, wait_ms)
    kPacket,     // a datagram was handled (result, info, rtt_us)
    kSendError,  // a send failed (error = errno); counted as a lost datagram
  };
  Kind kind = Kind::kAction;
  Action action = Action::kNone;
  uint32_t seq = 0;
  bool first = false;
  Endpoint target;       // kAction with a send: where it went; kPacket kReconnect: the
                         // resolved next server
  uint64_t wait_ms = 0;  // kAction kDead: backoff before the reconnect attempt
  PacketResult result = PacketResult::kAccepted;
  PacketInfo info;
  std::optional<uint64_t> rtt_us;  // kPacket kAccepted of the latest send
  int error = 0;
};

// Resolves "HOST:PORT", "[IPV6]:PORT", "HOST" (port default_port) with
// getaddrinfo (numeric or a name; the first result). False with a message.
bool resolve_endpoint(const std::string& text, uint16_t default_port, Endpoint& out,
                      std::string& error);

class UdpClient {
 public:
  using EventSink = std::function<void(const ClientEvent&)>;

  UdpClient(const UdpClientOptions& options, EventSink sink);
  ~UdpClient();
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  // Validates the policy and opens the socket. False with a message.
  bool open(std::string& error);

  void start();
  void set_status(wire::Status status);
  void bye();
  void renew(const auth::SessionKey& key, uint32_t token_expiry);
  void set_network(uint32_t network_id);

  // Handles due timers and arriving datagrams, sleeping at most max_wait.
  // Returns early (true) when interrupted by a signal. False: the socket
  // failed (last_error()).
  bool run_once(std::chrono::milliseconds max_wait);

  const Session& session() const { return session_; }
  const Endpoint& server() const { return server_; }
  const std::string& last_error() const { return last_error_; }
  int fd() const { return fd_; }

  static Now now();

 private:
  Env env() { return Env{options_.policy, rng_, &store_}; }
  void handle(const Output& out, Now now);
  void run_timers(Now now);
  bool drain_socket(Now now);
  bool connect_to(const Endpoint& target, std::string& error);

  UdpClientOptions options_;
  EventSink sink_;
  Session session_;
  Rng rng_;
  AdaptiveIntervalStore store_;
  Endpoint server_;
  Endpoint pending_;  // resolved target of the last obeyed RECONNECT
  int fd_ = -1;
  int fd_family_ = 0;
  uint32_t last_sent_seq_ = 0;
  std::chrono::steady_clock::time_point last_sent_at_{};
  std::string last_error_;
};

}  // namespace presenced::client
