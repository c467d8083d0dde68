#include "dataplane/table/presence_table.h"

#include <cstring>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace presenced::table {
namespace {

std::unique_ptr<PresenceTable> make_table(uint64_t max_sessions, uint32_t shards = 1) {
  PresenceTable::Options o;
  o.max_sessions = max_sessions;
  o.shards = shards;
  o.hash_seed = 12345;
  o.try_hugetlb = false;
  std::string err;
  auto t = PresenceTable::create(o, &err);
  EXPECT_NE(t, nullptr) << err;
  return t;
}

// Inserts (user, device) as the home core would, with `state` bits and seq.
uint32_t insert(PresenceTable& t, uint64_t user, uint32_t device, uint32_t state, uint32_t seq,
                PresenceTable::InsertOutcome* outcome = nullptr) {
  const UserHash u = t.hash_user(user);
  uint32_t before = 0;
  PresenceTable::InsertOutcome o;
  const uint32_t idx = t.insert_claimed(u, user, device, before, o);
  if (outcome != nullptr) *outcome = o;
  if (idx == kNoSlot) return idx;
  SessionSlot& s = t.slot(idx);
  s.seq.store(seq, std::memory_order_relaxed);
  s.last_seen.store(seq * 10, std::memory_order_relaxed);
  s.addr.store(0x0100007f, std::memory_order_relaxed);
  s.set_port_interval(static_cast<uint16_t>(device), 30);
  release_modified(s, before, state);
  return idx;
}

void set_state(PresenceTable& t, uint32_t idx, uint32_t state) {
  uint32_t before = 0;
  ASSERT_TRUE(try_claim(t.slot(idx), before, 10));
  release_modified(t.slot(idx), before, state);
}

TEST(PresenceTableTest, RejectsBadOptions) {
  std::string err;
  PresenceTable::Options o;
  o.max_sessions = 0;
  EXPECT_EQ(PresenceTable::create(o, &err), nullptr);
  EXPECT_NE(err.find("max_sessions"), std::string::npos);
  o.max_sessions = 10;
  o.shards = 0;
  EXPECT_EQ(PresenceTable::create(o, &err), nullptr);
  EXPECT_NE(err.find("shards"), std::string::npos);
}

TEST(PresenceTableTest, InsertFindReadRoundTrip) {
  auto t = make_table(10000, 4);
  std::mt19937_64 rng(1);
  std::vector<std::pair<uint64_t, uint32_t>> keys;
  for (int i = 0; i < 5000; ++i) {
    const uint64_t user = rng() | 1;
    const uint32_t device = static_cast<uint32_t>(rng() % 5);
    keys.emplace_back(user, device);
    ASSERT_NE(insert(*t, user, device, slot_bits::kLiveOnline, static_cast<uint32_t>(i)), kNoSlot);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto [user, device] = keys[i];
    const uint32_t idx = t->find(t->hash_user(user), user, device);
    ASSERT_NE(idx, kNoSlot);
    SessionView v;
    ASSERT_TRUE(t->read(idx, v));
    EXPECT_EQ(v.user, user);
    EXPECT_EQ(v.device, device);
    EXPECT_EQ(v.seq, i);
    EXPECT_EQ(v.addr.family, 4);
    EXPECT_EQ(v.addr.port, device);
    EXPECT_TRUE(v.state.live_online());
    EXPECT_EQ(t->find(t->hash_user(user), user, device + 1000), kNoSlot);
  }
  uint64_t used = 0;
  for (uint32_t s = 0; s < t->shard_count(); ++s) used += t->shard(s).counters.used.get();
  EXPECT_EQ(used, keys.size());
}

TEST(PresenceTableTest, AllDevicesOfAUserShareAShardAndAreVisitedTogether) {
  auto t = make_table(100000, 8);
  for (uint64_t user = 1; user <= 2000; ++user) {
    for (uint32_t d = 0; d < 4; ++d) ASSERT_NE(insert(*t, user, d, 0, 1), kNoSlot);
  }
  std::set<uint32_t> shards_seen;
  for (uint64_t user = 1; user <= 2000; ++user) {
    const UserHash u = t->hash_user(user);
    std::set<uint32_t> devices;
    t->for_each_user_slot(u, user, [&](uint32_t idx, SessionSlot& s) {
      EXPECT_EQ(t->shard_of_slot(idx), u.shard);
      EXPECT_EQ(s.user(), user);
      devices.insert(s.device.load());
    });
    EXPECT_EQ(devices, (std::set<uint32_t>{0, 1, 2, 3}));
    SessionView views[8];
    EXPECT_EQ(t->read_user(user, views, 8), 4u);
    shards_seen.insert(u.shard);
  }
  EXPECT_EQ(shards_seen.size(), 8u);  // users spread over every shard
}

TEST(PresenceTableTest, FullTableRejectsWithCounterAndKeepsExistingSessions) {
  auto t = make_table(1000, 1);
  std::vector<uint32_t> idx;
  for (uint64_t user = 1; user <= 1000; ++user) {
    PresenceTable::InsertOutcome o;
    idx.push_back(insert(*t, user, 7, slot_bits::kLiveOnline | slot_bits::kArmed,
                         static_cast<uint32_t>(user), &o));
    ASSERT_NE(idx.back(), kNoSlot) << user;
    ASSERT_EQ(o, PresenceTable::InsertOutcome::kInserted);
  }
  PresenceTable::InsertOutcome o;
  EXPECT_EQ(insert(*t, 5000, 1, slot_bits::kLiveOnline, 1, &o), kNoSlot);
  EXPECT_EQ(o, PresenceTable::InsertOutcome::kFull);
  EXPECT_EQ(t->shard(0).counters.full_rejects.get(), 1u);
  for (uint64_t user = 1; user <= 1000; ++user) {
    const uint32_t i = t->find(t->hash_user(user), user, 7);
    ASSERT_EQ(i, idx[user - 1]);
    SessionView v;
    ASSERT_TRUE(t->read(i, v));
    EXPECT_EQ(v.seq, user);
    EXPECT_TRUE(v.state.live_online());
  }
}

TEST(PresenceTableTest, TombstonesAreReusedOnlyWhenSpaceIsNeeded) {
  auto t = make_table(1000, 1);
  std::vector<uint32_t> idx;
  for (uint64_t user = 1; user <= 1000; ++user) {
    idx.push_back(insert(*t, user, 1, slot_bits::kLiveOnline, 5));
  }
  // Users 1..100 go offline: their records stay (replay state kept).
  for (uint64_t user = 1; user <= 100; ++user) set_state(*t, idx[user - 1], 0);
  for (uint64_t user = 1; user <= 100; ++user) {
    EXPECT_NE(t->find(t->hash_user(user), user, 1), kNoSlot);
  }
  // 100 new sessions fit by evicting exactly those tombstones.
  for (uint64_t user = 2001; user <= 2100; ++user) {
    ASSERT_NE(insert(*t, user, 1, slot_bits::kLiveOnline, 1), kNoSlot) << user;
  }
  const auto& c = t->shard(0).counters;
  EXPECT_EQ(c.tombstone_reuses.get() + c.evictions.get(), 100u);
  EXPECT_EQ(c.full_rejects.get(), 0u);
  int gone = 0;
  for (uint64_t user = 1; user <= 100; ++user)
    gone += t->find(t->hash_user(user), user, 1) == kNoSlot;
  EXPECT_EQ(gone, 100);
  for (uint64_t user = 101; user <= 1000; ++user) {
    ASSERT_NE(t->find(t->hash_user(user), user, 1), kNoSlot) << user;
  }
  for (uint64_t user = 2001; user <= 2100; ++user) {
    ASSERT_NE(t->find(t->hash_user(user), user, 1), kNoSlot) << user;
  }
  // And now it is full again.
  EXPECT_EQ(insert(*t, 9999, 1, slot_bits::kLiveOnline, 1), kNoSlot);
}

TEST(PresenceTableTest, BusyTombstonesAreNeverEvicted) {
  auto t = make_table(64, 1);
  std::vector<uint32_t> idx;
  for (uint64_t user = 1; user <= 64; ++user) idx.push_back(insert(*t, user, 1, 0, 1));
  // Offline but still referenced: lingering, armed or with a note pending.
  const uint32_t busy[] = {slot_bits::kLinger, slot_bits::kArmed, slot_bits::kNotePending,
                           slot_bits::kPubOnline};
  for (std::size_t i = 0; i < idx.size(); ++i) set_state(*t, idx[i], busy[i % 4]);
  EXPECT_EQ(insert(*t, 500, 1, 0, 1), kNoSlot);
  set_state(*t, idx[10], 0);
  EXPECT_NE(insert(*t, 500, 1, 0, 1), kNoSlot);
  EXPECT_EQ(t->find(t->hash_user(11), 11, 1), kNoSlot);
}

TEST(PresenceTableTest, ChurnThroughEvictionKeepsLookupsCorrect) {
  // Far more distinct sessions than capacity pass through the table; the
  // model (the most recent `live` set) must always be findable.
  auto t = make_table(2000, 2);
  std::mt19937_64 rng(3);
  std::vector<std::pair<uint64_t, uint32_t>> live;
  for (int round = 0; round < 20000; ++round) {
    const uint64_t user = rng() % 100000 + 1;
    if (t->find(t->hash_user(user), user, 0) != kNoSlot) continue;
    uint32_t idx = insert(*t, user, 0, slot_bits::kLiveOnline, 1);
    ASSERT_NE(idx, kNoSlot) << round;
    live.emplace_back(user, idx);
    if (live.size() > 1500) {  // oldest goes offline: becomes a tombstone
      set_state(*t, live.front().second, 0);
      live.erase(live.begin());
    }
  }
  for (const auto& [user, idx] : live) {
    EXPECT_EQ(t->find(t->hash_user(user), user, 0), idx);
  }
}

TEST(PresenceTableTest, Ipv6AddressesLiveInTheSideArray) {
  auto t = make_table(100);
  const uint32_t idx = insert(*t, 42, 1, 0, 1);
  uint32_t before = 0;
  SessionSlot& s = t->slot(idx);
  ASSERT_TRUE(try_claim(s, before, 1));
  const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  for (int k = 0; k < 4; ++k) {
    uint32_t w;
    std::memcpy(&w, ip + 4 * k, 4);
    t->v6(idx).w[k].store(w, std::memory_order_relaxed);
  }
  s.set_port_interval(4242, 60);
  release_modified(s, before, slot_bits::kIpv6 | slot_bits::kLiveOnline);
  SessionView v;
  ASSERT_TRUE(t->read(idx, v));
  EXPECT_EQ(v.addr, NetAddr::v6(ip, 4242));
  EXPECT_EQ(v.interval_s, 60);
}

TEST(PresenceTableTest, MemoryPerSessionWithinBudget) {
  // Table bytes per session at full capacity, IPv4: 37 bytes per slot over
  // a 0.9 load factor, plus shard slack. The budget is 48 all-in
  // (the wheel adds ~4.3 per online session).
  for (uint64_t n : {100000u, 1000000u}) {
    auto t = make_table(n, 4);
    const double per_session = static_cast<double>(t->resident_bytes()) / static_cast<double>(n);
    EXPECT_LT(per_session, 43.0) << n;
    EXPECT_GT(per_session, 37.0) << n;
  }
}

TEST(PresenceTableTest, ReleaseUnchangedKeepsVersion) {
  auto t = make_table(10);
  const uint32_t idx = insert(*t, 1, 1, slot_bits::kLiveOnline, 1);
  const uint32_t w = t->slot(idx).word.load();
  uint32_t before = 0;
  ASSERT_TRUE(try_claim(t->slot(idx), before, 1));
  EXPECT_EQ(before, w);
  uint32_t other = 0;
  EXPECT_FALSE(try_claim(t->slot(idx), other, 3));  // held: a second claim fails
  release_unchanged(t->slot(idx), before);
  EXPECT_EQ(t->slot(idx).word.load(), w);
  ASSERT_TRUE(try_claim(t->slot(idx), before, 1));
  release_modified(t->slot(idx), before, slot_bits::kLiveOnline);
  EXPECT_NE(t->slot(idx).word.load(), w);
  EXPECT_EQ(t->slot(idx).word.load() & slot_bits::kStateMask, slot_bits::kLiveOnline);
}

}  // namespace
}  // namespace presenced::table
