// timing_wheel.h: the per-core timing wheel that drives session liveness.
//
// Owns: the liveness timeouts of the sessions one data core is responsible
// for, as 32-bit ids (session slot indices) in millisecond buckets. It does
// not own the deadlines: those live in the session table, and the wheel asks
// a visitor about them when a bucket comes due.
//
// Concurrency: none. One data core owns one wheel and is the only thread that
// ever touches it: no locks, no atomics, no sharing. Another core that wants
// a timeout changed sends the owning core a command.
//
// Why the wheel looks like this
// -----------------------------
//
// Almost every liveness timeout is cancelled before it fires: a session that
// sends its heartbeats on time pushes its deadline forward every interval,
// and only the few that go silent ever time out. So the design makes the
// cancel free and pays on firing instead:
//
//  - A heartbeat writes NO timer state. It only stores last_seen in the
//    session; the wheel entry scheduled long ago stays where it is.
//  - The wheel holds ids, not deadlines. When an entry's bucket comes due,
//    advance() calls the visitor with the id. The visitor reads the session's
//    real deadline (last_seen + timeout, both of which may have changed since
//    the entry was scheduled) and either declares the session offline
//    (returns kDone: the entry is gone) or returns the real deadline, and the
//    wheel re-arms the entry there. A session heartbeating every 30 s with a
//    92 s timeout is thus visited about once a minute (once per span, see
//    below), not once per heartbeat, and a heartbeat costs the wheel nothing.
//  - An entry sits at or before its session's real deadline as long as
//    deadlines only move forward, so the visitor's exact check never lets a
//    session be declared early. When a timeout gets SHORTER the engine has
//    two ways to stay on time: schedule a second entry for the earlier
//    deadline (ids may appear more than once; the visitor finds the stale one
//    not due and drops or re-arms it), or, after a configuration change that
//    may shorten many timeouts, call revisit_all() once: every entry is
//    visited and re-armed at its new deadline, O(buckets + entries).
//
// A single level of 2^bucket_bits buckets of one millisecond each covers the
// timeouts of the protocol (default 3 x 30 s + 2 s = 92 s; longer with the
// dynamic interval). A deadline beyond the span is parked in the farthest
// bucket and re-armed by the visitor when that comes due, so a long timeout
// costs one extra visit per span and never fires early. This replaces the
// cascading of a hierarchical wheel (Linux kernel/time/timer.c) with the lazy
// re-arm we need anyway; for presence timeouts it is one or two extra visits.
//
//   bucket_bits  buckets   resolution  span        heads      error bound
//   -----------  -------   ----------  ----------  ---------  ------------------------
//       16 (*)   65,536    1 ms        65.536 s    512 KiB    0 early, < 1 tick late
//       14       16,384    1 ms        16.384 s    128 KiB    0 early, < 1 tick late
//       18       262,144   1 ms        262.144 s   2 MiB      0 early, < 1 tick late
//   (*) default. A tick is the period between two advance() calls: an entry
//   whose bucket time is D is visited by the first advance(now) with
//   now >= D, never before, so with exact visitor checks nothing is declared
//   before its deadline, nor later than the first tick at or after it. The
//   bucket is 1 ms, so the wheel itself adds no rounding to the tick.
//
//   schedule(id, D)    O(1)   D clamped to [current + 1, current + span - 1]
//   advance(now)       O(buckets due + entries due)        now - current < span
//   advance(now)       O(buckets + entries), catch-up      now - current >= span
//                      (a stalled core or a day's jump costs one sweep of the
//                       wheel, never O(elapsed ms))
//   revisit_all(now)   O(buckets + entries)   every entry visited once
//   heartbeat          0      (no timer state at all)
//
// Memory, allocated once at construction, never after:
//
//   Entries live in 64-byte chunks of 15 ids plus a 32-bit next index, taken
//   from a preallocated pool and linked per bucket (newest chunk first; only
//   the head chunk of a bucket may be partly filled). That is 64 / 15 = 4.27
//   bytes per entry when chunks are full. The pool is sized for the worst
//   distribution of `capacity` entries: one partly filled chunk in each of the
//   B buckets, every other chunk full, so
//       chunks = min(capacity, B) + (capacity - min(capacity, B)) / 15
//   plus 8 bytes of head per bucket. With B = 65,536 that is 8.5 bytes per
//   entry at 2^20 entries, 4.7 at 10 M and 4.4 at 40 M (memory_bytes_for()). advance() needs no
//   extra room: it copies a chunk's ids to the stack and frees the chunk
//   before visiting them, so a re-armed entry can reuse it at once, and a
//   catch-up first compacts the partly filled heads of all buckets into one
//   chunk. Pages are touched on first use (the engine may pre-fault).
//
// Visit order and re-entry:
//   - In one advance() each entry is visited at most once, even if the
//     visitor re-arms it: normally the re-armed bucket lies beyond `now`
//     (parked at most span - 1 after the bucket being swept, which the sweep
//     has left behind); a catch-up first unlinks every bucket into one list,
//     so the sweep never meets a re-armed entry again.
//   - Normal advances visit bucket by bucket in time order; a catch-up visits
//     all due entries in no particular order.
//   - The visitor may call schedule() for OTHER ids (those may be visited in
//     the same advance if already due). It must not call advance() or
//     revisit_all(), and it re-arms its own id by returning the new deadline,
//     not by schedule().
//   - If the visitor has a member `void prefetch(uint32_t id)`, advance()
//     calls it for the (up to 15) ids of a chunk before visiting them, so the
//     visitor's session lookups can overlap their cache misses.
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "dataplane/common/compiler.h"

namespace presenced::wheel {

// A visitor: called as visitor(id, now_ms), returns TimingWheel::kDone to drop
// the entry or a deadline (> now_ms) to re-arm it at.
template <typename V>
concept WheelVisitor = requires(V& v, uint32_t id, uint64_t now_ms) {
  { v(id, now_ms) } -> std::convertible_to<uint64_t>;
};

class TimingWheel {
 public:
  // Visitor result: the entry is done (session declared offline), drop it.
  static constexpr uint64_t kDone = ~0ULL;
  static constexpr uint32_t kIdsPerChunk = 15;
  static constexpr uint32_t kMinBucketBits = 1;
  static constexpr uint32_t kMaxBucketBits = 26;

  struct Options {
    uint32_t bucket_bits = 16;     // 2^bits one-millisecond buckets (span)
    uint32_t capacity = 1u << 20;  // max entries held at once
  };

  // Counters of this wheel; the control plane sums the cores' with +=.
  struct Stats {
    uint64_t buckets_swept = 0;      // bucket heads examined (advance, revisit_all)
    uint64_t visited = 0;            // visitor calls
    uint64_t expired = 0;            // visitor returned kDone
    uint64_t rearmed = 0;            // visitor returned a deadline
    uint64_t catch_ups = 0;          // advances with now - current >= span
    uint64_t schedule_failures = 0;  // schedule() returned false (wheel full)
    uint64_t rearm_failures = 0;     // impossible by pool sizing; asserted

    Stats& operator+=(const Stats& o) {
      buckets_swept += o.buckets_swept;
      visited += o.visited;
      expired += o.expired;
      rearmed += o.rearmed;
      catch_ups += o.catch_ups;
      schedule_failures += o.schedule_failures;
      rearm_failures += o.rearm_failures;
      return *this;
    }
  };

  // True if bucket_bits lies in [kMinBucketBits, kMaxBucketBits].
  static bool valid(const Options& options);
  // Chunks the pool needs so that `capacity` entries fit in any distribution.
  static uint32_t pool_chunks_for(const Options& options);
  // Bytes a wheel with these options allocates (bucket heads + chunk pool).
  static std::size_t memory_bytes_for(const Options& options);

  // Allocates everything the wheel will ever use; current_ms() = start_ms.
  // Options must be valid() (asserted; bucket_bits is clamped in release).
  // If the allocation fails, ok() is false and schedule() always fails.
  TimingWheel(const Options& options, uint64_t start_ms);
  ~TimingWheel();
  TimingWheel(const TimingWheel&) = delete;
  TimingWheel& operator=(const TimingWheel&) = delete;

  bool ok() const { return buckets_ != nullptr; }

  // Schedules `id` to be visited once the wheel reaches deadline_ms, clamped
  // to [current + 1, current + span - 1] (a far deadline is parked and the
  // visitor re-arms it). Returns false, changing nothing, if the wheel
  // already holds `capacity` entries (or, impossible by sizing, the pool is
  // exhausted). O(1), no allocation.
  bool schedule(uint32_t id, uint64_t deadline_ms);

  // Moves the wheel to now_ms and visits every entry whose bucket time is
  // <= now_ms, each at most once, calling visitor(id, now_ms). A result of
  // kDone drops the entry; a deadline re-arms it (one <= now_ms is treated
  // as now_ms + 1: visited at the next advance). Returns the number of visits.
  // now_ms <= current_ms() does nothing and returns 0.
  template <WheelVisitor Visitor>
  std::size_t advance(uint64_t now_ms, Visitor&& visitor);

  // Visits every entry the wheel holds exactly once, due or not, calling
  // visitor(id, now) with now = max(now_ms, current_ms()), and moves the wheel
  // to that time. Same results as advance(): kDone drops, a deadline re-arms.
  // For a change that may bring deadlines forward (a shorter timeout): each
  // entry is re-armed at its new deadline. O(buckets + entries), like a
  // catch-up; the same at-most-once guarantee. Returns the number of visits.
  template <WheelVisitor Visitor>
  std::size_t revisit_all(uint64_t now_ms, Visitor&& visitor);

  std::size_t size() const { return size_; }          // entries held
  std::size_t capacity() const { return capacity_; }  // max entries held
  uint64_t current_ms() const { return current_; }    // advanced up to
  uint64_t span_ms() const { return span_; }          // buckets, 1 ms each
  std::size_t memory_bytes() const { return memory_bytes_; }
  const Stats& stats() const { return stats_; }

 private:
  static constexpr uint32_t kNil = ~0u;

  struct alignas(kCacheLine) Chunk {
    uint32_t ids[kIdsPerChunk];
    uint32_t next;  // next (older, full) chunk of the bucket, or kNil
  };
  static_assert(sizeof(Chunk) == kCacheLine);

  struct Bucket {
    uint32_t head = kNil;  // newest chunk, the only one that may be partial
    uint32_t count = 0;    // ids in the head chunk, 1..15 when head != kNil
  };

  uint32_t alloc_chunk() {
    if (free_ != kNil) {
      const uint32_t c = free_;
      free_ = pool_[c].next;
      return c;
    }
    if (bump_ < pool_chunks_) return bump_++;
    return kNil;
  }
  void free_chunk(uint32_t c) {
    pool_[c].next = free_;
    free_ = c;
  }

  // Appends id to the bucket of time `at`. False only if the pool is empty.
  bool push(uint64_t at, uint32_t id) {
    Bucket& b = buckets_[at & mask_];
    if (b.head == kNil || b.count == kIdsPerChunk) {
      const uint32_t c = alloc_chunk();
      if (PRESENCED_UNLIKELY(c == kNil)) return false;
      pool_[c].next = b.head;
      b.head = c;
      b.count = 0;
    }
    pool_[b.head].ids[b.count++] = id;
    return true;
  }

  // Unlinks every bucket into one chain whose head chunk holds *head_count
  // ids and whose other chunks are full. O(buckets + chunks), no allocation.
  void gather_all(uint32_t* head, uint32_t* head_count);

  PRESENCED_COLD void lost_rearm(uint32_t id);

  // Catch-up and revisit_all(): unlinks every entry, moves the wheel to
  // now_ms (>= current_) and visits them all. Nothing re-armed is met again.
  template <typename Visitor>
  std::size_t sweep_all(uint64_t now_ms, Visitor& visitor);

  // Visits a detached chain (head chunk holds `count` ids, the rest are full)
  // and frees its chunks. Re-arms land in [now + 1, park].
  template <typename Visitor>
  std::size_t drain_chain(uint32_t chunk, uint32_t count, uint64_t now_ms, uint64_t park,
                          Visitor& visitor);

  uint64_t current_;
  uint64_t span_;
  uint64_t mask_;
  uint32_t capacity_;
  uint32_t size_ = 0;
  uint32_t pool_chunks_;
  uint32_t bump_ = 0;     // chunks [bump_, pool_chunks_) never used yet
  uint32_t free_ = kNil;  // LIFO list of returned chunks (hot in cache)
  bool in_advance_ = false;
  std::size_t memory_bytes_;
  std::unique_ptr<Bucket[]> buckets_;
  std::unique_ptr<Chunk[]> pool_;
  Stats stats_;
};

inline bool TimingWheel::schedule(uint32_t id, uint64_t deadline_ms) {
  if (PRESENCED_UNLIKELY(size_ >= capacity_)) {
    ++stats_.schedule_failures;
    return false;
  }
  uint64_t at = deadline_ms;
  if (at <= current_) at = current_ + 1;
  if (at > current_ + span_ - 1) at = current_ + span_ - 1;
  if (PRESENCED_UNLIKELY(!push(at, id))) {
    ++stats_.schedule_failures;
    return false;
  }
  ++size_;
  return true;
}

template <typename Visitor>
std::size_t TimingWheel::drain_chain(uint32_t chunk, uint32_t count, uint64_t now_ms, uint64_t park,
                                     Visitor& visitor) {
  std::size_t visited = 0;
  while (chunk != kNil) {
    const Chunk& c = pool_[chunk];
    const uint32_t next = c.next;
    if (next != kNil) prefetch_read(&pool_[next]);
    // Copy out (all 15 slots, the unused ones are ignored) and free first:
    // the re-arms below may reuse this very chunk, which keeps the worst case
    // within the pool (see the header comment).
    uint32_t ids[kIdsPerChunk];
    std::memcpy(ids, c.ids, sizeof(ids));
    free_chunk(chunk);
    if constexpr (requires(uint32_t i) { visitor.prefetch(i); }) {
      for (uint32_t i = 0; i < count; ++i) visitor.prefetch(ids[i]);
    }
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t id = ids[i];
      const uint64_t d = static_cast<uint64_t>(visitor(id, now_ms));
      if (d == kDone) {
        --size_;
        ++stats_.expired;
        continue;
      }
      ++stats_.rearmed;
      uint64_t at = d > now_ms ? d : now_ms + 1;
      if (at > park) at = park;
      if (PRESENCED_UNLIKELY(!push(at, id))) lost_rearm(id);
    }
    visited += count;
    chunk = next;
    count = kIdsPerChunk;
  }
  return visited;
}

template <WheelVisitor Visitor>
std::size_t TimingWheel::advance(uint64_t now_ms, Visitor&& visitor) {
  assert(!in_advance_ && "the visitor must not call advance()");
  if (PRESENCED_UNLIKELY(now_ms <= current_)) return 0;
  if (size_ == 0) {  // nothing to visit (also the state of a failed wheel)
    current_ = now_ms;
    return 0;
  }
  in_advance_ = true;
  std::size_t visited = 0;
  if (PRESENCED_LIKELY(now_ms - current_ < span_)) {
    // Buckets current+1 .. now_ms, in time order. An entry re-armed while
    // bucket t is swept lands in [now_ms + 1, t + span - 1]: past the end of
    // this sweep and, within one span of t, never in bucket t's own slot.
    stats_.buckets_swept += now_ms - current_;
    for (uint64_t t = current_ + 1; t <= now_ms; ++t) {
      current_ = t;  // a schedule() from the visitor clamps against t
      Bucket& b = buckets_[t & mask_];
      // Start the miss on the next bucket's head chunk, for the next t or,
      // when t == now_ms, for the next tick's advance().
      const uint32_t next_head = buckets_[(t + 1) & mask_].head;
      if (next_head != kNil) prefetch_read(&pool_[next_head]);
      if (b.head == kNil) continue;
      const uint32_t head = b.head;
      const uint32_t count = b.count;
      b = Bucket{};
      visited += drain_chain(head, count, now_ms, t + span_ - 1, visitor);
    }
  } else {
    // Catch-up: every entry is due (all bucket times are < current + span).
    ++stats_.catch_ups;
    visited = sweep_all(now_ms, visitor);
  }
  in_advance_ = false;
  stats_.visited += visited;
  return visited;
}

template <typename Visitor>
std::size_t TimingWheel::sweep_all(uint64_t now_ms, Visitor& visitor) {
  // Unlink every bucket first, so the buckets are empty and no re-armed
  // entry can be met again by this sweep.
  stats_.buckets_swept += span_;
  uint32_t head = kNil;
  uint32_t count = 0;
  gather_all(&head, &count);
  current_ = now_ms;
  return drain_chain(head, count, now_ms, now_ms + span_ - 1, visitor);
}

template <WheelVisitor Visitor>
std::size_t TimingWheel::revisit_all(uint64_t now_ms, Visitor&& visitor) {
  assert(!in_advance_ && "the visitor must not call revisit_all()");
  const uint64_t now = now_ms > current_ ? now_ms : current_;
  if (size_ == 0) {
    current_ = now;
    return 0;
  }
  in_advance_ = true;
  const std::size_t visited = sweep_all(now, visitor);
  in_advance_ = false;
  stats_.visited += visited;
  return visited;
}

}  // namespace presenced::wheel
