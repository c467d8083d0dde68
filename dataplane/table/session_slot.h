// session_slot.h: the 36-byte record of one session in the presence table,
// and the protocol by which several cores update it without locks.
//
// Owns: the slot layout and its state word. A slot belongs to a shard
// (presence_table.h); this header knows nothing of probing.
//
// Layout (9 x 32-bit words, every field a relaxed atomic so concurrent
// readers are data-race free; on x86-64 these are plain moves):
//   word          seqlock counter, write claim and 11 state bits (below)
//   user_lo/hi    user_id (split: the slot is 4-byte aligned)
//   device        device_id
//   seq           highest accepted seq of the current token
//   token_expiry  the current token (replay state belongs to one token)
//   last_seen     engine milliseconds of the last accepted packet, rounded
//                 up, low 32 bits (serial arithmetic; valid for 24 days)
//   addr          last authenticated source, IPv4 (network order); for IPv6
//                 the address lives in the shard's side array (kIpv6 set)
//   port_interval source port (high 16) | interval last advised, s (low 16);
//                 while a session lingers offline the low 16 bits are unused
//
// State word: bit 0 kWriting; bits 1..11 state; bits 13..31 a 19-bit change
// counter (the seqlock version). State bits come in two groups:
//   live  (written by whichever data core accepts a packet, under the claim):
//         kLiveOnline, kLiveStatus(2), kIpv6, kReconnect, kNotePending
//   home  (written only by the shard's home core, also under the claim):
//         kPubOnline, kPubStatus(2) = what user-level events have published
//         for this session; kLinger = the user's OFFLINE waits on this slot;
//         kArmed = this slot has an entry in the home core's timing wheel.
//
// Write protocol (any core):
//   W1: CAS the word from even (no kWriting) to word|kWriting with acquire
//       (pairs with W3 of the previous writer: its field stores are visible);
//       then a release fence so the odd word is ordered before field stores.
//   W2: relaxed stores of fields.
//   W3: store the new word (counter+1, new state, kWriting clear) with
//       release; or the unchanged original word when nothing was modified.
//   Writers hold a claim for a few nanoseconds and never wait for another
//   claim while holding one, except the home core (see engine), so claims
//   cannot deadlock. A writer that cannot claim within a bounded number of
//   spins gives up (data core: counted drop; home core: retries later).
// Read protocol (control plane, never blocks writers):
//   R1: load word with acquire; retry while kWriting is set.
//   R2: relaxed loads of fields.
//   R3: acquire fence, reload word; the copy is consistent iff it equals R1
//       (the fence pairs with the writer's release fence of W1: a reader that
//       saw any W2 store sees the odd word or a later one).
//   The 19-bit counter could wrap only if a reader stalled across 524,288
//   writes of one slot; documented as acceptable (it would return a torn
//   record of one session to one control-plane query).
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/common/compiler.h"
#include "dataplane/wire/protocol.h"

namespace presenced::table {

namespace slot_bits {
inline constexpr uint32_t kWriting = 1u << 0;
inline constexpr uint32_t kLiveOnline = 1u << 1;
inline constexpr uint32_t kLiveStatusShift = 2;  // 2 bits
inline constexpr uint32_t kLiveStatusMask = 3u << kLiveStatusShift;
inline constexpr uint32_t kIpv6 = 1u << 4;
inline constexpr uint32_t kReconnect = 1u << 5;
inline constexpr uint32_t kPubOnline = 1u << 6;
inline constexpr uint32_t kPubStatusShift = 7;  // 2 bits
inline constexpr uint32_t kPubStatusMask = 3u << kPubStatusShift;
inline constexpr uint32_t kLinger = 1u << 9;
inline constexpr uint32_t kArmed = 1u << 10;
inline constexpr uint32_t kNotePending = 1u << 11;
inline constexpr uint32_t kStateMask = 0x1ffeu;  // bits 1..12
inline constexpr uint32_t kCounterShift = 13;
inline constexpr uint32_t kCounterOne = 1u << kCounterShift;
// A tombstone may be evicted only when none of these is set.
inline constexpr uint32_t kBusyMask =
    kWriting | kLiveOnline | kPubOnline | kLinger | kArmed | kNotePending;
}  // namespace slot_bits

// Decoded view of the state bits of a word.
struct SlotState {
  uint32_t word = 0;

  bool writing() const { return word & slot_bits::kWriting; }
  bool live_online() const { return word & slot_bits::kLiveOnline; }
  wire::Status live_status() const {
    return static_cast<wire::Status>((word & slot_bits::kLiveStatusMask) >>
                                     slot_bits::kLiveStatusShift);
  }
  bool ipv6() const { return word & slot_bits::kIpv6; }
  bool reconnect() const { return word & slot_bits::kReconnect; }
  bool pub_online() const { return word & slot_bits::kPubOnline; }
  wire::Status pub_status() const {
    return static_cast<wire::Status>((word & slot_bits::kPubStatusMask) >>
                                     slot_bits::kPubStatusShift);
  }
  bool linger() const { return word & slot_bits::kLinger; }
  bool armed() const { return word & slot_bits::kArmed; }
  bool note_pending() const { return word & slot_bits::kNotePending; }
  bool evictable() const { return (word & slot_bits::kBusyMask) == 0; }

  void set(uint32_t bit, bool on) { word = on ? (word | bit) : (word & ~bit); }
  void set_live_status(wire::Status s) {
    word = (word & ~slot_bits::kLiveStatusMask) |
           (static_cast<uint32_t>(s) << slot_bits::kLiveStatusShift);
  }
  void set_pub_status(wire::Status s) {
    word = (word & ~slot_bits::kPubStatusMask) |
           (static_cast<uint32_t>(s) << slot_bits::kPubStatusShift);
  }
};

struct SessionSlot {
  std::atomic<uint32_t> word;
  std::atomic<uint32_t> user_lo;
  std::atomic<uint32_t> user_hi;
  std::atomic<uint32_t> device;
  std::atomic<uint32_t> seq;
  std::atomic<uint32_t> token_expiry;
  std::atomic<uint32_t> last_seen;
  std::atomic<uint32_t> addr;
  std::atomic<uint32_t> port_interval;

  uint64_t user() const {
    return static_cast<uint64_t>(user_hi.load(std::memory_order_relaxed)) << 32 |
           user_lo.load(std::memory_order_relaxed);
  }
  void set_user(uint64_t u) {
    user_lo.store(static_cast<uint32_t>(u), std::memory_order_relaxed);
    user_hi.store(static_cast<uint32_t>(u >> 32), std::memory_order_relaxed);
  }
  bool has_key(uint64_t u, uint32_t d) const {
    return user_lo.load(std::memory_order_relaxed) == static_cast<uint32_t>(u) &&
           user_hi.load(std::memory_order_relaxed) == static_cast<uint32_t>(u >> 32) &&
           device.load(std::memory_order_relaxed) == d;
  }
  uint16_t port() const {
    return static_cast<uint16_t>(port_interval.load(std::memory_order_relaxed) >> 16);
  }
  uint16_t interval_s() const {
    return static_cast<uint16_t>(port_interval.load(std::memory_order_relaxed));
  }
  void set_port_interval(uint16_t port, uint16_t interval) {
    port_interval.store(static_cast<uint32_t>(port) << 16 | interval, std::memory_order_relaxed);
  }
};
static_assert(sizeof(SessionSlot) == 36, "memory budget: 36 bytes per slot");

// IPv6 source addresses of IPv6 sessions, one per slot in a side array that
// is reserved but only backed by memory where IPv6 sessions write.
struct V6Addr {
  std::atomic<uint32_t> w[4];
};
static_assert(sizeof(V6Addr) == 16);

// W1. Returns true with the pre-claim word in `word_before`.
inline bool try_claim(SessionSlot& s, uint32_t& word_before, int max_spins) {
  uint32_t cur = s.word.load(std::memory_order_relaxed);
  for (int spins = 0;;) {
    if ((cur & slot_bits::kWriting) == 0) {
      if (s.word.compare_exchange_weak(cur, cur | slot_bits::kWriting, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        // Orders the odd word before our field stores (pairs with R3).
        std::atomic_thread_fence(std::memory_order_release);
        word_before = cur;
        return true;
      }
      continue;  // cur reloaded by the failed CAS
    }
    if (++spins > max_spins) return false;
    cpu_relax();
    cur = s.word.load(std::memory_order_relaxed);
  }
}

// W3 after modifying fields: publishes `new_state` (kWriting must be clear)
// with the counter of `word_before` advanced.
inline void release_modified(SessionSlot& s, uint32_t word_before, uint32_t new_state) {
  const uint32_t counter =
      (word_before & ~((1u << slot_bits::kCounterShift) - 1)) + slot_bits::kCounterOne;
  s.word.store(counter | (new_state & slot_bits::kStateMask), std::memory_order_release);
}

// W3 when nothing was modified: readers that raced see an unchanged version.
inline void release_unchanged(SessionSlot& s, uint32_t word_before) {
  s.word.store(word_before, std::memory_order_release);
}

}  // namespace presenced::table
