// Integration tests: the real presenced binary on 127.0.0.1 port 0, talked
// to with ordinary UDP sockets, for every I/O backend in the build.
#include <random>
#include <thread>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/integration/daemon_fixture.h"

namespace presenced::testing {
namespace {

class DaemonTest : public ::testing::TestWithParam<std::string> {
 protected:
  TestClient client(uint64_t user, uint32_t device = 1) {
    TestClient c;
    c.user = user;
    c.device = device;
    c.expiry = unix_now() + 3600;
    return c;
  }
};

// Fast liveness for the timing tests: timeout = 2 x 1 s + 0.
const std::vector<std::string> kFast = {
    "--interval", "1", "--min-interval", "1", "--miss-limit", "2", "--grace", "0", "--linger", "0"};

TEST_P(DaemonTest, ValidHeartbeatGetsVerifyingAck) {
  Daemon d(GetParam(), {});
  ASSERT_TRUE(d.ok());
  UdpPeer peer;
  TestClient c = client(1001);
  peer.send_to(d.address(), c.heartbeat().bytes);
  const auto reply = peer.receive(5s);
  ASSERT_TRUE(reply.has_value()) << d.stderr_text();
  EXPECT_TRUE(is_valid_ack(*reply, c, c.seq));
  wire::AckPacket a;
  ASSERT_EQ(wire::parse_ack(*reply, a), wire::DropReason::kNone);
  EXPECT_GE(a.next_interval_s, 10);   // default min_interval
  EXPECT_LE(a.next_interval_s, 300);  // default max_interval
  EXPECT_EQ(a.next_interval_s, 30);   // no load: the base interval
}

TEST_P(DaemonTest, NoReplyToMalformedForgedExpiredReplayedOrRandomDatagrams) {
  Daemon d(GetParam(), {});
  ASSERT_TRUE(d.ok());
  UdpPeer peer;
  TestClient c = client(2002);
  // Establish the session (for the replay cases).
  const Packet first = c.heartbeat();
  peer.send_to(d.address(), first.bytes);
  ASSERT_TRUE(peer.receive(5s).has_value());

  std::vector<std::vector<uint8_t>> bad;
  auto mutate = [&](std::size_t off, uint8_t v) {
    auto b = c.heartbeat().bytes;
    b[off] = v;
    bad.push_back(b);
  };
  for (std::size_t n : {0u, 1u, 39u, 41u, 1500u}) {
    auto b = c.heartbeat().bytes;
    b.resize(n, 0);
    bad.push_back(b);
  }
  mutate(0, 0x51);                          // magic
  mutate(2, 2);                             // version
  mutate(3, 9);                             // type
  mutate(3, 2);                             // ACK sent to the server
  mutate(wire::kOffStatus, 4);              // status
  mutate(wire::kOffFlags, 0x02);            // reserved flag
  mutate(39, c.heartbeat().bytes[39] ^ 1);  // bad MAC
  {
    auto zero = c.heartbeat().bytes;
    for (int i = 4; i < 12; ++i) zero[static_cast<std::size_t>(i)] = 0;
    bad.push_back(zero);
  }
  TestClient expired = client(2003);
  expired.expiry = unix_now() - 10;
  bad.push_back(expired.heartbeat().bytes);
  bad.push_back(first.bytes);                                    // replay
  bad.push_back(c.make(wire::PacketType::kHeartbeat, 1).bytes);  // lower seq
  std::mt19937_64 rng(3);
  for (int i = 0; i < 10000; ++i) {
    std::vector<uint8_t> r(rng() % 80);
    for (auto& x : r) x = static_cast<uint8_t>(rng());
    if (i % 2 == 1 && r.size() >= 4) {
      r[0] = 0x50;
      r[1] = 0x48;
      r[2] = 1;
      r[3] = 1;
    }
    bad.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < bad.size(); ++i) {
    peer.send_to(d.address(), bad[i]);
    if (i % 256 == 255) std::this_thread::sleep_for(1ms);  // stay within socket buffers
  }
  // Then a valid heartbeat: the first (and only) datagram back is its ACK.
  // (This source just spent its invalid-packet budget, so it waits for its
  // bucket to refill a little first: 10 ms at the default 200/s.)
  std::this_thread::sleep_for(100ms);
  const Packet good = c.heartbeat();
  peer.send_to(d.address(), good.bytes);
  const auto reply = peer.receive(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(is_valid_ack(*reply, c, c.seq));
  EXPECT_FALSE(peer.receive(300ms).has_value()) << "a junk datagram was answered";
}

TEST_P(DaemonTest, NatRebindingFollowsAuthenticatedPacketsOnly) {
  Daemon d(GetParam(), {});
  ASSERT_TRUE(d.ok());
  UdpPeer old_port;
  UdpPeer new_port;
  TestClient c = client(3003);
  old_port.send_to(d.address(), c.heartbeat().bytes);
  ASSERT_TRUE(old_port.receive(5s).has_value());
  const Packet stale = c.heartbeat();  // captured, delivered later
  const Packet moved = c.heartbeat();
  new_port.send_to(d.address(), moved.bytes);
  const auto on_new = new_port.receive(5s);
  ASSERT_TRUE(on_new.has_value()) << "a higher seq from the new port is answered there";
  EXPECT_TRUE(is_valid_ack(*on_new, c, c.seq));
  old_port.send_to(d.address(), stale.bytes);
  EXPECT_FALSE(old_port.receive(500ms).has_value()) << "the lower seq from the old port is not";
  EXPECT_FALSE(new_port.receive(100ms).has_value());
}

TEST_P(DaemonTest, OfflineAfterTimeoutAndNotBefore) {
  Daemon d(GetParam(), kFast);
  ASSERT_TRUE(d.ok());
  UdpPeer peer;
  TestClient c = client(4004);
  const auto sent = std::chrono::steady_clock::now();
  peer.send_to(d.address(), c.heartbeat().bytes);
  ASSERT_TRUE(peer.receive(5s).has_value());
  ASSERT_TRUE(d.wait_for_events("\"online\"", 1, 5s));
  // The timeout is 2 s after the server accepted the heartbeat, which is
  // after `sent`: no offline before sent + 2 s.
  std::this_thread::sleep_until(sent + 1800ms);
  EXPECT_TRUE(d.event_lines("\"offline\"").empty()) << "offline before the timeout";
  ASSERT_TRUE(d.wait_for_events("\"offline\"", 1, 10s)) << d.events();
  const auto seen = std::chrono::steady_clock::now();
  EXPECT_GE(seen - sent, 2000ms);
  // One tick (10 ms) plus a generous margin for a busy machine.
  EXPECT_LE(seen - sent, 2000ms + 3000ms);
  const auto lines = d.event_lines("\"user\":4004");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"type\":\"online\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"type\":\"offline\""), std::string::npos);
}

TEST_P(DaemonTest, ByeGivesOfflineAtOnce) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--miss-limit", "10"});  // timeout 10 s: BYE must not wait for it
  Daemon d(GetParam(), args);
  ASSERT_TRUE(d.ok());
  UdpPeer peer;
  TestClient c = client(5005);
  peer.send_to(d.address(), c.heartbeat().bytes);
  ASSERT_TRUE(peer.receive(5s).has_value());
  const auto bye_sent = std::chrono::steady_clock::now();
  peer.send_to(d.address(), c.bye().bytes);
  const auto ack = peer.receive(5s);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(is_valid_ack(*ack, c, c.seq));
  ASSERT_TRUE(d.wait_for_events("\"offline\"", 1, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - bye_sent, 5s);
}

TEST_P(DaemonTest, TwoDevicesOfOneUserGiveOneOnlineAndOneOffline) {
  Daemon d(GetParam(), kFast);
  ASSERT_TRUE(d.ok());
  UdpPeer p1;
  UdpPeer p2;
  TestClient a = client(6006, 1);
  TestClient b = client(6006, 2);
  p1.send_to(d.address(), a.heartbeat().bytes);
  ASSERT_TRUE(p1.receive(5s).has_value());
  p2.send_to(d.address(), b.heartbeat().bytes);
  ASSERT_TRUE(p2.receive(5s).has_value());
  p1.send_to(d.address(), a.bye().bytes);
  ASSERT_TRUE(p1.receive(5s).has_value());
  p2.send_to(d.address(), b.bye().bytes);
  ASSERT_TRUE(p2.receive(5s).has_value());
  ASSERT_TRUE(d.wait_for_events("\"offline\"", 1, 5s));
  std::this_thread::sleep_for(300ms);
  const auto lines = d.event_lines("\"user\":6006");
  ASSERT_EQ(lines.size(), 2u) << d.events();
  EXPECT_NE(lines[0].find("online"), std::string::npos);
  EXPECT_NE(lines[1].find("offline"), std::string::npos);
}

TEST_P(DaemonTest, SigtermExitsZeroAndFlushesEvents) {
  Daemon d(GetParam(), {});
  ASSERT_TRUE(d.ok());
  UdpPeer peer;
  TestClient c = client(7007);
  peer.send_to(d.address(), c.heartbeat().bytes);
  ASSERT_TRUE(peer.receive(5s).has_value());
  d.process().signal(SIGTERM);
  const auto code = d.process().wait(10s);
  ASSERT_TRUE(code.has_value()) << "presenced did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << d.stderr_text();
  EXPECT_EQ(d.event_lines("\"user\":7007").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DaemonTest, ::testing::ValuesIn(test_backends()),
                         [](const auto& param_info) { return param_info.param; });

// Start-up errors: exit 2 and a message naming the problem.
struct BadStart {
  std::vector<std::string> args;
  std::string expected;
};

class DaemonBadStartTest : public ::testing::TestWithParam<BadStart> {};

TEST_P(DaemonBadStartTest, ExitsTwoWithAMessage) {
  TempDir dir;
  std::vector<std::string> args = GetParam().args;
  for (auto& a : args) {
    if (a == "KEYFILE") a = dir.file("bad.key");
  }
  write_file(dir.file("bad.key"), "not-a-key\n");
  Process p(binary_path("PRESENCED_BIN"), args, dir.file("stderr"));
  const auto code = p.wait(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  const std::string err = read_file(dir.file("stderr"));
  EXPECT_NE(err.find(GetParam().expected), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, DaemonBadStartTest,
    ::testing::Values(BadStart{{"--miss-limit", "0"}, "--miss-limit must be in [1, 10]"},
                      BadStart{{"--interval", "99999"}, "--interval"},
                      BadStart{{"--tick-ms", "5000"}, "--tick-ms must be in [1, 1000]"},
                      BadStart{{"--grace", "soon"}, "--grace"},
                      BadStart{{"--backend", "carrier-pigeon"}, "--backend must be one of"},
                      BadStart{{"--listen", "nowhere"}, "--listen"},
                      BadStart{{"--max-sessions", "0"}, "--max-sessions"},
                      BadStart{{"--cores", "0,0"}, "--cores"},
                      BadStart{{"--log-level", "loud"}, "--log-level"},
                      BadStart{{"--no-such-flag"}, "--no-such-flag"},
                      BadStart{{"--master-key-file", "KEYFILE"}, "32 hex characters"},
                      BadStart{{"--master-key-file", "/nonexistent/key"}, "/nonexistent/key"}));

TEST(DaemonConfigFileTest, TomlKeysApplyAndFlagsWin) {
  TempDir dir;
  write_file(dir.file("key"), "000102030405060708090a0b0c0d0e0f\n");
  write_file(dir.file("presenced.toml"),
             "backend = \"socket\"\nlisten = \"127.0.0.1:0\"\nmax_sessions = 5000\n"
             "interval = 45\ncores = \"0\"\nmaster-key-file = \"" +
                 dir.file("key") + "\"\n");
  Process p(binary_path("PRESENCED_BIN"),
            {"--config", dir.file("presenced.toml"), "--interval", "40"}, dir.file("stderr"));
  const auto line = p.read_line(20s);
  ASSERT_TRUE(line.has_value()) << read_file(dir.file("stderr"));
  NetAddr addr;
  ASSERT_TRUE(parse_net_addr(line->substr(13), addr)) << *line;
  UdpPeer peer;
  TestClient c;
  c.user = 8;
  c.expiry = unix_now() + 600;
  peer.send_to(addr, c.heartbeat().bytes);
  const auto reply = peer.receive(5s);
  ASSERT_TRUE(reply.has_value());
  wire::AckPacket a;
  ASSERT_EQ(wire::parse_ack(*reply, a), wire::DropReason::kNone);
  EXPECT_EQ(a.next_interval_s, 40) << "the flag wins over the file";
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s).value_or(-1), 0);
}

TEST(DaemonConfigFileTest, UnknownKeyAndBadTomlExitTwo) {
  TempDir dir;
  write_file(dir.file("a.toml"), "no_such_key = 1\n");
  write_file(dir.file("b.toml"), "interval = = 3\n");
  {
    Process p(binary_path("PRESENCED_BIN"), {"--config", dir.file("a.toml")}, dir.file("e1"));
    EXPECT_EQ(p.wait(20s).value_or(-1), 2);
    EXPECT_NE(read_file(dir.file("e1")).find("no"), std::string::npos);
  }
  {
    Process p(binary_path("PRESENCED_BIN"), {"--config", dir.file("b.toml")}, dir.file("e2"));
    EXPECT_EQ(p.wait(20s).value_or(-1), 2);
    EXPECT_NE(read_file(dir.file("e2")).find("line 1"), std::string::npos)
        << read_file(dir.file("e2"));
  }
}

TEST(DaemonStateKeyTest, KeyIsCreatedOnceWithMode0600) {
  TempDir dir;
  for (int run = 0; run < 2; ++run) {
    Process p(binary_path("PRESENCED_BIN"),
              {"--backend", "socket", "--listen", "127.0.0.1:0", "--cores", "0", "--state-dir",
               dir.file("state"), "--max-sessions", "1000"},
              dir.file("stderr"));
    ASSERT_TRUE(p.read_line(20s).has_value()) << read_file(dir.file("stderr"));
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(10s).value_or(-1), 0);
    const std::string err = read_file(dir.file("stderr"));
    EXPECT_NE(err.find(run == 0 ? "created master key" : "using master key"), std::string::npos)
        << err;
  }
  struct stat st;
  ASSERT_EQ(stat(dir.file("state/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auth::MasterKey k;
  EXPECT_TRUE(auth::parse_master_key_hex(read_file(dir.file("state/master.key")), k));
}

}  // namespace
}  // namespace presenced::testing
