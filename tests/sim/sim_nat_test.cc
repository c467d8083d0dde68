// sim_nat_test.cc: scenario 3, NAT rebinding mid-session.
//
// Every client's NAT changes its source port once or twice during the run
// (from then on the old mapping is gone: datagrams to the old port are
// dropped). The path reorders heavily (a quarter of the datagrams are held
// back up to 3 s), duplicates and loses, so old-port datagrams keep arriving
// after new-port ones; an attacker also sends forgeries from the clients'
// hosts on fresh ports.
//
// Asserted after EVERY engine call, for every client named in it: the
// table's address for the session is the source of the packet whose seq the
// table holds (the session follows the highest authenticated packet and
// nothing else), and that seq never goes back. So a reordered old-port
// packet or a forgery never moves it. At the end every session's address is
// its client's current one, and nobody was falsely taken offline.
#include <cstdio>

#include <gtest/gtest.h>

#include "dataplane/common/byte_order.h"
#include "dataplane/wire/codec.h"
#include "tests/sim/sim_report.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {
namespace {

using engine::RxDatagram;

struct PortChange {
  uint32_t first_seq;
  uint16_t port;
};

TEST(SimNatTest, SessionFollowsAuthenticatedPacketsOnly) {
  const uint64_t seed = scenario_seed(0x4a7);
  SCOPED_TRACE(announce("nat_rebinding", seed));
  WorldOptions o;
  o.seed = seed;
  o.clients = full_runs() ? 20'000 : 3'000;
  o.cores = 2;
  o.up.loss = o.down.loss = 0.10;
  o.up.duplicate = o.down.duplicate = 0.05;
  o.up.reorder = o.down.reorder = 0.25;
  o.up.reorder_extra_ms = o.down.reorder_extra_ms = 3000;
  const uint64_t end_ms = 12 * 60'000;

  const double cpu0 = cpu_seconds();
  World w(o);
  std::vector<std::vector<PortChange>> ports(w.clients());
  std::vector<uint32_t> last_seq(w.clients(), 0);
  uint64_t checks = 0;
  uint64_t violations = 0;
  uint64_t seq_went_back = 0;
  uint64_t old_port_late = 0;  // delivered after a newer packet from another port
  uint64_t forged = 0;
  uint64_t rebinds = 0;
  std::vector<std::string> examples;

  auto port_of_seq = [&](uint32_t i, uint32_t seq) -> int {
    int port = -1;
    for (const PortChange& c : ports[i]) {
      if (c.first_seq <= seq) port = c.port;
    }
    return port;
  };
  // A rebinding happens right after the client's next send (so that packet
  // and maybe its successors are in flight from the old port), and the app
  // then changes its status within 2 s (a heartbeat from the new port at
  // once, which may overtake the old one).
  std::vector<uint8_t> rebind_pending(w.clients(), 0);
  Random plan(seed, Stream::kScenario);
  w.hooks().on_send = [&](uint32_t i, const client::Output& out, const NetAddr& src) {
    if (ports[i].empty() || ports[i].back().port != src.port) {
      ports[i].push_back(PortChange{out.seq, src.port});
    }
    if (rebind_pending[i] != 0) {
      rebind_pending[i] = 0;
      w.rebind(i);
      ++rebinds;
      const auto status = w.session(i).status() == wire::Status::kAvailable
                              ? wire::Status::kBusy
                              : wire::Status::kAvailable;
      w.at(w.now_ms() + plan.below(2000), [&w, i, status] { w.set_status(i, status); });
    }
  };
  auto check = [&](std::span<const RxDatagram> burst) {
    table::SessionView v[2];
    for (const RxDatagram& d : burst) {
      uint32_t i = 0;
      if (!client_of(d.src, i) || i >= w.clients()) continue;
      if (w.table().read_user(w.user_of(i), v, 2) != 1) continue;  // not created yet
      ++checks;
      const int expect = port_of_seq(i, v[0].seq);
      NetAddr want = w.address_of(i);
      want.port = static_cast<uint16_t>(expect);
      if (expect < 0 || !(v[0].addr == want)) {
        ++violations;
        if (examples.size() < 5) {
          examples.push_back("client " + std::to_string(i) + " seq " + std::to_string(v[0].seq) +
                             " table port " + std::to_string(v[0].addr.port) + " expected " +
                             std::to_string(expect) + " at " + std::to_string(w.now_ms()));
        }
      }
      if (v[0].seq < last_seq[i]) ++seq_went_back;
      last_seq[i] = v[0].seq;
      const uint32_t pkt_seq = load_be<uint32_t>(d.data + wire::kOffSeq);
      if (pkt_seq < v[0].seq && port_of_seq(i, pkt_seq) != expect && d.src.port != expect) {
        ++old_port_late;
      }
    }
  };
  w.hooks().after_process = [&](uint32_t, std::span<const RxDatagram> burst) { check(burst); };

  // Rebinding: each client once in [60 s, 600 s), a third of them twice.
  for (uint32_t i = 0; i < w.clients(); ++i) {
    const int times = plan.chance(1.0 / 3) ? 2 : 1;
    for (int k = 0; k < times; ++k) {
      w.at(60'000 + plan.below(540'000), [&rebind_pending, i] { rebind_pending[i] = 1; });
    }
  }
  // Forgeries from the clients' hosts on fresh ports (random MACs, plausible
  // seq): about 10 per simulated second.
  Random attacker(seed, Stream::kAttack);
  std::array<uint8_t, wire::kHeartbeatSize> fbytes{};
  w.hooks().after_cores = [&](uint64_t t) {
    if (t < 30'000 || !attacker.chance(0.01)) return;
    const uint32_t i = attacker.below(w.clients());
    const client::Session& s = w.session(i);
    wire::ClientPacket p;
    p.h = {wire::PacketType::kHeartbeat, w.user_of(i), 1, s.seq() + 1 + attacker.below(5),
           s.token_expiry()};
    p.interval_s = 30;
    p.flags = wire::kFlagFirst;
    wire::build_client_packet(p, fbytes);
    store_le64(fbytes.data() + wire::kOffClientMac, attacker.next());
    RxDatagram d;
    d.data = fbytes.data();
    d.len = wire::kHeartbeatSize;
    d.src = w.address_of(i);
    d.src.port = static_cast<uint16_t>(attacker.between(1024, 65535));
    w.call_core(w.core_of(d.src), std::span<const RxDatagram>(&d, 1));
    ++forged;
    check(std::span<const RxDatagram>(&d, 1));
  };

  w.run_until(end_ms);

  // Every session ended at its client's current address.
  uint64_t stale_address = 0;
  table::SessionView v[2];
  for (uint32_t i = 0; i < w.clients(); ++i) {
    if (w.table().read_user(w.user_of(i), v, 2) != 1 || !(v[0].addr == w.address_of(i))) {
      ++stale_address;
    }
  }
  char extra[256];
  std::snprintf(extra, sizeof extra,
                "rebinds=%llu checks=%llu violations=%llu old_port_late=%llu forged=%llu "
                "nat_dropped=%llu stale_address_at_end=%llu",
                static_cast<unsigned long long>(rebinds), static_cast<unsigned long long>(checks),
                static_cast<unsigned long long>(violations),
                static_cast<unsigned long long>(old_port_late),
                static_cast<unsigned long long>(forged),
                static_cast<unsigned long long>(w.net_counters().nat_dropped),
                static_cast<unsigned long long>(stale_address));
  report("nat_rebinding", seed, w, cpu_seconds() - cpu0, extra);

  EXPECT_EQ(violations, 0u) << (examples.empty() ? "" : examples[0]);
  EXPECT_EQ(seq_went_back, 0u);
  EXPECT_GT(old_port_late, 100u) << "the scenario must deliver old-port packets late";
  EXPECT_GT(w.net_counters().nat_dropped, 0u);
  EXPECT_EQ(stale_address, 0u);
  EXPECT_EQ(w.truth().counts().false_offlines, 0u);
  EXPECT_EQ(w.truth().counts().order_violations(), 0u);
  for (const std::string& p : w.truth().problems()) ADD_FAILURE() << p;
}

}  // namespace
}  // namespace presenced::sim
