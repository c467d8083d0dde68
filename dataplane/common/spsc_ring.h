// spsc_ring.h: bounded single-producer/single-consumer ring of trivially
// copyable values, the one lane type between threads of presenced (data core
// to data core, control plane to data core, data core to event fan-in).
//
// Owns: a power-of-two array allocated at construction; never allocates again.
//
// Concurrency protocol (one producer thread, one consumer thread):
//   head_ is written only by the producer, tail_ only by the consumer; each
//   lives on its own cache line, and each side caches the other's index so
//   that most operations touch no shared line.
//   P1: the producer writes the element, then stores head_ with release.
//   C1: the consumer loads head_ with acquire (pairs with P1), reads the
//       element, then stores tail_ with release.
//   P0: the producer loads tail_ with acquire (pairs with C1) before reusing
//       a slot, so it never overwrites an element still being read.
// A full ring makes try_push() return false (the caller decides: drop and
// count, or retry later); an empty ring makes try_pop() return false.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#include "dataplane/common/compiler.h"

namespace presenced {

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "elements are copied between threads");

 public:
  // Capacity is rounded up to a power of two (at least 2).
  explicit SpscRing(std::size_t min_capacity)
      : mask_(std::bit_ceil(min_capacity < 2 ? std::size_t{2} : min_capacity) - 1),
        slots_(new T[mask_ + 1]) {}

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const { return mask_ + 1; }

  // Producer side.
  bool try_push(const T& v) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - producer_tail_cache_ > mask_) {
      producer_tail_cache_ = tail_.load(std::memory_order_acquire);  // P0
      if (head - producer_tail_cache_ > mask_) return false;
    }
    slots_[head & mask_] = v;
    head_.store(head + 1, std::memory_order_release);  // P1
    return true;
  }

  // Producer side: free slots, a lower bound (the consumer may free more).
  std::size_t free_space() {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    producer_tail_cache_ = tail_.load(std::memory_order_acquire);  // P0
    return capacity() - static_cast<std::size_t>(head - producer_tail_cache_);
  }

  // Consumer side.
  bool try_pop(T& out) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == consumer_head_cache_) {
      consumer_head_cache_ = head_.load(std::memory_order_acquire);  // C1
      if (tail == consumer_head_cache_) return false;
    }
    out = slots_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);  // C1
    return true;
  }

  // Consumer side: pops up to `max` elements into `out`; returns the count.
  std::size_t pop_burst(T* out, std::size_t max) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    consumer_head_cache_ = head_.load(std::memory_order_acquire);  // C1
    std::size_t n = static_cast<std::size_t>(consumer_head_cache_ - tail);
    if (n > max) n = max;
    for (std::size_t i = 0; i < n; ++i) out[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);  // C1
    return n;
  }

  // Either side: approximate number of queued elements (for status only).
  std::size_t size_approx() const {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    return h >= t ? static_cast<std::size_t>(h - t) : 0;
  }

 private:
  const std::size_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(kCacheLine) std::atomic<uint64_t> head_{0};
  uint64_t producer_tail_cache_ = 0;
  alignas(kCacheLine) std::atomic<uint64_t> tail_{0};
  uint64_t consumer_head_cache_ = 0;
  char pad_[kCacheLine - sizeof(uint64_t)]{};
};

}  // namespace presenced
