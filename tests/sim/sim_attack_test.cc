// sim_attack_test.cc: scenario 2, forged heartbeats and replays.
//
// An attacker interleaves 10^6 forged heartbeats and BYEs (real users,
// plausible seq and tokens, random MACs; from random addresses, from the
// victim's own address and from the victim's host on another port) and
// replays of captured datagrams (recorded as the server received them,
// re-injected 2 s .. minutes later, in capture order and shuffled, from the
// original source and from elsewhere) into a live simulation.
//
// Asserted:
//   * every injected datagram is dropped: no reply, no event, and the table
//     entries of the users it names read identically (seq, token, address,
//     last_seen, interval, state word and its seqlock counter) before and
//     after the engine call that carried it;
//   * the whole run is unaffected: the same simulation without the attacker
//     (same seed; the attacker draws from its own stream and its engine calls
//     are replaced by empty calls) ends with an identical table snapshot,
//     identical event stream and identical client counters.
// A third test floods a few victims from their own (spoofed) source address
// above the per-source invalid-packet budget and reports what that does to
// them (the budget drops their genuine packets too); it asserts only that
// nobody else is affected.
#include <algorithm>
#include <cstdio>

#include <gtest/gtest.h>

#include "dataplane/auth/session_key.h"
#include "dataplane/common/byte_order.h"
#include "dataplane/wire/codec.h"
#include "tests/sim/sim_report.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {
namespace {

using engine::RxDatagram;
using table::SessionView;

struct Injected {
  std::array<uint8_t, wire::kHeartbeatSize> bytes{};
  NetAddr src;
  uint64_t user = 0;
};

struct Captured {
  std::array<uint8_t, wire::kHeartbeatSize> bytes{};
  NetAddr src;
  uint64_t at_ms = 0;
};

struct AttackStats {
  uint64_t forged = 0;
  uint64_t replayed = 0;
  uint64_t replies = 0;       // to injected datagrams (must be 0)
  uint64_t events = 0;        // during injected calls (must be 0)
  uint64_t slot_changes = 0;  // user entries that changed in an injected call
  std::vector<std::string> examples;
};

struct RunResult {
  std::vector<SessionView> table;
  uint64_t event_digest = 0;
  TruthCounts truth;
  ClientCounters clients;
  engine::CoreStatsSnapshot server;
  AttackStats attack;
  double cpu = 0;
};

uint64_t user_in(const uint8_t* bytes) {
  return load_be<uint64_t>(bytes + wire::kOffUserId);
}

// The attacker of one run. Draws only from its own stream.
class Attacker {
 public:
  Attacker(World& w, uint64_t seed, uint64_t forged_total, uint64_t duration_ms)
      : w_(w), rnd_(seed, Stream::kAttack), forged_total_(forged_total) {
    // A little over the average rate, so that the total is reached.
    per_ms_ = 1.02 * static_cast<double>(forged_total) / static_cast<double>(duration_ms);
  }

  // Records a fraction of what the server received, for replays.
  void capture(std::span<const RxDatagram> burst) {
    for (const RxDatagram& d : burst) {
      if (d.len != wire::kHeartbeatSize || !rnd_.chance(0.05)) continue;
      Captured c;
      std::copy(d.data, d.data + d.len, c.bytes.begin());
      c.src = d.src;
      c.at_ms = w_.now_ms();
      if (captured_.size() < kMaxCaptured) {
        captured_.push_back(c);
      } else {
        captured_[rnd_.below(kMaxCaptured)] = c;
      }
    }
  }

  // This millisecond's datagrams.
  void make(std::vector<Injected>& out) {
    out.clear();
    uint32_t n = static_cast<uint32_t>(per_ms_);
    if (rnd_.chance(per_ms_ - n)) ++n;
    for (uint32_t k = 0; k < n && forged_ < forged_total_; ++k) {
      if (forge(out.emplace_back())) {
        ++forged_;
      } else {
        out.pop_back();
      }
    }
    // Replays: about one for every five forgeries, once there is material
    // at least 2 s old.
    if (captured_.empty() || !rnd_.chance(per_ms_ / 5)) return;
    const uint64_t now = w_.now_ms();
    const bool in_order = rnd_.chance(0.5);
    const std::size_t idx = in_order ? (replay_cursor_++ % captured_.size())
                                     : rnd_.below(static_cast<uint32_t>(captured_.size()));
    const Captured& c = captured_[idx];
    if (c.at_ms + 2000 > now) return;
    Injected& r = out.emplace_back();
    r.bytes = c.bytes;
    r.src = rnd_.chance(0.5) ? c.src : attacker_address();
    r.user = user_in(c.bytes.data());
    ++replayed_;
  }

  uint64_t forged() const { return forged_; }
  uint64_t replayed() const { return replayed_; }

 private:
  static constexpr std::size_t kMaxCaptured = 200'000;

  NetAddr attacker_address() {
    return NetAddr::v4_bytes(198, 18, static_cast<uint8_t>(rnd_.below(256)),
                             static_cast<uint8_t>(rnd_.below(256)),
                             static_cast<uint16_t>(rnd_.between(1024, 65535)));
  }

  bool forge(Injected& f) {
    const uint32_t i = rnd_.below(w_.clients());
    const client::Session& s = w_.session(i);
    if (s.seq() == 0) return false;  // not started yet
    wire::ClientPacket p;
    p.h.type = rnd_.chance(0.9) ? wire::PacketType::kHeartbeat : wire::PacketType::kBye;
    p.h.user_id = w_.user_of(i);
    p.h.device_id = 1;
    p.h.seq = s.seq() + 1 + rnd_.below(3);  // what the server would accept next
    p.h.token_expiry = s.token_expiry();
    if (rnd_.chance(0.2)) p.h.token_expiry += 1 + rnd_.below(100'000);  // a "new token"
    p.status = static_cast<wire::Status>(rnd_.below(4));
    p.flags = rnd_.chance(0.3) ? wire::kFlagFirst : 0;
    p.interval_s = 30;
    p.epoch_seen = rnd_.chance(0.5) ? w_.shared().epoch() : static_cast<uint32_t>(rnd_.next());
    wire::build_client_packet(p, f.bytes);
    uint64_t mac = rnd_.next();
    const auth::SessionKey k =
        auth::derive_session_key(w_.shared().master_key(), p.h.user_id, 1, p.h.token_expiry);
    if (mac == auth::compute_mac(k, f.bytes.data(), wire::kOffClientMac)) mac ^= 1;  // 2^-64
    store_le64(f.bytes.data() + wire::kOffClientMac, mac);
    switch (rnd_.below(3)) {
      case 0:
        f.src = attacker_address();
        break;
      case 1:
        f.src = w_.address_of(i);  // spoofed: the victim's own address
        break;
      default:
        f.src = w_.address_of(i);
        f.src.port = static_cast<uint16_t>(rnd_.between(1024, 65535));
        break;
    }
    f.user = p.h.user_id;
    return true;
  }

  World& w_;
  Random rnd_;
  uint64_t forged_total_;
  double per_ms_ = 0;
  uint64_t forged_ = 0;
  uint64_t replayed_ = 0;
  std::size_t replay_cursor_ = 0;
  std::vector<Captured> captured_;
};

WorldOptions attack_world(uint64_t seed, uint32_t clients) {
  WorldOptions o;
  o.seed = seed;
  o.clients = clients;
  o.cores = 2;
  o.shards = 8;
  // A somewhat hostile path: loss, duplicates (network replays) and reordering.
  o.up.loss = o.down.loss = 0.05;
  o.up.duplicate = o.down.duplicate = 0.01;
  o.up.reorder = o.down.reorder = 0.02;
  o.up.reorder_extra_ms = o.down.reorder_extra_ms = 2000;
  return o;
}

RunResult run(uint64_t seed, uint32_t clients, uint64_t duration_ms, uint64_t forged_total,
              bool attack) {
  const double cpu0 = cpu_seconds();
  World w(attack_world(seed, clients));
  Attacker attacker(w, seed, forged_total, duration_ms - 60'000);
  RunResult r;
  std::vector<Injected> batch;
  std::vector<std::vector<RxDatagram>> per_core(w.cores());
  std::vector<engine::TxDatagram> replies;
  std::vector<engine::PresenceEvent> events;
  std::vector<SessionView> before;
  std::vector<SessionView> after;
  SessionView views[4];

  auto read_users = [&](const std::vector<RxDatagram>& rx, std::vector<SessionView>& out) {
    out.clear();
    for (const RxDatagram& d : rx) {
      const std::size_t n = w.table().read_user(user_in(d.data), views, 4);
      out.insert(out.end(), views, views + n);
    }
  };

  if (attack) {
    w.hooks().after_process = [&](uint32_t, std::span<const RxDatagram> b) { attacker.capture(b); };
  }
  // The attacker's engine calls: each millisecond, each core gets a home-work
  // call and then one call with the attacker's datagrams for it (an empty
  // call, i.e. the same tick, in the run without attacker).
  w.hooks().after_cores = [&](uint64_t t) {
    if (t < 30'000 || t >= duration_ms - 30'000) return;
    for (auto& v : per_core) v.clear();
    if (attack) {
      attacker.make(batch);
      for (const Injected& f : batch) {
        RxDatagram d;
        d.data = f.bytes.data();
        d.len = wire::kHeartbeatSize;
        d.src = f.src;
        d.local = NetAddr::v4_bytes(192, 0, 2, 1, wire::kDefaultPort);
        per_core[w.core_of(f.src)].push_back(d);
      }
    }
    for (uint32_t c = 0; c < w.cores(); ++c) {
      w.call_core(c, {});
      if (per_core[c].empty()) {
        w.call_core(c, {});
        continue;
      }
      read_users(per_core[c], before);
      replies.clear();
      events.clear();
      w.call_core(c, per_core[c], &replies, &events);
      read_users(per_core[c], after);
      r.attack.replies += replies.size();
      r.attack.events += events.size();
      for (std::size_t k = 0; k < before.size() && k < after.size(); ++k) {
        if (!same_view(before[k], after[k])) {
          ++r.attack.slot_changes;
          if (r.attack.examples.size() < 5) {
            r.attack.examples.push_back("user " + std::to_string(before[k].user) + " seq " +
                                        std::to_string(before[k].seq) + " -> " +
                                        std::to_string(after[k].seq) + " at " + std::to_string(t));
          }
        }
      }
      if (before.size() != after.size()) ++r.attack.slot_changes;
    }
  };
  w.run_until(duration_ms);
  r.table = w.table_snapshot();
  r.event_digest = w.truth().digest();
  r.truth = w.truth().counts();
  r.clients = w.client_counters();
  r.server = w.server_stats();
  r.attack.forged = attacker.forged();
  r.attack.replayed = attacker.replayed();
  r.cpu = cpu_seconds() - cpu0;
  report(
      attack ? "attack" : "attack_baseline", seed, w, r.cpu,
      "forged=" + std::to_string(r.attack.forged) +
          " replayed=" + std::to_string(r.attack.replayed) + " bad_mac=" +
          std::to_string(r.server.drops[static_cast<std::size_t>(wire::DropReason::kBadMac)]) +
          " replay_drops=" +
          std::to_string(r.server.drops[static_cast<std::size_t>(wire::DropReason::kReplay)]) +
          " stale_token=" +
          std::to_string(r.server.drops[static_cast<std::size_t>(wire::DropReason::kStaleToken)]) +
          " source_limited=" +
          std::to_string(
              r.server.drops[static_cast<std::size_t>(wire::DropReason::kSourceLimited)]));
  return r;
}

TEST(SimAttackTest, ForgeriesAndReplaysChangeNothing) {
  const uint64_t seed = scenario_seed(0xa77ac4);
  SCOPED_TRACE(announce("attack", seed));
  const uint32_t clients = full_runs() ? 50'000 : 10'000;
  const uint64_t duration_ms = 12 * 60'000;
  const uint64_t forged_total = 1'000'000;

  const RunResult base = run(seed, clients, duration_ms, forged_total, false);
  const RunResult att = run(seed, clients, duration_ms, forged_total, true);

  EXPECT_EQ(att.attack.forged, forged_total);
  EXPECT_GT(att.attack.replayed, 100'000u);
  EXPECT_EQ(att.attack.replies, 0u) << "an injected datagram was answered";
  EXPECT_EQ(att.attack.events, 0u) << "an injected datagram caused an event";
  EXPECT_EQ(att.attack.slot_changes, 0u)
      << (att.attack.examples.empty() ? "" : att.attack.examples[0]);

  // Every injected datagram was dropped for an authentication reason.
  auto drops = [](const RunResult& r, wire::DropReason d) {
    return r.server.drops[static_cast<std::size_t>(d)];
  };
  const uint64_t auth_drops =
      drops(att, wire::DropReason::kBadMac) - drops(base, wire::DropReason::kBadMac) +
      drops(att, wire::DropReason::kSourceLimited) - drops(base, wire::DropReason::kSourceLimited);
  const uint64_t replay_drops =
      drops(att, wire::DropReason::kReplay) - drops(base, wire::DropReason::kReplay) +
      drops(att, wire::DropReason::kStaleToken) - drops(base, wire::DropReason::kStaleToken) +
      drops(att, wire::DropReason::kTokenExpired) - drops(base, wire::DropReason::kTokenExpired);
  EXPECT_EQ(auth_drops, att.attack.forged);
  EXPECT_EQ(replay_drops, att.attack.replayed);

  // The run as a whole did not notice.
  EXPECT_EQ(att.event_digest, base.event_digest);
  EXPECT_EQ(att.truth.online, base.truth.online);
  EXPECT_EQ(att.truth.offline, base.truth.offline);
  EXPECT_EQ(att.clients.results, base.clients.results);
  EXPECT_EQ(att.clients.actions, base.clients.actions);
  EXPECT_EQ(att.server.heartbeats_accepted, base.server.heartbeats_accepted);
  EXPECT_EQ(att.server.acks_sent, base.server.acks_sent);
  ASSERT_EQ(att.table.size(), base.table.size());
  uint64_t differing = 0;
  for (std::size_t k = 0; k < att.table.size(); ++k) {
    differing += same_view(att.table[k], base.table[k]) ? 0 : 1;
  }
  EXPECT_EQ(differing, 0u) << "table entries differ from the run without attacker";
  EXPECT_EQ(att.truth.order_violations(), 0u);
}

TEST(SimAttackTest, SpoofedSourceFloodReport) {
  // A few victims get forgeries from their OWN address at 1000/s for three
  // minutes: above the per-source invalid budget, so the engine also drops
  // the victims' genuine heartbeats from that address (source_limited).
  const uint64_t seed = scenario_seed(0x5b00f);
  SCOPED_TRACE(announce("attack_spoofed_flood", seed));
  const uint32_t clients = 2'000;
  const uint32_t victims = 20;
  const double cpu0 = cpu_seconds();
  World w(attack_world(seed, clients));
  Random rnd(seed, Stream::kAttack);
  std::vector<Injected> batch;
  std::vector<RxDatagram> rx;
  w.hooks().after_cores = [&](uint64_t t) {
    if (t < 60'000 || t >= 240'000) return;
    for (uint32_t v = 0; v < victims; ++v) {
      const client::Session& s = w.session(v);
      wire::ClientPacket p;
      p.h = {wire::PacketType::kHeartbeat, w.user_of(v), 1, s.seq() + 1, s.token_expiry()};
      p.interval_s = 30;
      Injected& f = batch.emplace_back();
      wire::build_client_packet(p, f.bytes);
      store_le64(f.bytes.data() + wire::kOffClientMac, rnd.next());
      f.src = w.address_of(v);
    }
    for (uint32_t c = 0; c < w.cores(); ++c) {
      rx.clear();
      for (const Injected& f : batch) {
        if (w.core_of(f.src) != c) continue;
        RxDatagram d;
        d.data = f.bytes.data();
        d.len = wire::kHeartbeatSize;
        d.src = f.src;
        rx.push_back(d);
      }
      if (!rx.empty()) w.call_core(c, rx);
    }
    batch.clear();
  };
  w.run_until(330'000);
  uint64_t victim_offlines = 0;
  uint64_t other_offlines = 0;
  for (uint32_t i = 0; i < clients; ++i) {
    (i < victims ? victim_offlines : other_offlines) += w.truth().offlines_of(i);
  }
  const engine::CoreStatsSnapshot s = w.server_stats();
  report("attack_spoofed_flood", seed, w, cpu_seconds() - cpu0,
         "victims=" + std::to_string(victims) +
             " victim_offlines=" + std::to_string(victim_offlines) + " source_limited=" +
             std::to_string(s.drops[static_cast<std::size_t>(wire::DropReason::kSourceLimited)]));
  EXPECT_EQ(other_offlines, 0u) << "a flood against some users must not affect others";
  EXPECT_EQ(w.truth().counts().order_violations(), 0u);
}

}  // namespace
}  // namespace presenced::sim
