// timing_wheel.cc: construction and the cold parts of the timing wheel.
// The design and its bounds are explained in timing_wheel.h.
#include "dataplane/wheel/timing_wheel.h"

#include <algorithm>
#include <new>

namespace presenced::wheel {

namespace {

uint32_t clamped_bits(uint32_t bits) {
  return std::clamp(bits, TimingWheel::kMinBucketBits, TimingWheel::kMaxBucketBits);
}

}  // namespace

bool TimingWheel::valid(const Options& options) {
  return options.bucket_bits >= kMinBucketBits && options.bucket_bits <= kMaxBucketBits;
}

uint32_t TimingWheel::pool_chunks_for(const Options& options) {
  // Worst case: k = min(capacity, B) buckets each hold one partly filled
  // head chunk (>= 1 id), every other chunk is full. Spreading ids over more
  // heads never needs fewer chunks, so k at its maximum is the worst case:
  //   k + (capacity - k) / 15   (integer division: a remainder fits in heads)
  // advance() stays inside this bound: it frees a chunk before visiting its
  // ids, the chain being swept has only full chunks left (its own slot takes
  // no re-arms), and a catch-up compacts all heads into one chunk first.
  const uint64_t buckets = uint64_t{1} << clamped_bits(options.bucket_bits);
  const uint64_t cap = options.capacity;
  const uint64_t k = std::min(cap, buckets);
  return static_cast<uint32_t>(k + (cap - k) / kIdsPerChunk);
}

std::size_t TimingWheel::memory_bytes_for(const Options& options) {
  const std::size_t buckets = std::size_t{1} << clamped_bits(options.bucket_bits);
  return buckets * sizeof(Bucket) + std::size_t{pool_chunks_for(options)} * sizeof(Chunk);
}

TimingWheel::TimingWheel(const Options& options, uint64_t start_ms)
    : current_(start_ms),
      span_(uint64_t{1} << clamped_bits(options.bucket_bits)),
      mask_(span_ - 1),
      capacity_(options.capacity),
      pool_chunks_(pool_chunks_for(options)),
      memory_bytes_(memory_bytes_for(options)) {
  assert(valid(options));
  // Default-initialised on purpose: chunks are handed out by a bump index and
  // written before they are read, so their pages are touched on first use.
  buckets_.reset(new (std::nothrow) Bucket[span_]);
  if (pool_chunks_ > 0) pool_.reset(new (std::nothrow) Chunk[pool_chunks_]);
  if (buckets_ == nullptr || (pool_chunks_ > 0 && pool_ == nullptr)) {
    buckets_.reset();
    pool_.reset();
    capacity_ = 0;
    pool_chunks_ = 0;
    memory_bytes_ = 0;
  }
}

TimingWheel::~TimingWheel() = default;

void TimingWheel::gather_all(uint32_t* head, uint32_t* head_count) {
  uint32_t full = kNil;     // chain of full chunks, order irrelevant
  uint32_t part = kNil;     // the one partly filled chunk
  uint32_t part_count = 0;  // ids in `part`
  for (uint64_t i = 0; i < span_; ++i) {
    Bucket& b = buckets_[i];
    if (b.head == kNil) continue;
    const uint32_t c = b.head;
    const uint32_t n = b.count;
    b = Bucket{};
    assert(n >= 1 && n <= kIdsPerChunk);
    // Every chunk behind the head is full: move them onto `full`.
    for (uint32_t r = pool_[c].next; r != kNil;) {
      const uint32_t next = pool_[r].next;
      pool_[r].next = full;
      full = r;
      r = next;
    }
    if (n == kIdsPerChunk) {
      pool_[c].next = full;
      full = c;
    } else if (part == kNil) {
      part = c;
      part_count = n;
    } else if (part_count + n <= kIdsPerChunk) {
      std::memcpy(pool_[part].ids + part_count, pool_[c].ids, n * sizeof(uint32_t));
      part_count += n;
      free_chunk(c);
    } else {
      // Top `part` up to full, keep the rest of `c` as the new partial chunk.
      const uint32_t room = kIdsPerChunk - part_count;
      std::memcpy(pool_[part].ids + part_count, pool_[c].ids, room * sizeof(uint32_t));
      pool_[part].next = full;
      full = part;
      std::memmove(pool_[c].ids, pool_[c].ids + room, (n - room) * sizeof(uint32_t));
      part = c;
      part_count = n - room;
    }
  }
  if (part == kNil) {
    *head = full;
    *head_count = kIdsPerChunk;
  } else {
    pool_[part].next = full;
    *head = part;
    *head_count = part_count;
  }
}

void TimingWheel::lost_rearm(uint32_t id) {
  // Cannot happen: pool_chunks_for() covers every distribution of capacity
  // entries. If it ever does, the entry is dropped and counted, never corrupts.
  (void)id;
  --size_;
  ++stats_.rearm_failures;
  assert(false && "timing wheel pool exhausted on re-arm");
}

}  // namespace presenced::wheel
