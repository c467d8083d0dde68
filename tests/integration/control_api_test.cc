// Integration tests of the control plane: a real presenced (control on
// 127.0.0.1 port 0), driven over HTTP and UDP. Reconnect and drain are
// checked by the packets the sessions receive (verifying MACs, targets,
// delays within the spread, one push per online session).
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/integration/control_fixture.h"

namespace presenced::testing {
namespace {

using namespace std::chrono_literals;

uint64_t core0(const Json& status, const char* key) {
  return status["cores"][0][key].get<uint64_t>();
}

// ---- status and metrics ----

class ControlStatusTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ControlStatusTest, CountersMoveWhenHeartbeatsArrive) {
  Daemon d(GetParam(), {});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  const auto before = http.get("/v1/status");
  ASSERT_EQ(before.status, 200) << before.raw;
  EXPECT_EQ(before.body["backend"], GetParam());
  EXPECT_EQ(before.body["cores"].size(), 1u);
  EXPECT_EQ(before.body["listen"], to_string(d.address()));
  const uint64_t hb0 = core0(before.body, "heartbeats_accepted");

  UdpPeer peer;
  std::vector<TestClient> clients;
  for (uint64_t u = 1; u <= 5; ++u) {
    clients.push_back(session(9000 + u));
    ASSERT_TRUE(bring_online(peer, d.address(), clients.back()));
  }
  // A forged heartbeat: counted as bad_mac.
  auto forged = clients[0].heartbeat().bytes;
  forged[39] ^= 1;
  peer.send_to(d.address(), forged);

  const Json s = wait_for_json(http, "/v1/status", [&](const Json& j) {
    return core0(j, "heartbeats_accepted") >= hb0 + 5 && core0(j, "sessions_online") >= 5 &&
           core0(j, "users_online") >= 5 && j["cores"][0]["drops"]["bad_mac"] >= 1 &&
           core0(j, "events_published") >= 5;
  });
  ASSERT_FALSE(s.is_null());
  const Json& c = s["cores"][0];
  EXPECT_GE(c["heartbeats_accepted"].get<uint64_t>(), hb0 + 5) << s.dump();
  EXPECT_GE(c["packets_in"].get<uint64_t>(), 6u);
  EXPECT_GE(c["packets_out"].get<uint64_t>(), 5u);
  EXPECT_EQ(c["sessions_online"], 5);
  EXPECT_EQ(c["users_online"], 5);
  EXPECT_GE(c["drops"]["bad_mac"].get<uint64_t>(), 1u);
  EXPECT_GE(c["drops_total"].get<uint64_t>(), 1u);
  EXPECT_EQ(c["events_published"], 5);
  EXPECT_GE(c["wheel_entries"].get<uint64_t>(), 5u);
  EXPECT_EQ(c["advised_interval_s"], 30);
  EXPECT_EQ(c["table_used"], 5);
  EXPECT_GT(c["table_load"].get<double>(), 0.0);
  EXPECT_EQ(s["total"]["sessions_online"], 5);
  for (std::size_t r = 1; r < wire::kDropReasonCount; ++r) {
    EXPECT_TRUE(
        c["drops"].contains(std::string(wire::drop_reason_name(static_cast<wire::DropReason>(r)))));
  }

  const auto m = http.get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.raw.find("presenced_sessions_online{core=\"0\"} 5\n"), std::string::npos) << m.raw;
  EXPECT_NE(m.raw.find("presenced_events_published_total{core=\"0\",type=\"online\"} 5\n"),
            std::string::npos);
  EXPECT_NE(m.raw.find("presenced_drops_total{core=\"0\",reason=\"bad_mac\"} "), std::string::npos);
  if (access("/usr/bin/promtool", X_OK) == 0) {
    write_file(d.dir().file("metrics.txt"), m.raw);
    const std::string cmd = "/usr/bin/promtool check metrics < " + d.dir().file("metrics.txt") +
                            " > " + d.dir().file("promtool.txt") + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << read_file(d.dir().file("promtool.txt"));
    EXPECT_EQ(read_file(d.dir().file("promtool.txt")), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ControlStatusTest, ::testing::ValuesIn(test_backends()),
                         [](const auto& param_info) { return param_info.param; });

// ---- users ----

TEST(ControlUsersTest, UserStateAndDevices) {
  Daemon d("socket", {});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  UdpPeer p1;
  UdpPeer p2;
  TestClient a = session(4242, 1);
  TestClient b = session(4242, 2);
  b.status = wire::Status::kBusy;
  ASSERT_TRUE(bring_online(p1, d.address(), a));
  ASSERT_TRUE(bring_online(p2, d.address(), b));
  const Json u = wait_for_json(http, "/v1/users/4242", [](const Json& j) {
    return j["online"] == true && j["devices"].size() == 2;
  });
  ASSERT_FALSE(u.is_null());
  EXPECT_EQ(u["user"], 4242);
  EXPECT_EQ(u["online"], true);
  EXPECT_EQ(u["lingering"], false);
  EXPECT_EQ(u["status"], "busy");  // busy > available
  EXPECT_GT(u["last_seen_ms"].get<int64_t>(), 1'700'000'000'000);
  std::map<uint32_t, Json> devices;
  for (const Json& dev : u["devices"]) devices[dev["device"].get<uint32_t>()] = dev;
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[1]["online"], true);
  EXPECT_EQ(devices[1]["status"], "available");
  EXPECT_EQ(devices[2]["status"], "busy");
  EXPECT_EQ(devices[1]["address"], "127.0.0.1:" + std::to_string(p1.port()));
  EXPECT_EQ(devices[2]["address"], "127.0.0.1:" + std::to_string(p2.port()));
  EXPECT_EQ(devices[1]["interval_s"], 30);
  EXPECT_EQ(devices[1]["reconnect_pending"], false);
  EXPECT_TRUE(is_error(http.get("/v1/users/4243"), 404, "user 4243 not found"));
  EXPECT_TRUE(is_error(http.get("/v1/users/zero"), 400, "user must be"));
}

TEST(ControlUsersTest, BatchQueryOfTenThousand) {
  Daemon d("socket", {"--max-sessions", "20000"});
  ASSERT_TRUE(d.ok());
  constexpr uint64_t kUsers = 10'000;
  constexpr uint64_t kFirst = 100'000;
  UdpPeer peer;
  std::vector<TestClient> clients;
  for (uint64_t i = 0; i < kUsers; ++i) clients.push_back(session(kFirst + i));
  // Heartbeats in windows small enough for the socket buffers; a lost
  // datagram is sent again (with a new seq) in the next round.
  std::set<uint64_t> acked;
  for (int round = 0; round < 5 && acked.size() < kUsers; ++round) {
    for (uint64_t i = 0; i < kUsers; i += 100) {
      std::size_t sent = 0;
      for (uint64_t k = i; k < std::min(kUsers, i + 100); ++k) {
        if (acked.count(kFirst + k) != 0) continue;
        peer.send_to(d.address(), clients[k].heartbeat().bytes);
        ++sent;
      }
      for (std::size_t r = 0; r < sent; ++r) {
        const auto reply = peer.receive(std::chrono::milliseconds(500));
        if (!reply) break;
        wire::AckPacket ack;
        if (wire::parse_ack(*reply, ack) == wire::DropReason::kNone) acked.insert(ack.h.user_id);
      }
    }
  }
  ASSERT_EQ(acked.size(), kUsers);

  ControlClient http(d.control());
  Json body;
  body["users"] = Json::array();
  for (uint64_t i = 0; i < kUsers; ++i) body["users"].push_back(kFirst + i);
  const auto a = http.post("/v1/users:batch", body.dump());
  ASSERT_EQ(a.status, 200) << a.raw.substr(0, 300);
  ASSERT_EQ(a.body["users"].size(), kUsers);
  EXPECT_TRUE(a.body["unknown"].empty());
  std::set<uint64_t> seen;
  std::size_t online = 0;
  for (const Json& u : a.body["users"]) {
    seen.insert(u["user"].get<uint64_t>());
    online += u["online"] == true ? 1 : 0;
  }
  EXPECT_EQ(seen.size(), kUsers);
  EXPECT_EQ(online, kUsers);
  EXPECT_EQ(a.body["users"][0]["user"], kFirst) << "answers keep the request order";

  body["users"].push_back(1);
  EXPECT_TRUE(is_error(http.post("/v1/users:batch", body.dump()), 413, "at most 10000"));
  const auto mixed = http.post("/v1/users:batch", R"({"users":[100000,7,100001]})");
  ASSERT_EQ(mixed.status, 200);
  EXPECT_EQ(mixed.body["users"].size(), 2u);
  EXPECT_EQ(mixed.body["unknown"], Json::parse("[7]"));
}

// ---- config ----

TEST(ControlConfigTest, PatchChangesTheIntervalInTheNextAck) {
  Daemon d("socket", {});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  UdpPeer peer;
  TestClient c = session(5151);
  auto reply = heartbeat(peer, d.address(), c);
  ASSERT_TRUE(reply);
  wire::AckPacket ack;
  ASSERT_EQ(wire::parse_ack(*reply, ack), wire::DropReason::kNone);
  EXPECT_EQ(ack.next_interval_s, 30);

  const auto g = http.get("/v1/config");
  ASSERT_EQ(g.status, 200);
  for (const char* key : {"interval_s", "miss_limit", "grace_ms", "linger_ms", "min_interval_s",
                          "max_interval_s", "heartbeat_budget", "tick_ms", "log_level"}) {
    EXPECT_TRUE(g.body.contains(key)) << key;
  }
  EXPECT_EQ(g.body["interval_s"], 30);
  EXPECT_EQ(g.body["log_level"], "info");

  const auto p = http.patch("/v1/config", R"({"interval_s":45,"grace_ms":1000})");
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.body["interval_s"], 45);
  EXPECT_EQ(p.body["grace_ms"], 1000);
  EXPECT_EQ(p.body["miss_limit"], 3) << "keys not patched keep their value";
  // The answer came after every core applied it: the very next ACK says so.
  reply = heartbeat(peer, d.address(), c);
  ASSERT_TRUE(reply);
  ASSERT_EQ(wire::parse_ack(*reply, ack), wire::DropReason::kNone);
  EXPECT_TRUE(is_valid_ack(*reply, c, c.seq));
  EXPECT_EQ(ack.next_interval_s, 45);
  EXPECT_EQ(http.get("/v1/config").body["interval_s"], 45);
  EXPECT_EQ(http.get("/v1/status").body["cores"][0]["advised_interval_s"], 45);

  // Refused patches change nothing.
  EXPECT_TRUE(is_error(http.patch("/v1/config", R"({"interval_s":5000})"), 400,
                       "interval_s must be an integer in [1, 3600] seconds"));
  EXPECT_TRUE(is_error(http.patch("/v1/config", R"({"interval_s":5})"), 400,
                       "interval_s must be in [10, 300] seconds"));
  EXPECT_TRUE(is_error(http.patch("/v1/config", R"({"interval_s":20,"nope":1})"), 400,
                       "unknown key \"nope\""));
  EXPECT_EQ(http.get("/v1/config").body["interval_s"], 45);
  reply = heartbeat(peer, d.address(), c);
  ASSERT_TRUE(reply);
  ASSERT_EQ(wire::parse_ack(*reply, ack), wire::DropReason::kNone);
  EXPECT_EQ(ack.next_interval_s, 45);

  // The log level is part of it.
  const auto lv = http.patch("/v1/config", R"({"log_level":"debug"})");
  ASSERT_EQ(lv.status, 200);
  EXPECT_EQ(lv.body["log_level"], "debug");
  http.get("/v1/status");
  // The request log line is written after the answer: wait for it.
  bool logged = false;
  for (int i = 0; i < 500 && !logged; ++i) {
    logged = d.stderr_text().find("control: 127.0.0.1 GET /v1/status -> 200") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(logged) << "debug logging is on\n" << d.stderr_text();
}

// ---- reconnect ----

class ControlReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>("socket", std::vector<std::string>{});
    ASSERT_TRUE(daemon_->ok());
    http_ = std::make_unique<ControlClient>(daemon_->control());
  }
  // The next reply to a heartbeat of `c`.
  std::vector<uint8_t> next_reply(UdpPeer& peer, TestClient& c) {
    const auto r = heartbeat(peer, daemon_->address(), c);
    EXPECT_TRUE(r.has_value()) << "no reply for user " << c.user << " device " << c.device;
    return r.value_or(std::vector<uint8_t>{});
  }

  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<ControlClient> http_;
};

TEST_F(ControlReconnectTest, UserSessionsGetReconnectWithTargetAndDelayWithinSpread) {
  constexpr uint32_t kDevices = 20;
  constexpr uint32_t kSpread = 3000;
  std::vector<std::unique_ptr<UdpPeer>> peers;
  std::vector<TestClient> devices;
  for (uint32_t dev = 1; dev <= kDevices; ++dev) {
    peers.push_back(std::make_unique<UdpPeer>());
    devices.push_back(session(700, dev));
    ASSERT_TRUE(bring_online(*peers.back(), daemon_->address(), devices.back()));
  }
  UdpPeer other_peer;
  TestClient other = session(701);
  ASSERT_TRUE(bring_online(other_peer, daemon_->address(), other));

  const auto a = http_->post("/v1/reconnect", R"({"user":700,"target":"10.9.8.7:7460",)"
                                              R"("spread_ms":3000,"reason":"rebalance"})");
  ASSERT_EQ(a.status, 202) << a.raw;
  EXPECT_EQ(a.body["scope"], "user");

  NetAddr want;
  ASSERT_TRUE(parse_net_addr("10.9.8.7:7460", want));
  std::set<uint32_t> delays;
  for (uint32_t i = 0; i < kDevices; ++i) {
    const std::vector<uint8_t> reply = next_reply(*peers[i], devices[i]);
    wire::ReconnectPacket rc;
    ASSERT_TRUE(is_valid_reconnect(reply, devices[i], rc)) << "device " << i + 1;
    EXPECT_EQ(rc.h.seq, devices[i].seq) << "echoes the heartbeat's seq";
    EXPECT_TRUE(targets(rc, want));
    EXPECT_EQ(rc.reason, wire::ReconnectReason::kRebalance);
    EXPECT_LE(rc.delay_ms, kSpread);
    delays.insert(rc.delay_ms);
  }
  EXPECT_GT(delays.size(), 1u) << "delays are spread, not all equal";
  // The other user is not affected.
  const auto other_reply = next_reply(other_peer, other);
  EXPECT_TRUE(is_valid_ack(other_reply, other, other.seq));
  // One-shot: the session's next heartbeat is acknowledged again.
  const auto again = next_reply(*peers[0], devices[0]);
  EXPECT_TRUE(is_valid_ack(again, devices[0], devices[0].seq));
}

TEST_F(ControlReconnectTest, DeviceScopeAndIpv6Target) {
  UdpPeer p1;
  UdpPeer p2;
  TestClient d1 = session(800, 1);
  TestClient d2 = session(800, 2);
  ASSERT_TRUE(bring_online(p1, daemon_->address(), d1));
  ASSERT_TRUE(bring_online(p2, daemon_->address(), d2));
  const auto a =
      http_->post("/v1/reconnect", R"({"user":800,"device":2,"target":"[2001:db8::7]:9000"})");
  ASSERT_EQ(a.status, 202) << a.raw;
  const Json u = wait_for_json(*http_, "/v1/users/800", [](const Json& j) {
    for (const Json& dev : j["devices"]) {
      if (dev["device"] == 2) return dev["reconnect_pending"] == true;
    }
    return false;
  });
  EXPECT_FALSE(u.is_null());
  const auto d1_reply = next_reply(p1, d1);
  EXPECT_TRUE(is_valid_ack(d1_reply, d1, d1.seq)) << "device 1 is not affected";
  wire::ReconnectPacket rc;
  ASSERT_TRUE(is_valid_reconnect(next_reply(p2, d2), d2, rc));
  NetAddr want;
  ASSERT_TRUE(parse_net_addr("[2001:db8::7]:9000", want));
  EXPECT_TRUE(targets(rc, want));
  EXPECT_EQ(rc.reason, wire::ReconnectReason::kOperator) << "the default reason";
  EXPECT_EQ(rc.delay_ms, 0u) << "no spread: at once";
}

TEST_F(ControlReconnectTest, AllSessions) {
  std::vector<std::unique_ptr<UdpPeer>> peers;
  std::vector<TestClient> clients;
  for (uint64_t u = 0; u < 6; ++u) {
    peers.push_back(std::make_unique<UdpPeer>());
    clients.push_back(session(900 + u));
    ASSERT_TRUE(bring_online(*peers.back(), daemon_->address(), clients.back()));
  }
  const auto a =
      http_->post("/v1/reconnect", R"({"all":true,"reason":"overload","spread_ms":500})");
  ASSERT_EQ(a.status, 202) << a.raw;
  // The cores mark every session with a paced scan: wait until it has.
  for (const TestClient& c : clients) {
    const Json u = wait_for_json(*http_, "/v1/users/" + std::to_string(c.user), [](const Json& j) {
      return j["devices"][0]["reconnect_pending"] == true;
    });
    EXPECT_EQ(u["devices"][0]["reconnect_pending"], true) << c.user;
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    wire::ReconnectPacket rc;
    ASSERT_TRUE(is_valid_reconnect(next_reply(*peers[i], clients[i]), clients[i], rc)) << i;
    EXPECT_TRUE(targets(rc, NetAddr{})) << "same server";
    EXPECT_EQ(rc.reason, wire::ReconnectReason::kOverload);
    EXPECT_LE(rc.delay_ms, 500u);
  }
}

TEST_F(ControlReconnectTest, Refusals) {
  EXPECT_TRUE(
      is_error(http_->post("/v1/reconnect", R"({"user":12345})"), 404, "user 12345 not found"));
  UdpPeer p;
  TestClient c = session(801);
  ASSERT_TRUE(bring_online(p, daemon_->address(), c));
  EXPECT_TRUE(is_error(http_->post("/v1/reconnect", R"({"user":801,"device":9})"), 404,
                       "device 9 of user 801 not found"));
  EXPECT_TRUE(is_error(http_->post("/v1/reconnect", "{}"), 400, "give user"));
  EXPECT_TRUE(is_error(http_->post("/v1/reconnect", R"({"user":801,"target":"x"})"), 400,
                       "target must be"));
  EXPECT_TRUE(is_error(http_->post("/v1/reconnect", R"({"user":801,"spread_ms":99999999})"), 400,
                       "spread_ms must be"));
  EXPECT_TRUE(is_error(http_->post("/v1/reconnect", R"({"user":801,"reason":"x"})"), 400,
                       "reason must be one of drain, operator, rebalance, overload"));
  // Nothing was marked.
  const auto reply = next_reply(p, c);
  EXPECT_TRUE(is_valid_ack(reply, c, c.seq));
}

// ---- drain ----

TEST(ControlDrainTest, PushesOneReconnectPerOnlineSession) {
  Daemon d("socket", {"--drain-rate", "1000"});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  constexpr std::size_t kSessions = 20;
  std::vector<std::unique_ptr<UdpPeer>> peers;
  std::vector<TestClient> clients;
  for (std::size_t i = 0; i < kSessions; ++i) {
    peers.push_back(std::make_unique<UdpPeer>());
    clients.push_back(session(1000 + i / 2, static_cast<uint32_t>(i % 2 + 1)));
    ASSERT_TRUE(bring_online(*peers.back(), d.address(), clients.back()));
  }
  EXPECT_EQ(http.get("/v1/drain").body["active"], false);
  const auto a = http.post("/v1/drain", R"({"target":"10.1.1.1:7460","spread_ms":500})");
  ASSERT_EQ(a.status, 202) << a.raw;
  EXPECT_EQ(a.body["active"], true);
  EXPECT_EQ(a.body["rate"], 1000) << "--drain-rate is the default";
  EXPECT_EQ(a.body["reason"], "drain");

  NetAddr want;
  ASSERT_TRUE(parse_net_addr("10.1.1.1:7460", want));
  for (std::size_t i = 0; i < kSessions; ++i) {
    const auto pushed = peers[i]->receive(std::chrono::seconds(10));
    ASSERT_TRUE(pushed.has_value()) << "session " << i << " got no RECONNECT";
    wire::ReconnectPacket rc;
    ASSERT_TRUE(is_valid_reconnect(*pushed, clients[i], rc)) << i;
    EXPECT_TRUE(targets(rc, want)) << i;
    EXPECT_EQ(rc.reason, wire::ReconnectReason::kDrain);
    EXPECT_LE(rc.delay_ms, 500u);
  }
  // Exactly one each.
  for (std::size_t i = 0; i < kSessions; ++i) {
    EXPECT_FALSE(peers[i]->receive(std::chrono::milliseconds(i == 0 ? 500 : 10)).has_value())
        << "session " << i << " got a second push";
  }
  const Json dr = wait_for_json(
      http, "/v1/drain", [&](const Json& j) { return j["pushed"].get<uint64_t>() >= kSessions; });
  EXPECT_EQ(dr["active"], true);
  EXPECT_EQ(dr["total"], kSessions);
  EXPECT_EQ(dr["pushed"], kSessions);
  EXPECT_EQ(dr["remaining"], 0);
  EXPECT_EQ(dr["target"], "10.1.1.1:7460");
  EXPECT_EQ(http.get("/v1/status").body["drain"]["pushed"], kSessions);

  // A new session is not admitted: it is told to go (reason DRAIN).
  UdpPeer late_peer;
  TestClient late = session(1999);
  const auto reply = heartbeat(late_peer, d.address(), late);
  ASSERT_TRUE(reply.has_value());
  wire::ReconnectPacket rc;
  ASSERT_TRUE(is_valid_reconnect(*reply, late, rc));
  EXPECT_EQ(rc.reason, wire::ReconnectReason::kDrain);
  EXPECT_TRUE(is_error(http.get("/v1/users/1999"), 404, "not found"));

  EXPECT_TRUE(is_error(http.post("/v1/drain", "{}"), 409, "already"));
}

TEST(ControlDrainTest, Refusals) {
  Daemon d("socket", {});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  EXPECT_TRUE(is_error(http.post("/v1/drain", R"({"rate":0})"), 400, "rate must be"));
  EXPECT_TRUE(is_error(http.post("/v1/drain", R"({"target":"nowhere"})"), 400, "target"));
  EXPECT_TRUE(is_error(http.post("/v1/drain", R"({"reason":"drain"})"), 400, "unknown key"));
  EXPECT_TRUE(is_error(http.post("/v1/drain", "[1]"), 400, "JSON object"));
  EXPECT_EQ(http.get("/v1/drain").body["active"], false);
}

// ---- events ----

// Brings users online and waits until the stream has published `last_id`.
void online_users(Daemon& d, ControlClient& http, UdpPeer& peer, uint64_t first, uint64_t n,
                  uint64_t last_id) {
  for (uint64_t u = first; u < first + n; ++u) {
    TestClient c = session(u);
    ASSERT_TRUE(bring_online(peer, d.address(), c));
  }
  const Json s = wait_for_json(http, "/v1/status", [&](const Json& j) {
    return j["stream"]["last_event_id"].get<uint64_t>() >= last_id;
  });
  ASSERT_EQ(s["stream"]["last_event_id"], last_id) << s.dump();
}

TEST(ControlEventsTest, ResumeWithLastEventIdGetsWhatWasMissed) {
  Daemon d("socket", {});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  UdpPeer peer;
  online_users(d, http, peer, 61, 3, 3);
  // From the start of the backlog.
  SseRead r = read_events(d.control(), 0, [](const SseRead& s) { return s.events.size() >= 3; });
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(r.events.size(), 3u) << r.raw;
  const auto lines = d.event_lines("\"online\"");
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.events[i].id, std::to_string(i + 1));
    EXPECT_EQ(r.events[i].type, "online");
    EXPECT_EQ(r.events[i].data, lines[i]) << "the same JSON as --events-out";
  }
  // Two more while "disconnected", then resume after id 3.
  online_users(d, http, peer, 64, 2, 5);
  r = read_events(d.control(), 3, [](const SseRead& s) { return s.events.size() >= 2; });
  ASSERT_EQ(r.events.size(), 2u) << r.raw;
  EXPECT_EQ(r.events[0].id, "4");
  EXPECT_EQ(r.events[1].id, "5");
  EXPECT_EQ(Json::parse(r.events[0].data)["user"], 64);

  // Without Last-Event-ID a client gets new events only. (The streams
  // above may still count as subscribers until their next keepalive, so
  // the stream's greeting, not the subscriber count, says we are in.)
  std::atomic<bool> subscribed{false};
  std::thread late([&] {
    for (int i = 0; i < 1000 && !subscribed; ++i) std::this_thread::sleep_for(10ms);
    UdpPeer p2;
    TestClient c = session(66);
    EXPECT_TRUE(bring_online(p2, d.address(), c));
  });
  r = read_events(d.control(), std::nullopt, [&](const SseRead& s) {
    subscribed = true;
    return !s.events.empty();
  });
  late.join();
  ASSERT_EQ(r.events.size(), 1u) << r.raw;
  EXPECT_EQ(r.events[0].id, "6");
  EXPECT_EQ(Json::parse(r.events[0].data)["user"], 66);
}

TEST(ControlEventsTest, ResetWhenTheBacklogNoLongerHasThem) {
  Daemon d("socket", {"--event-backlog", "4"});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  UdpPeer peer;
  online_users(d, http, peer, 71, 10, 10);
  EXPECT_EQ(http.get("/v1/status").body["stream"]["backlog"], 4);
  const SseRead r =
      read_events(d.control(), 1, [](const SseRead& s) { return s.events.size() >= 5; });
  ASSERT_EQ(r.events.size(), 5u) << r.raw;
  EXPECT_EQ(r.events[0].type, "reset");
  const Json reset = Json::parse(r.events[0].data);
  EXPECT_EQ(reset["reason"], "backlog");
  EXPECT_EQ(reset["missed_from"], 2);
  EXPECT_EQ(reset["resume_at"], 7);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_EQ(r.events[i].id, std::to_string(i + 6));
}

TEST(ControlEventsTest, SlowConsumersAreCutAndCounted) {
  // A backlog of one event: a subscriber that has not sent event N when
  // N + 1 arrives has fallen behind.
  Daemon d("socket", {"--event-backlog", "1"});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  std::atomic<bool> done{false};
  std::atomic<bool> gave_up{false};
  std::thread producer([&] {
    wait_for_json(http, "/v1/status",
                  [](const Json& j) { return j["stream"]["subscribers"] == 1; });
    UdpPeer peer;
    for (uint64_t burst = 0; burst < 50 && !done; ++burst) {
      for (uint64_t u = 0; u < 50; ++u) {
        TestClient c = session(20'000 + burst * 50 + u);
        peer.send_to(d.address(), c.heartbeat().bytes);
      }
      for (int i = 0; i < 50; ++i) peer.receive(std::chrono::milliseconds(200));
    }
    gave_up = true;  // bounded: the reader stops at its next keepalive
  });
  const SseRead r =
      read_events(d.control(), std::nullopt, [&](const SseRead&) { return gave_up.load(); });
  done = true;
  producer.join();
  EXPECT_TRUE(r.ended_by_server) << "the server ended the slow consumer's stream";
  EXPECT_NE(r.raw.find("cut off"), std::string::npos) << r.raw.substr(0, 500);
  const Json s = http.get("/v1/status").body;
  EXPECT_GE(s["stream"]["slow_consumers_cut"].get<uint64_t>(), 1u);
  EXPECT_NE(http.get("/metrics").raw.find("presenced_slow_consumers_cut_total 1"),
            std::string::npos);
}

TEST(ControlEventsTest, SigtermEndsOpenStreamsAndExitsZero) {
  Daemon d("socket", {});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  SseRead r;
  std::thread reader(
      [&] { r = read_events(d.control(), std::nullopt, [](const SseRead&) { return false; }); });
  wait_for_json(http, "/v1/status", [](const Json& j) { return j["stream"]["subscribers"] == 1; });
  d.process().signal(SIGTERM);
  const auto code = d.process().wait(std::chrono::seconds(10));
  reader.join();
  ASSERT_TRUE(code.has_value()) << "presenced did not exit";
  EXPECT_EQ(*code, 0) << d.stderr_text();
  EXPECT_TRUE(r.ended_by_server);
}

// ---- every 4xx path against the real server ----

TEST(ControlErrorsTest, EveryClientErrorIsJson) {
  Daemon d("socket", {});
  ASSERT_TRUE(d.ok());
  ControlClient http(d.control());
  EXPECT_TRUE(is_error(http.get("/"), 404, "no such route"));
  EXPECT_TRUE(is_error(http.get("/v2/status"), 404, "no such route"));
  EXPECT_TRUE(is_error(http.post("/v1/nothing", "{}"), 404, "no such route"));
  auto a = http.post("/v1/status", "{}");
  EXPECT_TRUE(is_error(a, 405, "not allowed"));
  EXPECT_EQ(a.allow, "GET, HEAD");
  a = http.get("/v1/reconnect");
  EXPECT_TRUE(is_error(a, 405, "not allowed"));
  EXPECT_EQ(a.allow, "POST");
  EXPECT_TRUE(is_error(ControlClient::answer(http.http().Delete("/v1/config")), 405, "DELETE"));
  EXPECT_TRUE(is_error(http.post("/v1/users:batch", std::string((1 << 20) + 1, ' ')), 413,
                       "larger than 1048576 bytes"));
  EXPECT_TRUE(is_error(http.patch("/v1/config", "{"), 400, "invalid JSON"));
  EXPECT_TRUE(is_error(http.post("/v1/reconnect", "nope"), 400, "invalid JSON"));
  for (const char* key :
       {"interval_s", "miss_limit", "min_interval_s", "max_interval_s", "tick_ms"}) {
    EXPECT_TRUE(is_error(http.patch("/v1/config", std::string("{\"") + key + "\":0}"), 400,
                         std::string(key) + " must be an integer in ["));
  }
  for (const char* key : {"grace_ms", "linger_ms", "heartbeat_budget"}) {
    EXPECT_TRUE(is_error(http.patch("/v1/config", std::string("{\"") + key + "\":-1}"), 400,
                         std::string(key) + " must be an integer in [0, "));
  }
  EXPECT_TRUE(is_error(http.patch("/v1/config", R"({"log_level":"chatty"})"), 400, "log_level"));
  EXPECT_TRUE(is_error(http.get("/v1/users/1"), 404, "user 1 not found"));
  EXPECT_TRUE(is_error(http.get("/v1/users/-1"), 400, "user must be"));
  EXPECT_TRUE(is_error(http.post("/v1/users:batch", R"({"users":[0]})"), 400, "users[0]"));
  EXPECT_TRUE(is_error(http.post("/v1/users:batch", R"({"ids":[1]})"), 400, "unknown key"));
  EXPECT_TRUE(is_error(http.post("/v1/reconnect", R"({"device":1})"), 400, "device needs user"));
  EXPECT_TRUE(is_error(http.post("/v1/drain", R"({"spread_ms":-1})"), 400, "spread_ms"));
  EXPECT_TRUE(is_error(ControlClient::answer(http.http().Get(
                           "/v1/events", httplib::Headers{{"Last-Event-ID", "x1"}})),
                       400, "Last-Event-ID"));
}

// ---- the token ----

TEST(ControlTokenTest, OffLoopbackWithoutATokenFileRefusesToStart) {
  TempDir dir;
  write_file(dir.file("key"), "000102030405060708090a0b0c0d0e0f\n");
  write_file(dir.file("empty"), "\n");
  struct Case {
    std::vector<std::string> extra;
    std::string expected;
  };
  const Case cases[] = {
      {{"--control", "0.0.0.0:0"}, "--control-token-file"},
      {{"--control", "[::]:0"}, "--control-token-file"},
      {{"--control", "0.0.0.0:0", "--control-token-file", dir.file("empty")}, "empty"},
      {{"--control", "0.0.0.0:0", "--control-token-file", dir.file("missing")},
       dir.file("missing")},
      {{"--control", "127.0.0.1"}, "--control must be ADDR:PORT"},
      {{"--event-backlog", "0"}, "--event-backlog"},
      {{"--drain-rate", "0"}, "--drain-rate"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {
        "--backend",         "socket",        "--listen",       "127.0.0.1:0", "--cores", "0",
        "--master-key-file", dir.file("key"), "--max-sessions", "1000"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    Process p(binary_path("PRESENCED_BIN"), args, dir.file("stderr"));
    const auto code = p.wait(std::chrono::seconds(20));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 2) << c.extra[1];
    const std::string err = read_file(dir.file("stderr"));
    EXPECT_NE(err.find(c.expected), std::string::npos) << err;
  }
}

TEST(ControlTokenTest, RequiredOffLoopbackAndWhenConfigured) {
  TempDir dir;
  write_file(dir.file("token"), "correct-horse-battery\n");
  for (const char* address : {"0.0.0.0:0", "127.0.0.1:0"}) {
    Daemon d("socket", {"--control", address, "--control-token-file", dir.file("token")});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(to_string(d.control()).substr(0, 8), std::string(address).substr(0, 8));
    ControlClient anonymous(d.control());
    EXPECT_TRUE(is_error(anonymous.get("/v1/status"), 401, "bearer token"));
    EXPECT_TRUE(is_error(anonymous.get("/metrics"), 401, "bearer token"));
    EXPECT_TRUE(is_error(anonymous.get("/v1/events"), 401, "bearer token"));
    EXPECT_TRUE(is_error(anonymous.patch("/v1/config", R"({"interval_s":20})"), 401, "bearer"));
    ControlClient wrong(d.control(), "correct-horse");
    EXPECT_TRUE(is_error(wrong.get("/v1/status"), 401, "bearer token"));
    ControlClient right(d.control(), "correct-horse-battery");
    EXPECT_EQ(right.get("/v1/status").status, 200);
    EXPECT_EQ(right.get("/v1/config").body["interval_s"], 30) << "the refused PATCH did nothing";
  }
}

TEST(ControlOffTest, NoControlPlaneWhenOff) {
  Daemon d("socket", {"--control", "off"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.control().port, 0);
  UdpPeer peer;
  TestClient c = session(31);
  EXPECT_TRUE(bring_online(peer, d.address(), c));
}

}  // namespace
}  // namespace presenced::testing
