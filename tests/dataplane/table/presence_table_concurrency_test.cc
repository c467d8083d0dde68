// Concurrent writers, a concurrent inserter and concurrent readers on one
// table. Run under TSan in CI (suite `concurrency`): any data race fails it.
#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/table/presence_table.h"

namespace presenced::table {
namespace {

// Every committed write keeps these fields a function of seq; a torn copy
// breaks the relation.
void write_fields(SessionSlot& s, uint32_t v) {
  s.seq.store(v, std::memory_order_relaxed);
  s.last_seen.store(v * 3u, std::memory_order_relaxed);
  s.addr.store(~v, std::memory_order_relaxed);
  s.port_interval.store(v * 7u, std::memory_order_relaxed);
  s.token_expiry.store(v ^ 0x5a5a5a5au, std::memory_order_relaxed);
}

bool consistent(const SessionView& v) {
  uint32_t addr;
  std::memcpy(&addr, v.addr.ip.data(), 4);
  const uint32_t pi = static_cast<uint32_t>(v.addr.port) << 16 | v.interval_s;
  return v.last_seen_ms == v.seq * 3u && addr == ~v.seq && pi == v.seq * 7u &&
         v.token_expiry == (v.seq ^ 0x5a5a5a5au);
}

TEST(PresenceTableConcurrencyTest, WritersNeverLoseUpdatesAndReadersNeverSeeTornRecords) {
  PresenceTable::Options o;
  o.max_sessions = 4096;
  o.shards = 2;
  o.try_hugetlb = false;
  std::string err;
  auto t = PresenceTable::create(o, &err);
  ASSERT_NE(t, nullptr) << err;

  constexpr uint64_t kUsers = 64;  // few records: heavy contention
  std::vector<uint32_t> idx;
  for (uint64_t user = 1; user <= kUsers; ++user) {
    uint32_t before = 0;
    PresenceTable::InsertOutcome out;
    const uint32_t i = t->insert_claimed(t->hash_user(user), user, 0, before, out);
    ASSERT_NE(i, kNoSlot);
    write_fields(t->slot(i), 0);
    release_modified(t->slot(i), before, slot_bits::kLiveOnline);
    idx.push_back(i);
  }

  constexpr int kWriters = 3;
  constexpr int kWritesPerWriter = 60000;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> committed{0};
  std::atomic<uint64_t> torn{0};
  std::atomic<uint64_t> reads{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w + 1));
      uint64_t mine = 0;
      for (int n = 0; n < kWritesPerWriter; ++n) {
        const uint64_t user = rng() % kUsers + 1;
        const uint32_t i = t->find(t->hash_user(user), user, 0);
        ASSERT_NE(i, kNoSlot);
        SessionSlot& s = t->slot(i);
        uint32_t before = 0;
        while (!try_claim(s, before, 64)) {
        }
        ASSERT_TRUE(s.has_key(user, 0));
        write_fields(s, s.seq.load(std::memory_order_relaxed) + 1);
        release_modified(s, before, SlotState{before}.word & slot_bits::kStateMask);
        ++mine;
      }
      committed += mine;
    });
  }
  // The home core inserting new users while others write and read.
  threads.emplace_back([&] {
    for (uint64_t user = 1000; user < 1000 + 2000; ++user) {
      uint32_t before = 0;
      PresenceTable::InsertOutcome out;
      const uint32_t i = t->insert_claimed(t->hash_user(user), user, 1, before, out);
      ASSERT_NE(i, kNoSlot);
      write_fields(t->slot(i), 0);
      release_modified(t->slot(i), before, 0);
    }
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        for (uint64_t user = 1; user <= kUsers; ++user) {
          SessionView v[4];
          const std::size_t n = t->read_user(user, v, 4);
          for (std::size_t k = 0; k < n; ++k) {
            if (!consistent(v[k]) || v[k].user != user) ++torn;
          }
          ++reads;
        }
        for (uint32_t s = 0; s < t->shard_count(); ++s) {
          t->scan_shard(s, [&](const SessionView& v) {
            if (!consistent(v)) ++torn;
          });
        }
      }
    });
  }
  for (int k = 0; k < kWriters + 1; ++k) threads[static_cast<std::size_t>(k)].join();
  stop = true;
  for (std::size_t k = kWriters + 1; k < threads.size(); ++k) threads[k].join();

  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  uint64_t total = 0;
  for (uint32_t i : idx) total += t->slot(i).seq.load();
  EXPECT_EQ(total, committed.load());  // mutual exclusion: no lost increments
  EXPECT_EQ(committed.load(), static_cast<uint64_t>(kWriters) * kWritesPerWriter);
  for (uint64_t user = 1000; user < 3000; ++user) {
    EXPECT_NE(t->find(t->hash_user(user), user, 1), kNoSlot);
  }
}

}  // namespace
}  // namespace presenced::table
