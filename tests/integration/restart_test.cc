// restart_test.cc: presenced killed with SIGKILL under load and restarted
// on the same port and key (docs/SECURITY.md, "Restart").
//
// Proves, with the real binary: sessions survive a crash by simply
// heartbeating (keys are stateless, the new process ACKs them with its new
// epoch); the new process publishes no ONLINE event for sessions that come
// back within restart_grace (the old process published them) and no OFFLINE
// for them either, while a session that is really new still gets its ONLINE.
#include <algorithm>
#include <csignal>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/daemon_fixture.h"

namespace presenced::testing {
namespace {

constexpr uint32_t kSessions = 2000;
constexpr uint64_t kUserBase = 70'000;

// timeout = 2 x 1 s + 1 s: the restart and the resumed traffic span more
// than one timeout, so a wrongly kept or lost session would show.
const std::vector<std::string> kFlags = {"--interval", "1",  "--min-interval", "1",
                                         "--miss-limit", "2", "--grace",        "1s",
                                         "--linger",   "0",  "--control",      "off"};

std::vector<uint8_t> heartbeat(TestClient& c, uint32_t epoch_seen, bool first) {
  c.epoch_seen = epoch_seen;
  return c.make(wire::PacketType::kHeartbeat, ++c.seq, first ? wire::kFlagFirst : 0).bytes;
}

// One round: every session heartbeats, 100 at a time so that no socket
// buffer overflows (resending unanswered ones, up to 5 times); returns the
// epochs seen in verifying ACKs, fails on a session that never got one.
std::set<uint32_t> round(UdpPeer& peer, const NetAddr& server, std::vector<TestClient>& clients,
                         uint32_t epoch_seen, bool first) {
  constexpr std::size_t kChunk = 100;
  std::set<uint32_t> epochs;
  std::vector<bool> acked(clients.size(), false);
  std::size_t unanswered = 0;
  for (std::size_t base = 0; base < clients.size(); base += kChunk) {
    const std::size_t end = std::min(clients.size(), base + kChunk);
    std::size_t missing = end - base;
    for (int attempt = 0; attempt < 5 && missing > 0; ++attempt) {
      for (std::size_t i = base; i < end; ++i) {
        if (!acked[i]) peer.send_to(server, heartbeat(clients[i], epoch_seen, first));
      }
      while (missing > 0) {
        const auto reply = peer.receive(300ms);
        if (!reply) break;
        wire::AckPacket a;
        if (wire::parse_ack(*reply, a) != wire::DropReason::kNone) continue;
        const uint64_t i = a.h.user_id - kUserBase;
        if (i < base || i >= end || acked[i]) continue;
        if (!auth::verify_packet(clients[i].key(), reply->data(), reply->size())) continue;
        acked[i] = true;
        --missing;
        epochs.insert(a.server_epoch);
      }
    }
    unanswered += missing;
  }
  EXPECT_EQ(unanswered, 0u) << "sessions without an ACK";
  return epochs;
}

TEST(RestartTest, SigkillAndRestartResumeSessionsWithoutAnEventHerd) {
  const std::string backend = test_backends().back();
  std::vector<TestClient> clients(kSessions);
  for (uint32_t i = 0; i < kSessions; ++i) {
    clients[i].user = kUserBase + i;
    clients[i].device = 1;
    clients[i].expiry = unix_now() + 3600;
  }
  UdpPeer peer;

  uint32_t old_epoch = 0;
  NetAddr address;
  {
    Daemon first(backend, kFlags);
    ASSERT_TRUE(first.ok());
    address = first.address();
    const std::set<uint32_t> epochs = round(peer, address, clients, 0, true);
    ASSERT_EQ(epochs.size(), 1u);
    old_epoch = *epochs.begin();
    ASSERT_TRUE(first.wait_for_events("\"online\"", kSessions, 10s)) << first.events();
    // Keep them heartbeating, then crash mid-load.
    round(peer, address, clients, old_epoch, false);
    first.process().signal(SIGKILL);
    ASSERT_TRUE(first.process().wait(10s).has_value());
  }

  Daemon second(backend, [&] {
    std::vector<std::string> f = kFlags;
    f.insert(f.end(), {"--listen", to_string(address)});
    return f;
  }());
  ASSERT_TRUE(second.ok()) << second.stderr_text();
  ASSERT_EQ(second.address(), address);

  // The clients carry on with the epoch they knew; ACKs come from the new one.
  std::set<uint32_t> epochs = round(peer, address, clients, old_epoch, false);
  ASSERT_EQ(epochs.size(), 1u);
  const uint32_t new_epoch = *epochs.begin();
  EXPECT_NE(new_epoch, old_epoch);

  // A session the old process never saw is new: it gets its ONLINE.
  TestClient fresh;
  fresh.user = kUserBase + kSessions + 1;
  fresh.expiry = unix_now() + 3600;
  peer.send_to(address, heartbeat(fresh, 0, true));
  ASSERT_TRUE(second.wait_for_events("\"user\":" + std::to_string(fresh.user), 1, 10s));

  // Heartbeat (now with the new epoch) for longer than a timeout (3 s).
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    peer.send_to(address, heartbeat(fresh, new_epoch, false));
    round(peer, address, clients, new_epoch, false);
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(second.event_lines("\"online\"").size(), 1u) << second.events();
  EXPECT_EQ(second.event_lines("\"offline\"").size(), 0u) << second.events();
  EXPECT_EQ(second.event_lines("\"user\":" + std::to_string(kUserBase) + ",").size(), 0u)
      << second.events();
}

}  // namespace
}  // namespace presenced::testing
