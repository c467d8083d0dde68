// Tests of client::Session, the pure heartbeat state machine, one or more per
// client rule of PROTOCOL.md and of the decisions documented in session.h.
// Time is a parameter: nothing here sleeps or measures time.
#include "client/session.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/wire/codec.h"
#include "tests/client/fake_server.h"
#include "tests/support/hex.h"
#include "tests/support/spec_vector.h"

namespace presenced::client {
namespace {

using testing::credentials;
using testing::FakeServer;
using testing::kDevice;
using testing::kExpiry;
using testing::key_for;
using testing::kUser;
using wire::Status;

class SessionTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kWall0 = 1'800'000'000;  // before kExpiry

  Now now() const { return Now{t, kWall0 + static_cast<uint32_t>(t / 1000)}; }
  Env env() { return Env{policy, rng, &store}; }

  Output record(Output o) {
    if (o.send) seqs.push_back(o.seq);
    return o;
  }
  Output start() { return record(s.start(now(), env())); }
  // Moves the clock to the session's next wake and runs it.
  Output wake() {
    EXPECT_NE(s.next_wake_ms(), kNever);
    t = s.next_wake_ms();
    return record(s.on_wake(now(), env()));
  }
  PacketResult deliver(const std::vector<uint8_t>& d, PacketInfo* info = nullptr) {
    return s.on_packet(d, now(), env(), info);
  }
  // start() and an ACK 20 ms later: the session is kOnline.
  void go_online() {
    const Output o = start();
    t += 20;
    ASSERT_EQ(deliver(server.ack(o.seq)), PacketResult::kAccepted);
    ASSERT_EQ(s.state(), State::kOnline);
  }
  // Wakes (no ACKs) until the connection is declared dead.
  Output until_dead() {
    for (int i = 0; i < 300; ++i) {
      const Output o = wake();
      if (o.action == Action::kDead) return o;
    }
    ADD_FAILURE() << "never declared dead";
    return {};
  }

  Policy policy;
  Rng rng{1};
  AdaptiveIntervalStore store;
  FakeServer server;
  Session s{credentials(), Status::kAway};
  uint64_t t = 10'000;
  std::vector<uint32_t> seqs;  // every seq sent, in order
};

TEST(SessionSize, FitsPerSessionBudget) {
  EXPECT_LE(sizeof(Session), 96u);  // 80 on x86-64
  ::testing::Test::RecordProperty("sizeof_session", static_cast<int>(sizeof(Session)));
}

// --- first heartbeat, wire format ---------------------------------------------

TEST_F(SessionTest, StartSendsFirstHeartbeatWithDefaultInterval) {
  EXPECT_EQ(s.state(), State::kNew);
  EXPECT_EQ(s.next_wake_ms(), kNever);
  const Output o = start();
  EXPECT_EQ(o.action, Action::kHeartbeat);
  const wire::ClientPacket p = server.receive(o);
  EXPECT_EQ(p.h.type, wire::PacketType::kHeartbeat);
  EXPECT_EQ(p.h.user_id, kUser);
  EXPECT_EQ(p.h.device_id, kDevice);
  EXPECT_EQ(p.h.token_expiry, kExpiry);
  EXPECT_EQ(p.h.seq, 1u);
  EXPECT_TRUE(p.first());
  EXPECT_EQ(p.status, Status::kAway);
  EXPECT_EQ(p.interval_s, 30);
  EXPECT_EQ(p.epoch_seen, 0u);
  EXPECT_FALSE(o.switch_target);
  EXPECT_EQ(s.state(), State::kWaitingAck);
  EXPECT_EQ(s.next_wake_ms(), t + policy.ack_timeout_ms);
}

TEST_F(SessionTest, StartTwiceDoesNothing) {
  start();
  const Output o = start();
  EXPECT_FALSE(o.send);
  EXPECT_EQ(s.seq(), 1u);
}

TEST_F(SessionTest, MatchesSpecVectorByteForByte) {
  // PROTOCOL.md's HEARTBEAT vector is seq 42, AWAY, FIRST, interval 30,
  // epoch_seen 0: the 42nd packet of a session that never got an ACK.
  policy.retries = 255;
  Output last = start();
  for (int i = 0; i < 41; ++i) {
    last = wake();
    ASSERT_EQ(last.action, Action::kResend);
  }
  ASSERT_EQ(last.seq, 42u);
  const auto spec = presenced::testing::from_hex(presenced::testing::kSpecHeartbeatHex);
  EXPECT_EQ(std::vector<uint8_t>(last.packet.begin(), last.packet.end()), spec);

  // The spec's ACK answers it: accepted, interval 45 s adopted, FIRST done.
  PacketInfo info;
  const auto ack = presenced::testing::from_hex(presenced::testing::kSpecAckHex);
  EXPECT_EQ(deliver(ack, &info), PacketResult::kAccepted);
  EXPECT_EQ(info.server_epoch, 0xdeadbeefu);
  EXPECT_EQ(info.next_interval_s, 45);
  EXPECT_EQ(s.interval_ms(), 45'000u);
  EXPECT_EQ(s.server_epoch(), 0xdeadbeefu);
  EXPECT_FALSE(s.first_pending());
}

// --- resend, dead, backoff ----------------------------------------------------

TEST_F(SessionTest, NothingIsSentBeforeAckTimeout) {
  start();
  const uint64_t deadline = s.next_wake_ms();
  t = deadline - 1;
  const Output o = record(s.on_wake(now(), env()));
  EXPECT_FALSE(o.send);
  EXPECT_EQ(o.action, Action::kNone);
  EXPECT_EQ(s.state(), State::kWaitingAck);
  EXPECT_EQ(s.next_wake_ms(), deadline);
}

TEST_F(SessionTest, ResendsWithNewSeqAfterAckTimeout) {
  const Output first = start();
  const Output o = wake();
  EXPECT_EQ(o.action, Action::kResend);
  const wire::ClientPacket p = server.receive(o);
  EXPECT_EQ(p.h.seq, first.seq + 1);
  EXPECT_TRUE(p.first());  // still no ACK for a FIRST heartbeat
  EXPECT_EQ(p.status, Status::kAway);
  EXPECT_EQ(s.next_wake_ms(), t + policy.ack_timeout_ms);
}

TEST_F(SessionTest, DeadAfterRetriesResendsThenBackoff) {
  policy.retries = 3;
  go_online();
  seqs.clear();
  ASSERT_EQ(wake().action, Action::kHeartbeat);  // the interval's heartbeat
  for (int i = 0; i < 3; ++i) ASSERT_EQ(wake().action, Action::kResend) << i;
  const uint64_t before = s.next_wake_ms();
  const Output dead = wake();
  EXPECT_EQ(dead.action, Action::kDead);
  EXPECT_FALSE(dead.send);
  EXPECT_EQ(t, before);
  EXPECT_EQ(seqs.size(), 4u);  // one heartbeat + `retries` resends
  EXPECT_EQ(s.state(), State::kBackoff);
  EXPECT_TRUE(s.first_pending());
  EXPECT_GE(s.next_wake_ms(), t);
  EXPECT_LT(s.next_wake_ms(), t + policy.backoff_base_ms);  // attempt 0: [0, base)
  EXPECT_EQ(s.backoff_attempt(), 1);
}

TEST_F(SessionTest, ReconnectAttemptIsOneFirstHeartbeatThenLongerBackoff) {
  policy.retries = 2;
  start();
  until_dead();
  const Output r = wake();
  EXPECT_EQ(r.action, Action::kReconnectAttempt);
  EXPECT_TRUE(server.receive(r).first());
  EXPECT_EQ(s.state(), State::kWaitingAck);
  // No ACK within ack_timeout: no resend, straight to the next backoff.
  const Output d = wake();
  EXPECT_EQ(d.action, Action::kDead);
  EXPECT_EQ(s.backoff_attempt(), 2);
  EXPECT_LT(s.next_wake_ms(), t + 2ULL * policy.backoff_base_ms);
}

TEST_F(SessionTest, BackoffHasFullJitterGrowsWithAttemptsAndIsCapped) {
  policy.retries = 0;
  policy.backoff_base_ms = 1000;
  policy.backoff_cap_ms = 60000;
  constexpr int kAttempts = 10;
  constexpr int kSeeds = 400;
  std::vector<uint64_t> lo(kAttempts, UINT64_MAX), hi(kAttempts, 0), sum(kAttempts, 0);
  for (int seed = 1; seed <= kSeeds; ++seed) {
    Rng r{static_cast<uint64_t>(seed)};
    Session x{credentials(), Status::kAvailable};
    Env e{policy, r, nullptr};
    uint64_t now_ms = 0;
    x.start(Now{now_ms, kWall0}, e);
    for (int n = 0; n < kAttempts; ++n) {
      now_ms = x.next_wake_ms();
      ASSERT_EQ(x.on_wake(Now{now_ms, kWall0}, e).action, Action::kDead);
      const uint64_t wait = x.next_wake_ms() - now_ms;
      const uint64_t bound =
          std::min<uint64_t>(policy.backoff_cap_ms, uint64_t{policy.backoff_base_ms} << n);
      ASSERT_LT(wait, bound) << "attempt " << n << " seed " << seed;
      lo[n] = std::min(lo[n], wait);
      hi[n] = std::max(hi[n], wait);
      sum[n] += wait;
      now_ms = x.next_wake_ms();
      ASSERT_EQ(x.on_wake(Now{now_ms, kWall0}, e).action, Action::kReconnectAttempt);
    }
  }
  for (int n = 0; n < kAttempts; ++n) {
    const double bound = static_cast<double>(
        std::min<uint64_t>(policy.backoff_cap_ms, uint64_t{policy.backoff_base_ms} << n));
    // Full jitter: the whole range [0, bound) is used, uniformly.
    EXPECT_LT(static_cast<double>(lo[n]), 0.05 * bound) << n;
    EXPECT_GT(static_cast<double>(hi[n]), 0.95 * bound) << n;
    EXPECT_NEAR(static_cast<double>(sum[n]) / kSeeds, bound / 2, 0.1 * bound) << n;
  }
  EXPECT_GT(hi[3], 4000u);                  // grows: attempt 3 reaches past attempt 2's bound
  EXPECT_LT(hi[9], policy.backoff_cap_ms);  // capped: 2^9 s would be 512 s
  EXPECT_GT(hi[9], 50000u);
}

TEST_F(SessionTest, BackoffResetsAfterAcceptedAck) {
  policy.retries = 0;
  start();
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(wake().action, Action::kDead);
    ASSERT_EQ(wake().action, Action::kReconnectAttempt);
  }
  EXPECT_EQ(s.backoff_attempt(), 4);
  t += 10;
  ASSERT_EQ(deliver(server.ack(s.seq())), PacketResult::kAccepted);
  EXPECT_EQ(s.backoff_attempt(), 0);
  ASSERT_EQ(wake().action, Action::kHeartbeat);
  ASSERT_EQ(wake().action, Action::kDead);
  EXPECT_LT(s.next_wake_ms(), t + policy.backoff_base_ms);
}

TEST_F(SessionTest, SeqStrictlyIncreasesAcrossResendsReconnectsRedirectsAndBye) {
  policy.retries = 2;
  start();
  wake();  // resend
  until_dead();
  wake();  // reconnect attempt
  t += 5;
  ASSERT_EQ(deliver(server.ack(s.seq())), PacketResult::kAccepted);
  wake();                                             // heartbeat
  record(s.set_status(Status::kBusy, now(), env()));  // extra heartbeat in the round
  t += 5;
  ASSERT_EQ(deliver(server.reconnect(s.seq(), 100)), PacketResult::kReconnect);
  wake();  // FIRST heartbeat after the redirect
  wake();  // resend
  record(s.bye(now(), env()));
  wake();  // BYE resend
  ASSERT_GE(seqs.size(), 10u);
  for (std::size_t i = 1; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << "packet " << i;
  }
  EXPECT_EQ(seqs.front(), 1u);
}

// --- ACK handling ---------------------------------------------------------------

TEST_F(SessionTest, AdoptsNextIntervalAndSchedulesFromAck) {
  server.next_interval_s = 45;
  const Output o = start();
  t += 30;
  PacketInfo info;
  ASSERT_EQ(deliver(server.ack(o.seq), &info), PacketResult::kAccepted);
  EXPECT_EQ(info.rtt_ms, 30u);
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(s.state(), State::kOnline);
  EXPECT_EQ(s.interval_ms(), 45'000u);
  EXPECT_EQ(s.next_wake_ms(), t + 45'000);
  const Output hb = wake();
  EXPECT_EQ(server.receive(hb).interval_s, 45);

  server.next_interval_s = 0;  // clamped to 1 s
  t += 1;
  ASSERT_EQ(deliver(server.ack(hb.seq)), PacketResult::kAccepted);
  EXPECT_EQ(s.interval_ms(), 1000u);
  EXPECT_EQ(s.next_wake_ms(), t + 1000);
  EXPECT_EQ(server.receive(wake()).interval_s, 1);
}

TEST_F(SessionTest, AckOfEarlierAttemptOfTheRoundIsAccepted) {
  const Output first = start();
  wake();  // resend
  t += 7;
  PacketInfo info;
  EXPECT_EQ(deliver(server.ack(first.seq), &info), PacketResult::kAccepted);
  EXPECT_EQ(info.attempts, 2);
  EXPECT_EQ(info.rtt_ms, kNoRtt);  // not the latest send: no sample
  EXPECT_EQ(s.state(), State::kOnline);
}

TEST_F(SessionTest, DuplicateAckIsVerifiedAndIgnored) {
  go_online();
  const uint64_t wake_at = s.next_wake_ms();
  t += 100;
  EXPECT_EQ(deliver(server.ack(s.seq())), PacketResult::kStale);
  EXPECT_EQ(s.state(), State::kOnline);
  EXPECT_EQ(s.next_wake_ms(), wake_at);
}

TEST_F(SessionTest, LateAckOfOlderRoundIsIgnored) {
  const Output r1 = start();
  wake();  // resend
  t += 5;
  ASSERT_EQ(deliver(server.ack(s.seq())), PacketResult::kAccepted);
  const Output r2 = wake();
  ASSERT_EQ(r2.action, Action::kHeartbeat);
  const uint64_t deadline = s.next_wake_ms();
  EXPECT_EQ(deliver(server.ack(r1.seq)), PacketResult::kStale);
  EXPECT_EQ(s.state(), State::kWaitingAck);
  EXPECT_EQ(s.next_wake_ms(), deadline);
  EXPECT_EQ(wake().action, Action::kResend);  // the round is still unanswered
}

TEST_F(SessionTest, AckWithUnknownSeqIsIgnored) {
  start();
  EXPECT_EQ(deliver(server.ack(s.seq() + 1)), PacketResult::kUnknownSeq);
  EXPECT_EQ(deliver(server.ack(0)), PacketResult::kUnknownSeq);
  EXPECT_EQ(s.state(), State::kWaitingAck);
}

// Every forged or foreign ACK leaves the session exactly as it was: still
// waiting, same deadline, and the resend still happens.
class RejectedAckTest : public SessionTest {
 protected:
  void expect_rejected(const std::vector<uint8_t>& d, PacketResult why) {
    start();
    const uint64_t deadline = s.next_wake_ms();
    t += 10;
    EXPECT_EQ(deliver(d), why);
    EXPECT_EQ(s.state(), State::kWaitingAck);
    EXPECT_EQ(s.next_wake_ms(), deadline);
    EXPECT_EQ(s.server_epoch(), 0u);
    EXPECT_TRUE(s.first_pending());
    EXPECT_EQ(wake().action, Action::kResend);
  }
};

TEST_F(RejectedAckTest, BadMac) {
  auto d = server.ack(1);
  d[wire::kOffAckMac] ^= 1;
  expect_rejected(d, PacketResult::kBadMac);
}

TEST_F(RejectedAckTest, FieldChangedAfterSigning) {
  auto d = server.ack(1);
  d[wire::kOffAckNextInterval + 1] ^= 0x10;  // MAC covers the body
  expect_rejected(d, PacketResult::kBadMac);
}

TEST_F(RejectedAckTest, SignedWithAnotherKey) {
  FakeServer other = server;
  other.key = key_for(kUser, kDevice + 1, kExpiry);
  expect_rejected(other.ack(1), PacketResult::kBadMac);
}

TEST_F(RejectedAckTest, WrongUser) {
  FakeServer other = server;
  other.user = kUser + 1;
  expect_rejected(other.ack(1), PacketResult::kWrongSession);
}

TEST_F(RejectedAckTest, WrongDevice) {
  FakeServer other = server;
  other.device = kDevice + 1;
  expect_rejected(other.ack(1), PacketResult::kWrongSession);
}

TEST_F(RejectedAckTest, WrongTokenExpiry) {
  FakeServer other = server;
  other.expiry = kExpiry + 60;
  other.key = key_for(kUser, kDevice, kExpiry + 60);
  expect_rejected(other.ack(1), PacketResult::kWrongToken);
}

TEST_F(RejectedAckTest, Truncated) {
  auto d = server.ack(1);
  d.pop_back();
  expect_rejected(d, PacketResult::kMalformed);
}

TEST_F(RejectedAckTest, ClientPacketTypeEchoedBack) {
  auto d = server.ack(1);
  d[wire::kOffType] = static_cast<uint8_t>(wire::PacketType::kHeartbeat);
  expect_rejected(d, PacketResult::kMalformed);
}

TEST_F(RejectedAckTest, MalformedReportsParserReason) {
  auto d = server.ack(1);
  d[wire::kOffVersion] = 2;
  start();
  PacketInfo info;
  EXPECT_EQ(deliver(d, &info), PacketResult::kMalformed);
  EXPECT_EQ(info.parse_error, wire::DropReason::kBadVersion);
}

TEST_F(RejectedAckTest, ReconnectWithBadMac) {
  auto d = server.reconnect(1, 0);
  d[wire::kOffRcMac + 3] ^= 0x80;
  expect_rejected(d, PacketResult::kBadMac);
}

TEST_F(RejectedAckTest, ReconnectWithForgedTarget) {
  std::array<uint8_t, 16> addr{};
  addr[0] = 10;
  auto d = server.reconnect(1, 0, wire::TargetFamily::kIpv4, 7460, addr);
  d[wire::kOffRcAddress + 3] = 66;  // an attacker redirects to its own host
  expect_rejected(d, PacketResult::kBadMac);
}

// --- FIRST and epochs -------------------------------------------------------------

TEST_F(SessionTest, FirstIsClearedOnceAFirstHeartbeatIsAcked) {
  go_online();
  EXPECT_FALSE(s.first_pending());
  const wire::ClientPacket p = server.receive(wake());
  EXPECT_FALSE(p.first());
  EXPECT_EQ(p.epoch_seen, server.epoch);
}

TEST_F(SessionTest, FirstAfterReconnect) {
  policy.retries = 1;
  go_online();
  wake();  // heartbeat, no FIRST
  until_dead();
  const Output r = wake();
  ASSERT_EQ(r.action, Action::kReconnectAttempt);
  const wire::ClientPacket p = server.receive(r);
  EXPECT_TRUE(p.first());
  EXPECT_EQ(p.epoch_seen, server.epoch);  // still the last accepted epoch
  t += 3;
  ASSERT_EQ(deliver(server.ack(r.seq)), PacketResult::kAccepted);
  EXPECT_FALSE(server.receive(wake()).first());
}

TEST_F(SessionTest, EpochChangeSetsFirstOnNextHeartbeat) {
  go_online();
  const uint32_t old_epoch = server.epoch;
  const Output hb = wake();
  EXPECT_FALSE(hb.first);
  server.epoch = 0x0bad0002;  // the server restarted
  t += 5;
  PacketInfo info;
  ASSERT_EQ(deliver(server.ack(hb.seq), &info), PacketResult::kAccepted);
  EXPECT_TRUE(info.epoch_changed);
  EXPECT_TRUE(s.first_pending());
  const wire::ClientPacket p = server.receive(wake());
  EXPECT_TRUE(p.first());
  EXPECT_EQ(p.epoch_seen, 0x0bad0002u);
  EXPECT_NE(p.epoch_seen, old_epoch);
  t += 5;
  ASSERT_EQ(deliver(server.ack(p.h.seq), &info), PacketResult::kAccepted);
  EXPECT_FALSE(info.epoch_changed);
  EXPECT_FALSE(server.receive(wake()).first());
}

TEST_F(SessionTest, SameEpochDoesNotSetFirst) {
  go_online();
  for (int i = 0; i < 3; ++i) {
    const Output hb = wake();
    EXPECT_FALSE(hb.first);
    t += 5;
    ASSERT_EQ(deliver(server.ack(hb.seq)), PacketResult::kAccepted);
    EXPECT_FALSE(s.first_pending());
  }
}

TEST_F(SessionTest, NewEpochInAckOfFirstHeartbeatDoesNotRepeatFirst) {
  go_online();
  t += 5;
  ASSERT_EQ(deliver(server.reconnect(s.seq(), 0)), PacketResult::kReconnect);
  const Output hb = wake();
  ASSERT_TRUE(hb.first);
  server.epoch = 0x00e90c42;  // a different server answered the FIRST heartbeat
  t += 5;
  PacketInfo info;
  ASSERT_EQ(deliver(server.ack(hb.seq), &info), PacketResult::kAccepted);
  EXPECT_TRUE(info.epoch_changed);
  EXPECT_FALSE(s.first_pending());
  EXPECT_FALSE(wake().first);
}

// --- RECONNECT ----------------------------------------------------------------------

TEST_F(SessionTest, ReconnectIsObeyedAfterDelayWithFirstToSameServer) {
  policy.redirect_jitter_percent = 10;
  const Output o = start();
  t += 5;
  PacketInfo info;
  const uint64_t received_at = t;
  ASSERT_EQ(deliver(server.reconnect(o.seq, 2000), &info), PacketResult::kReconnect);
  EXPECT_EQ(info.delay_ms, 2000u);
  EXPECT_EQ(info.reason, wire::ReconnectReason::kDrain);
  EXPECT_EQ(info.target.family, wire::TargetFamily::kSameServer);
  EXPECT_EQ(s.state(), State::kRedirectWait);
  EXPECT_EQ(info.resume_at_ms, s.next_wake_ms());
  EXPECT_GE(s.next_wake_ms(), received_at + 2000);
  EXPECT_LE(s.next_wake_ms(), received_at + 2000 + 200);  // jitter <= 10%

  // Nothing is sent before the delay, whatever the caller does.
  for (uint64_t at = received_at; at < received_at + 2000; at += 250) {
    t = at;
    EXPECT_FALSE(record(s.on_wake(now(), env())).send);
  }
  EXPECT_EQ(deliver(server.ack(o.seq)), PacketResult::kStale);  // round is over

  const Output r = wake();
  EXPECT_EQ(r.action, Action::kRedirectResume);
  EXPECT_FALSE(r.switch_target);
  const wire::ClientPacket p = server.receive(r);
  EXPECT_TRUE(p.first());
  EXPECT_EQ(p.h.seq, o.seq + 1);
  EXPECT_EQ(s.state(), State::kWaitingAck);
  t += 5;
  EXPECT_EQ(deliver(server.ack(r.seq)), PacketResult::kAccepted);
}

TEST_F(SessionTest, ReconnectToAddressSwitchesTargetOnFirstSendOnly) {
  policy.retries = 1;
  go_online();
  std::array<uint8_t, 16> v6{};
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[15] = 0x09;
  PacketInfo info;
  t += 1000;
  // A server push while idle, carrying the highest seq the server accepted.
  ASSERT_EQ(deliver(server.reconnect(s.seq(), 0, wire::TargetFamily::kIpv6, 0, v6,
                                     wire::ReconnectReason::kRebalance),
                    &info),
            PacketResult::kReconnect);
  EXPECT_EQ(info.reason, wire::ReconnectReason::kRebalance);
  EXPECT_EQ(info.target.family, wire::TargetFamily::kIpv6);
  EXPECT_EQ(info.target.address, v6);

  Endpoint current;
  ASSERT_TRUE(parse_endpoint("192.0.2.1:7460", 7460, current));
  const Endpoint next = apply_redirect(current, info.target);
  EXPECT_EQ(next.family, wire::TargetFamily::kIpv6);
  EXPECT_EQ(next.port, 7460);  // port 0: same port
  EXPECT_EQ(next.address, v6);

  EXPECT_EQ(s.next_wake_ms(), t);  // delay 0, jitter bound 0
  const Output r = wake();
  EXPECT_TRUE(r.switch_target);
  EXPECT_TRUE(r.first);
  const Output resend = wake();
  EXPECT_EQ(resend.action, Action::kResend);
  EXPECT_FALSE(resend.switch_target);
}

TEST_F(SessionTest, ReconnectJitterIsBoundedAndSpread) {
  policy.redirect_jitter_percent = 10;
  policy.redirect_jitter_max_ms = 5000;
  for (const uint32_t delay : {10'000u, 200'000u}) {
    const uint64_t bound = std::min<uint64_t>(delay / 10, 5000);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint64_t seed = 1; seed <= 300; ++seed) {
      Rng r{seed};
      Session x{credentials(), Status::kAvailable};
      Env e{policy, r, nullptr};
      const Output o = x.start(Now{0, kWall0}, e);
      ASSERT_EQ(x.on_packet(server.reconnect(o.seq, delay), Now{1, kWall0}, e),
                PacketResult::kReconnect);
      const uint64_t jitter = x.next_wake_ms() - 1 - delay;
      ASSERT_LE(jitter, bound);
      lo = std::min(lo, jitter);
      hi = std::max(hi, jitter);
    }
    EXPECT_LT(lo, bound / 10) << delay;
    EXPECT_GT(hi, bound * 9 / 10) << delay;
  }
}

TEST_F(SessionTest, ReplayedReconnectIsIgnored) {
  go_online();
  const Output hb = wake();
  t += 5;
  const auto rc = server.reconnect(hb.seq, 60'000);
  ASSERT_EQ(deliver(rc), PacketResult::kReconnect);
  const uint64_t resume = s.next_wake_ms();
  t += 10'000;
  EXPECT_EQ(deliver(rc), PacketResult::kStale);  // a replay cannot push it back
  EXPECT_EQ(s.next_wake_ms(), resume);
  EXPECT_EQ(s.state(), State::kRedirectWait);
  const Output r = wake();
  ASSERT_TRUE(r.send);
  EXPECT_EQ(deliver(rc), PacketResult::kStale);  // nor interrupt the new round
  EXPECT_EQ(s.state(), State::kWaitingAck);
}

TEST_F(SessionTest, ReconnectOlderThanLastAcceptedAckIsIgnored) {
  go_online();  // seq 1 acknowledged
  const Output hb = wake();
  t += 5;
  ASSERT_EQ(deliver(server.ack(hb.seq)), PacketResult::kAccepted);
  const uint64_t wake_at = s.next_wake_ms();
  EXPECT_EQ(deliver(server.reconnect(1, 0)), PacketResult::kStale);
  EXPECT_EQ(deliver(server.reconnect(hb.seq + 1, 0)), PacketResult::kUnknownSeq);
  EXPECT_EQ(s.state(), State::kOnline);
  EXPECT_EQ(s.next_wake_ms(), wake_at);
  // The push a draining server sends carries the highest accepted seq.
  EXPECT_EQ(deliver(server.reconnect(hb.seq, 0)), PacketResult::kReconnect);
}

TEST_F(SessionTest, ReconnectDuringBackoffIsObeyed) {
  policy.retries = 0;
  go_online();
  wake();
  until_dead();
  t += 1;
  ASSERT_EQ(deliver(server.reconnect(s.seq(), 500)), PacketResult::kReconnect);
  EXPECT_EQ(s.backoff_attempt(), 0);
  const Output r = wake();
  EXPECT_EQ(r.action, Action::kRedirectResume);
  EXPECT_TRUE(r.first);
}

// --- BYE --------------------------------------------------------------------------

TEST_F(SessionTest, ByeSendsByeAndItsAckCloses) {
  go_online();
  const uint32_t last = s.seq();
  t += 1000;
  const Output b = record(s.bye(now(), env()));
  EXPECT_EQ(b.action, Action::kBye);
  const wire::ClientPacket p = server.receive(b);
  EXPECT_EQ(p.h.type, wire::PacketType::kBye);
  EXPECT_EQ(p.h.seq, last + 1);
  EXPECT_EQ(p.flags, 0);
  EXPECT_EQ(p.status, Status::kAway);
  EXPECT_EQ(s.state(), State::kClosing);
  t += 5;
  EXPECT_EQ(deliver(server.ack(last)), PacketResult::kStale);  // the old round's ACK
  EXPECT_EQ(deliver(server.ack(b.seq)), PacketResult::kByeAcked);
  EXPECT_EQ(s.state(), State::kClosed);
  EXPECT_EQ(s.next_wake_ms(), kNever);
  t += 10'000'000;
  EXPECT_FALSE(s.on_wake(now(), env()).send);
  EXPECT_EQ(deliver(server.reconnect(b.seq, 0)), PacketResult::kInactive);
}

TEST_F(SessionTest, ByeIsResentThenGivenUp) {
  policy.retries = 2;
  go_online();
  const Output b = record(s.bye(now(), env()));
  EXPECT_EQ(wake().action, Action::kByeResend);
  const Output r2 = wake();
  EXPECT_EQ(r2.action, Action::kByeResend);
  EXPECT_EQ(server.receive(r2).h.type, wire::PacketType::kBye);
  EXPECT_EQ(r2.seq, b.seq + 2);
  const Output c = wake();
  EXPECT_EQ(c.action, Action::kClosed);
  EXPECT_FALSE(c.send);
  EXPECT_EQ(s.state(), State::kClosed);
}

TEST_F(SessionTest, ByeBeforeStartClosesWithoutSending) {
  const Output b = s.bye(now(), env());
  EXPECT_FALSE(b.send);
  EXPECT_EQ(s.state(), State::kClosed);
}

TEST_F(SessionTest, ByeDuringRedirectWaitGoesToTheOldServer) {
  go_online();
  ASSERT_EQ(deliver(server.reconnect(s.seq(), 5000, wire::TargetFamily::kIpv4, 1)),
            PacketResult::kReconnect);
  const Output b = record(s.bye(now(), env()));
  EXPECT_EQ(b.action, Action::kBye);
  EXPECT_FALSE(b.switch_target);
  t += 5;
  ASSERT_EQ(deliver(server.ack(b.seq)), PacketResult::kByeAcked);
  // Started again later, the session goes to the redirect target.
  const Output again = start();
  EXPECT_TRUE(again.switch_target);
  EXPECT_TRUE(again.first);
}

TEST_F(SessionTest, StartAfterCloseContinuesSeqWithFirst) {
  go_online();
  const Output b = s.bye(now(), env());
  ASSERT_EQ(deliver(server.ack(b.seq)), PacketResult::kByeAcked);
  const Output o = start();
  EXPECT_EQ(o.seq, b.seq + 1);
  EXPECT_TRUE(o.first);
}

// --- token --------------------------------------------------------------------------

TEST_F(SessionTest, ExpiredTokenSendsNothingAndAsksForRenewal) {
  Session x{credentials(kUser, kDevice, kWall0 - 1), Status::kAvailable};
  const Output o = x.start(now(), env());
  EXPECT_FALSE(o.send);
  EXPECT_EQ(o.action, Action::kTokenExpired);
  EXPECT_EQ(x.state(), State::kTokenExpired);
  EXPECT_EQ(x.next_wake_ms(), kNever);
}

TEST_F(SessionTest, TokenValidUntilItsExpirySecondInclusive) {
  Session x{credentials(kUser, kDevice, kWall0 + 10), Status::kAvailable};
  EXPECT_TRUE(x.start(Now{0, kWall0 + 10}, env()).send);
  policy.token_margin_s = 1;
  Session y{credentials(kUser, kDevice, kWall0 + 10), Status::kAvailable};
  EXPECT_EQ(y.start(Now{0, kWall0 + 10}, env()).action, Action::kTokenExpired);
}

TEST_F(SessionTest, TokenExpiresWhileOnlineThenRenewRestartsSeqWithFirst) {
  const uint32_t expiry = kWall0 + 100;  // t/1000 moves the wall clock
  s = Session{credentials(kUser, kDevice, expiry), Status::kAway};
  server.expiry = expiry;
  server.key = key_for(kUser, kDevice, expiry);
  t = 0;
  go_online();
  t = 200'000;  // wall clock past the expiry
  const Output o = record(s.on_wake(now(), env()));
  EXPECT_FALSE(o.send);
  EXPECT_EQ(o.action, Action::kTokenExpired);
  EXPECT_EQ(s.state(), State::kTokenExpired);
  EXPECT_EQ(s.next_wake_ms(), kNever);

  const uint32_t new_expiry = kWall0 + 100'000;
  const auth::SessionKey new_key = key_for(kUser, kDevice, new_expiry);
  const FakeServer old_server = server;
  server.expiry = new_expiry;
  server.key = new_key;
  const Output r = record(s.renew(new_key, new_expiry, now(), env()));
  EXPECT_EQ(r.action, Action::kHeartbeat);
  const wire::ClientPacket p = server.receive(r);  // MAC under the new key
  EXPECT_EQ(p.h.seq, 1u);
  EXPECT_EQ(p.h.token_expiry, new_expiry);
  EXPECT_TRUE(p.first());
  EXPECT_EQ(s.token_expiry(), new_expiry);
  t += 5;
  EXPECT_EQ(deliver(old_server.ack(1)), PacketResult::kWrongToken);
  EXPECT_EQ(deliver(server.ack(1)), PacketResult::kAccepted);
}

TEST_F(SessionTest, RenewWhileOnlineSendsFirstHeartbeatWithSeqOne) {
  go_online();
  wake();
  t += 5;
  ASSERT_EQ(deliver(server.ack(s.seq())), PacketResult::kAccepted);
  ASSERT_EQ(s.seq(), 2u);
  const uint32_t new_expiry = kExpiry + 86400;
  server.expiry = new_expiry;
  server.key = key_for(kUser, kDevice, new_expiry);
  const Output r = s.renew(server.key, new_expiry, now(), env());
  const wire::ClientPacket p = server.receive(r);
  EXPECT_EQ(p.h.seq, 1u);
  EXPECT_TRUE(p.first());
}

// --- status -------------------------------------------------------------------------

TEST_F(SessionTest, StatusChangeWhileIdleSendsAtOnceAndStartsTheRound) {
  go_online();
  t += 3000;  // mid-interval
  const Output o = record(s.set_status(Status::kBusy, now(), env()));
  EXPECT_EQ(o.action, Action::kHeartbeat);
  const wire::ClientPacket p = server.receive(o);
  EXPECT_EQ(p.status, Status::kBusy);
  EXPECT_FALSE(p.first());
  EXPECT_EQ(s.state(), State::kWaitingAck);
  EXPECT_EQ(s.next_wake_ms(), t + policy.ack_timeout_ms);
  t += 10;
  ASSERT_EQ(deliver(server.ack(o.seq)), PacketResult::kAccepted);
  EXPECT_EQ(s.next_wake_ms(), t + 30'000);  // the interval restarts from this ACK
}

TEST_F(SessionTest, StatusChangeWhileWaitingIsAnExtraAttemptOfTheRound) {
  policy.retries = 1;
  go_online();
  const Output hb = wake();
  const uint64_t deadline = s.next_wake_ms();
  t += 100;
  const Output o = record(s.set_status(Status::kInvisible, now(), env()));
  EXPECT_EQ(server.receive(o).status, Status::kInvisible);
  EXPECT_EQ(o.seq, hb.seq + 1);
  EXPECT_EQ(s.next_wake_ms(), deadline);  // does not extend the round
  EXPECT_EQ(wake().action, Action::kResend);
  EXPECT_EQ(wake().action, Action::kDead);  // retries unchanged by the extra send

  // And an ACK of either seq completes such a round.
  Session x{credentials(), Status::kAway};
  const Output a = x.start(now(), env());
  x.set_status(Status::kBusy, now(), env());
  EXPECT_EQ(x.on_packet(server.ack(a.seq), now(), env()), PacketResult::kAccepted);
}

TEST_F(SessionTest, StatusChangeDuringBackoffIsCarriedByTheReconnect) {
  policy.retries = 0;
  start();
  until_dead();
  const Output o = s.set_status(Status::kBusy, now(), env());
  EXPECT_FALSE(o.send);
  EXPECT_EQ(s.status(), Status::kBusy);
  const Output r = wake();
  EXPECT_EQ(server.receive(r).status, Status::kBusy);
}

TEST_F(SessionTest, SameStatusSendsNothing) {
  go_online();
  EXPECT_FALSE(s.set_status(Status::kAway, now(), env()).send);
  EXPECT_EQ(s.state(), State::kOnline);
}

// --- determinism --------------------------------------------------------------------

TEST_F(SessionTest, SameSeedReplaysExactly) {
  auto run = [&](uint64_t seed) {
    Rng r{seed};
    Session x{credentials(), Status::kAvailable};
    Env e{policy, r, nullptr};
    std::vector<uint64_t> wakes;
    x.start(Now{0, kWall0}, e);
    for (int i = 0; i < 40; ++i) {
      x.on_wake(Now{x.next_wake_ms(), kWall0}, e);
      wakes.push_back(x.next_wake_ms());
    }
    return wakes;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

}  // namespace
}  // namespace presenced::client
