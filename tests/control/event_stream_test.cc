// The event stream's ids, backlog, resume/reset and slow-consumer rules
// (event_stream.h), by direct calls; plus a producer/readers run for the
// sanitizers (suite `concurrency` runs under TSan).
#include "control/event_stream.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace presenced::control {
namespace {

using namespace std::chrono_literals;

// Events whose user is their expected id, to check order end to end.
void deliver_users(EventStream& s, uint64_t first_user, std::size_t n) {
  std::vector<engine::PresenceEvent> batch(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch[i].user = first_user + i;
    batch[i].seq = first_user + i;
  }
  s.deliver(batch.data(), batch.size());
}

std::vector<uint64_t> read_ids(EventStream& s, uint64_t& next, std::size_t max = 1000) {
  std::vector<EventStream::Item> items;
  std::vector<uint64_t> ids;
  if (s.read(next, items, max, 0ms) == EventStream::ReadResult::kEvents) {
    for (const auto& it : items) {
      EXPECT_EQ(it.event.user, it.id) << "event and id out of step";
      ids.push_back(it.id);
    }
  }
  return ids;
}

TEST(EventStreamTest, IdsIncreaseFromOneAndLiveSubscribersStartAtTheNext) {
  EventStream s(100);
  deliver_users(s, 1, 3);
  const EventStream::Start st = s.subscribe(std::nullopt);
  EXPECT_FALSE(st.reset);
  EXPECT_EQ(st.next_id, 4u);
  uint64_t next = st.next_id;
  EXPECT_TRUE(read_ids(s, next).empty());
  deliver_users(s, 4, 2);
  EXPECT_EQ(read_ids(s, next), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(next, 6u);
  EXPECT_EQ(s.stats().last_id, 5u);
  EXPECT_EQ(s.stats().subscribers, 1u);
  s.unsubscribe();
  EXPECT_EQ(s.stats().subscribers, 0u);
}

TEST(EventStreamTest, ResumeWithLastEventIdGetsWhatWasMissed) {
  EventStream s(100);
  deliver_users(s, 1, 10);
  const EventStream::Start st = s.subscribe(7);
  EXPECT_FALSE(st.reset);
  uint64_t next = st.next_id;
  EXPECT_EQ(read_ids(s, next), (std::vector<uint64_t>{8, 9, 10}));
  // Last-Event-ID 0: everything still held.
  const EventStream::Start all = s.subscribe(0);
  EXPECT_FALSE(all.reset);
  next = all.next_id;
  EXPECT_EQ(read_ids(s, next).size(), 10u);
  // Up to date: nothing, and no reset.
  const EventStream::Start current = s.subscribe(10);
  EXPECT_FALSE(current.reset);
  EXPECT_EQ(current.next_id, 11u);
}

TEST(EventStreamTest, ResetWhenTheBacklogNoLongerHoldsTheNextEvent) {
  EventStream s(4);
  deliver_users(s, 1, 10);  // holds 7..10
  EXPECT_EQ(s.stats().backlog, 4u);
  const EventStream::Start st = s.subscribe(2);
  EXPECT_TRUE(st.reset);
  EXPECT_STREQ(st.reason, "backlog");
  EXPECT_EQ(st.missed_from, 3u);
  EXPECT_EQ(st.resume_at, 7u);
  uint64_t next = st.next_id;
  EXPECT_EQ(read_ids(s, next), (std::vector<uint64_t>{7, 8, 9, 10}));
  // The edge: the oldest event held is exactly the next one.
  EXPECT_FALSE(s.subscribe(6).reset);
  EXPECT_TRUE(s.subscribe(5).reset);
  std::string text;
  append_sse_reset(text, st);
  EXPECT_EQ(text,
            "event: reset\ndata: {\"reason\":\"backlog\",\"missed_from\":3,\"resume_at\":7}\n\n");
}

TEST(EventStreamTest, AnIdNeverIssuedIsAReset) {
  EventStream s(4);
  deliver_users(s, 1, 2);
  const EventStream::Start st = s.subscribe(1000);
  EXPECT_TRUE(st.reset);
  EXPECT_STREQ(st.reason, "unknown_id");
  EXPECT_EQ(st.resume_at, 1u);
}

TEST(EventStreamTest, ASubscriberThatFallsBehindIsCutAndCounted) {
  EventStream s(8);
  const EventStream::Start st = s.subscribe(std::nullopt);
  uint64_t next = st.next_id;
  deliver_users(s, 1, 5);
  EXPECT_EQ(read_ids(s, next, 2), (std::vector<uint64_t>{1, 2}));  // reads in bounded batches
  deliver_users(s, 6, 8);  // 3 is overwritten before it was sent
  std::vector<EventStream::Item> items;
  EXPECT_EQ(s.read(next, items, 100, 0ms), EventStream::ReadResult::kSlow);
  EXPECT_EQ(s.stats().slow_consumers_cut, 1u);
  // A subscriber that kept up is not affected.
  const EventStream::Start fresh = s.subscribe(13);
  uint64_t n2 = fresh.next_id;
  EXPECT_TRUE(read_ids(s, n2).empty());
  EXPECT_EQ(s.stats().slow_consumers_cut, 1u);
}

TEST(EventStreamTest, ReadTimesOutAndCloseWakesReaders) {
  EventStream s(8);
  uint64_t next = s.subscribe(std::nullopt).next_id;
  std::vector<EventStream::Item> items;
  EXPECT_EQ(s.read(next, items, 10, 20ms), EventStream::ReadResult::kTimeout);
  std::atomic<bool> woke{false};
  std::thread reader([&] {
    uint64_t n = next;
    std::vector<EventStream::Item> it;
    EXPECT_EQ(s.read(n, it, 10, 30s), EventStream::ReadResult::kClosed);
    woke = true;
  });
  std::this_thread::sleep_for(20ms);
  const auto t0 = std::chrono::steady_clock::now();
  s.close();
  reader.join();
  EXPECT_TRUE(woke);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_TRUE(s.closed());
  // Delivering after close is harmless (the hub drains after the control
  // plane stopped).
  deliver_users(s, 1, 3);
  EXPECT_EQ(s.stats().last_id, 3u);
}

TEST(EventStreamTest, ABlockedReaderWakesForNewEvents) {
  EventStream s(64);
  uint64_t next = s.subscribe(std::nullopt).next_id;
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    deliver_users(s, 1, 1);
  });
  std::vector<EventStream::Item> items;
  EXPECT_EQ(s.read(next, items, 10, 10s), EventStream::ReadResult::kEvents);
  producer.join();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].id, 1u);
}

TEST(EventStreamTest, SseTextOfAnEvent) {
  engine::PresenceEvent e;
  e.user = 42;
  e.seq = 7;
  e.last_seen_wall_ms = 1'800'000'000'000;
  e.type = engine::EventType::kStatus;
  e.status = wire::Status::kBusy;
  std::string text;
  append_sse_event(text, 12, e);
  EXPECT_EQ(text,
            "id: 12\nevent: status\ndata: {\"type\":\"status\",\"user\":42,\"status\":\"busy\","
            "\"last_seen_ms\":1800000000000,\"seq\":7}\n\n");
}

// One producer (the hub) and several readers with a backlog large enough
// for all of them: every reader sees every id once, in order.
TEST(EventStreamConcurrencyTest, ReadersSeeEveryEventInOrder) {
  constexpr uint64_t kEvents = 50'000;
  EventStream s(kEvents);
  constexpr int kReaders = 4;
  std::vector<uint64_t> starts;
  for (int r = 0; r < kReaders; ++r) starts.push_back(s.subscribe(std::nullopt).next_id);
  std::vector<std::thread> readers;
  std::vector<uint64_t> received(kReaders, 0);
  std::vector<char> in_order(kReaders, 1);  // not vector<bool>: one byte per reader
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      uint64_t next = starts[static_cast<std::size_t>(r)];
      std::vector<EventStream::Item> items;
      while (received[static_cast<std::size_t>(r)] < kEvents) {
        const auto res = s.read(next, items, 256, 5s);
        if (res != EventStream::ReadResult::kEvents) break;
        for (const auto& it : items) {
          if (it.id != received[static_cast<std::size_t>(r)] + 1 || it.event.user != it.id) {
            in_order[static_cast<std::size_t>(r)] = 0;
          }
          ++received[static_cast<std::size_t>(r)];
        }
      }
    });
  }
  for (uint64_t u = 1; u <= kEvents; u += 500) deliver_users(s, u, 500);
  for (auto& t : readers) t.join();
  for (int r = 0; r < kReaders; ++r) {
    EXPECT_EQ(received[static_cast<std::size_t>(r)], kEvents) << r;
    EXPECT_EQ(in_order[static_cast<std::size_t>(r)], 1) << r;
  }
  EXPECT_EQ(s.stats().slow_consumers_cut, 0u);
}

}  // namespace
}  // namespace presenced::control
