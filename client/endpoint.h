// endpoint.h: a compact server address (IPv4 or IPv6 plus port) for clients.
//
// Owns: the Endpoint value (20 bytes) and the rule that turns a RECONNECT's
// target into the next server address. Sessions never store an Endpoint: the
// caller owns addressing (one server for a whole load generator, or one per
// app) and the session only tells it when to switch (Output::switch_target).
// parse/format helpers allocate and are meant for configuration and logs,
// never for per-packet paths.
//
// Concurrency: value type and pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/wire/protocol.h"

namespace presenced::client {

struct Endpoint {
  // kIpv4 or kIpv6 for an address; kSameServer only in a RECONNECT target.
  wire::TargetFamily family = wire::TargetFamily::kIpv4;
  uint16_t port = 0;                  // host byte order; 0 in a target: same port
  std::array<uint8_t, 16> address{};  // network byte order; IPv4 in [0, 4)

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
static_assert(sizeof(Endpoint) == 20);

// The server to use after a RECONNECT whose target is `target`, when the
// session currently talks to `current` (PROTOCOL.md RECONNECT body):
// family 0 keeps `current`; 4/6 take the given address, with the given port or,
// for port 0, current's port. For IPv4 only address bytes [0, 4) are used.
Endpoint apply_redirect(const Endpoint& current, const Endpoint& target);

// Numeric literals only: "127.0.0.1:7460", "[::1]:7460", "127.0.0.1" and
// "[::1]" or "::1" (port `default_port`). Returns false on any error.
bool parse_endpoint(std::string_view text, uint16_t default_port, Endpoint& out);

// "127.0.0.1:7460" / "[::1]:7460"; "same-server" for kSameServer.
std::string to_string(const Endpoint& e);

}  // namespace presenced::client
