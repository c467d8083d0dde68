// counter.h: a statistics counter with one writer and any number of readers.
//
// Owns: one 64-bit value. The owning thread (a data core, or a shard's home
// core) updates it with a plain load+store, no locked instruction; other
// threads read it with a relaxed load and may see a slightly old value,
// never a torn one. Using it from two writers is a bug.
#pragma once

#include <atomic>
#include <cstdint>

namespace presenced {

class SingleWriterCounter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace presenced
