// control_fixture.h: helpers for the control-plane integration tests
// (control_api_test, presencectl_test): an HTTP client for a Daemon's
// control address, an SSE reader, sessions brought online over UDP, and
// the checks of RECONNECT packets. Every wait is bounded.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "tests/integration/daemon_fixture.h"
#include "tests/support/sse_reader.h"

namespace presenced::testing {

using Json = nlohmann::ordered_json;

inline std::string host_port(const NetAddr& a) {
  return to_string(a);
}

// A daemon's control plane over HTTP.
class ControlClient {
 public:
  explicit ControlClient(const NetAddr& control, const std::string& token = "")
      : http_("127.0.0.1", control.port) {
    http_.set_connection_timeout(5, 0);
    http_.set_read_timeout(30, 0);
    if (!token.empty()) http_.set_bearer_token_auth(token);
  }

  struct Answer {
    int status = 0;  // 0: no answer
    Json body;
    std::string raw;
    std::string allow;
  };

  Answer get(const std::string& path) { return answer(http_.Get(path)); }
  Answer post(const std::string& path, const std::string& body) {
    return answer(http_.Post(path, body, "application/json"));
  }
  Answer patch(const std::string& path, const std::string& body) {
    return answer(http_.Patch(path, body, "application/json"));
  }
  httplib::Client& http() { return http_; }

  static Answer answer(const httplib::Result& r) {
    Answer a;
    if (!r) return a;
    a.status = r->status;
    a.raw = r->body;
    a.allow = r->get_header_value("Allow");
    try {
      a.body = Json::parse(r->body);
    } catch (const Json::exception&) {
    }
    return a;
  }

 private:
  httplib::Client http_;
};

inline ::testing::AssertionResult is_error(const ControlClient::Answer& a, int status,
                                           const std::string& needle) {
  if (a.status != status) {
    return ::testing::AssertionFailure()
           << "status " << a.status << " (want " << status << "): " << a.raw;
  }
  if (!a.body.is_object() || !a.body.contains("error") || !a.body["error"].is_string()) {
    return ::testing::AssertionFailure() << "no JSON error body: " << a.raw;
  }
  if (a.body["error"].get<std::string>().find(needle) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "error does not mention \"" << needle << "\": " << a.raw;
  }
  return ::testing::AssertionSuccess();
}

// Polls GET path until `pred(body)` holds (bounded); returns the last body.
inline Json wait_for_json(ControlClient& c, const std::string& path,
                          const std::function<bool(const Json&)>& pred,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Json last;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto a = c.get(path);
    if (a.status == 200) {
      last = a.body;
      if (pred(last)) return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return last;
}

inline SseRead read_events(const NetAddr& control, std::optional<uint64_t> last_id,
                           const std::function<bool(const SseRead&)>& until,
                           const std::string& token = "",
                           std::chrono::seconds read_timeout = std::chrono::seconds(15)) {
  return read_sse(control.port, last_id, until, token, read_timeout);
}

// Test sessions for user ids, with fresh tokens.
inline TestClient session(uint64_t user, uint32_t device = 1) {
  TestClient c;
  c.user = user;
  c.device = device;
  c.expiry = unix_now() + 3600;
  return c;
}

// Sends one heartbeat and returns the reply (bounded wait).
inline std::optional<std::vector<uint8_t>> heartbeat(UdpPeer& peer, const NetAddr& server,
                                                     TestClient& c) {
  peer.send_to(server, c.heartbeat().bytes);
  return peer.receive(std::chrono::seconds(5));
}

// Brings `c` online: a heartbeat answered by a verifying ACK.
inline ::testing::AssertionResult bring_online(UdpPeer& peer, const NetAddr& server,
                                               TestClient& c) {
  const auto reply = heartbeat(peer, server, c);
  if (!reply) return ::testing::AssertionFailure() << "no reply for user " << c.user;
  return is_valid_ack(*reply, c, c.seq);
}

// A RECONNECT for `c` whose MAC verifies; fills `out`.
inline ::testing::AssertionResult is_valid_reconnect(const std::vector<uint8_t>& d,
                                                     const TestClient& c,
                                                     wire::ReconnectPacket& out) {
  if (d.size() != wire::kReconnectSize) {
    return ::testing::AssertionFailure() << "size " << d.size() << " is not a RECONNECT";
  }
  if (wire::parse_reconnect(d, out) != wire::DropReason::kNone) {
    return ::testing::AssertionFailure() << "not a RECONNECT";
  }
  if (!auth::verify_packet(c.key(), d.data(), d.size())) {
    return ::testing::AssertionFailure() << "MAC does not verify";
  }
  if (out.h.user_id != c.user || out.h.device_id != c.device || out.h.token_expiry != c.expiry) {
    return ::testing::AssertionFailure() << "header is not this session's";
  }
  if (out.server_epoch == 0) return ::testing::AssertionFailure() << "epoch 0";
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult targets(const wire::ReconnectPacket& p, const NetAddr& want) {
  if (want.family == 0) {
    if (p.family != wire::TargetFamily::kSameServer) {
      return ::testing::AssertionFailure() << "family " << int(p.family) << ", want same server";
    }
    return ::testing::AssertionSuccess();
  }
  const auto fam = want.family == 4 ? wire::TargetFamily::kIpv4 : wire::TargetFamily::kIpv6;
  if (p.family != fam) return ::testing::AssertionFailure() << "family " << int(p.family);
  const std::size_t n = want.family == 4 ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i) {
    if (p.address[i] != want.ip[i]) return ::testing::AssertionFailure() << "address differs";
  }
  if (p.port != want.port) return ::testing::AssertionFailure() << "port " << p.port;
  return ::testing::AssertionSuccess();
}

}  // namespace presenced::testing
