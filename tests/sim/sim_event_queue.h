// sim_event_queue.h: the simulation's event queue, a calendar of 1 ms
// buckets.
//
// Owns: pending simulation events (a client wake-up, a datagram arriving at
// the server or at a client, a login reply), each a 16-byte record filed
// under the simulated millisecond it is due. The queue is a ring of 2^k
// buckets covering the next 2^k ms (about two minutes by default); an event
// further out waits in a small min-heap and moves into its bucket when the
// ring reaches it. Inserting and popping are O(1) amortised, and bucket
// vectors keep their capacity, so after warm-up a run allocates nothing:
// 100,000 clients for a simulated hour is some 30-60 M events.
//
// Order: events of one millisecond are handed out in the order they were
// filed (far events join their bucket when the ring reaches them), so a run
// is a pure function of its seed. An event filed for the millisecond being
// drained (or earlier) runs in that same millisecond, after those already
// filed.
//
// Concurrency: none.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

namespace presenced::sim {

enum class EvKind : uint8_t {
  kWake,        // a: client index; runs Session::on_wake if still due
  kUpArrive,    // a: packet buffer; a datagram reaches the server host
  kDownArrive,  // a: packet buffer; a datagram reaches a client's address
  kLogin,       // a: client index; the login service answers (renew)
  kStart,       // a: client index; the app starts the session
};

struct SimEvent {
  uint64_t at_ms = 0;
  uint32_t a = 0;
  EvKind kind = EvKind::kWake;
};

class EventQueue {
 public:
  explicit EventQueue(uint32_t ring_bits = 17)
      : mask_((uint64_t{1} << ring_bits) - 1), ring_(std::size_t{1} << ring_bits) {}

  uint64_t now_ms() const { return now_; }
  std::size_t size() const { return size_; }

  // Files an event; at_ms < now runs now.
  void push(uint64_t at_ms, EvKind kind, uint32_t a) {
    if (at_ms < now_) at_ms = now_;
    ++size_;
    if (at_ms - now_ <= mask_) {
      ring_[at_ms & mask_].push_back(SimEvent{at_ms, a, kind});
    } else {
      far_.push_back(SimEvent{at_ms, a, kind});
      std::push_heap(far_.begin(), far_.end(), later);
    }
  }

  // Pops the next event of millisecond now_ms(); false when it has none
  // left (then call advance()).
  bool pop(SimEvent& out) {
    std::vector<SimEvent>& b = ring_[now_ & mask_];
    if (cursor_ < b.size()) {
      out = b[cursor_++];
      --size_;
      return true;
    }
    return false;
  }

  // Moves to the next millisecond (the current bucket must be drained).
  void advance() {
    std::vector<SimEvent>& b = ring_[now_ & mask_];
    assert(cursor_ == b.size());
    b.clear();
    cursor_ = 0;
    ++now_;
    // The ring now covers [now, now + mask]: bring far events into it.
    while (!far_.empty() && far_.front().at_ms - now_ <= mask_) {
      std::pop_heap(far_.begin(), far_.end(), later);
      const SimEvent e = far_.back();
      far_.pop_back();
      ring_[e.at_ms & mask_].push_back(e);
    }
  }

 private:
  static bool later(const SimEvent& x, const SimEvent& y) { return x.at_ms > y.at_ms; }

  uint64_t now_ = 0;
  uint64_t mask_;
  std::size_t cursor_ = 0;
  std::size_t size_ = 0;
  std::vector<std::vector<SimEvent>> ring_;
  std::vector<SimEvent> far_;  // min-heap by at_ms
};

}  // namespace presenced::sim
