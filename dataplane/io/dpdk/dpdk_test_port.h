// dpdk_test_port.h: a DPDK port made of rings, driven with plain bytes:
// for tests and benchmarks of the DPDK backend without a NIC. No DPDK type
// appears here (the backend's rule: only dataplane/io/dpdk/ sees DPDK).
//
// Owns: the RX and TX rings of one net_ring ethdev (rte_eth_from_rings), a
// mempool for the frames it injects, and nothing else: the ethdev itself
// belongs to whoever configures it (the backend closes it when it is done).
// Frames injected into queue q's RX ring are what the port "receives"; what
// the port transmits on queue q lands on its TX ring, where take_tx()
// collects it.
//
// Lifetime: mbufs the backend transmits come from the backend's mempools;
// call discard_tx() (or take_tx()) before destroying the backend, so none
// stays on a ring after its pool is gone. Destroy the RingPort last.
// Concurrency: inject() and take_tx() of one queue from one thread each
// (the rings are single-producer/single-consumer on each side).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace presenced::io::dpdk {

class RingPort {
 public:
  // The EAL must be up (ensure_eal). `name` is unique per process.
  static std::unique_ptr<RingPort> create(const std::string& name, uint32_t queues,
                                          uint32_t ring_size, std::string* error);
  // Two ports wired back to back (one queue each): what port_id()
  // transmits, peer_port_id() receives, and the other way round. For a
  // traffic generator on one lcore and the backend on another. inject() and
  // the TX helpers are not used with a pair (both sides are real ports).
  static std::unique_ptr<RingPort> create_pair(const std::string& name, uint32_t ring_size,
                                               std::string* error);
  uint16_t peer_port_id() const { return peer_; }
  ~RingPort();
  RingPort(const RingPort&) = delete;
  RingPort& operator=(const RingPort&) = delete;

  uint16_t port_id() const { return port_; }
  // The port's MAC (net_ring's is 00:00:00:00:00:00 and cannot be set).
  void mac(uint8_t out[6]) const;

  // Copies `frame` into an mbuf and puts it on queue `q`'s RX ring; false
  // when the ring or the pool is full.
  bool inject(uint32_t q, std::span<const uint8_t> frame);
  // Injects many frames at once (one enqueue); returns how many fit.
  uint32_t inject_burst(uint32_t q, const std::vector<std::span<const uint8_t>>& frames);

  // Everything transmitted on queue `q` so far (copied out, mbufs freed).
  std::vector<std::vector<uint8_t>> take_tx(uint32_t q);
  // Frees up to `max` transmitted frames of queue `q` without copying;
  // returns how many. `visit` (if set) sees each frame first.
  uint32_t drain_tx(uint32_t q, uint32_t max,
                    void (*visit)(void* arg, const uint8_t* frame, uint32_t len) = nullptr,
                    void* arg = nullptr);
  // Frames waiting on queue `q`'s TX ring.
  uint32_t tx_pending(uint32_t q) const;
  // Frees everything on every TX ring.
  void discard_tx();

 private:
  RingPort() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  uint16_t peer_ = 0;
};

// One RX/TX queue pair of any DPDK port, driven in bursts without copies:
// a benchmark's traffic generator. attach() configures and starts the
// port (queue 0, its own mempool).
//
//   uint8_t* f[32]; n = port.alloc(f, 32);   // frames to write (room: 2 KB)
//   ... write n frames ...; port.send(lens, n);
//   const uint8_t* r[32]; uint32_t len[32]; m = port.receive(r, len, 32);
//   ... read them (valid until the next receive()) ...
//
// Concurrency: one thread. Only after ensure_eal().
class FramePort {
 public:
  static std::unique_ptr<FramePort> attach(uint16_t port, uint32_t descriptors,
                                           std::string* error);
  ~FramePort();
  FramePort(const FramePort&) = delete;
  FramePort& operator=(const FramePort&) = delete;

  // Up to `n` (<= 64) buffers to write frames into; fewer when the pool is
  // short.
  uint32_t alloc(uint8_t** frames, uint32_t n);
  // Transmits the first `n` frames of the last alloc() with lengths
  // `lens`; frees the rest of that alloc(). Returns how many the device
  // took (the others are freed: the device was full).
  uint32_t send(const uint16_t* lens, uint32_t n);
  // Up to `max` (<= 64) received frames; valid until the next receive().
  uint32_t receive(const uint8_t** frames, uint32_t* lens, uint32_t max);
  // The port's MAC.
  void mac(uint8_t out[6]) const;

 private:
  FramePort() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace presenced::io::dpdk
