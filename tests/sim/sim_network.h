// sim_network.h: the simulated network between the clients and the server.
//
// Owns: the link model of one direction (loss, duplication, reordering,
// delay = fixed + jitter), the pool of datagrams in flight, the clients'
// public addresses (one IPv4 address per client, a port its NAT may change),
// the kernel's choice of a receiving socket (SO_REUSEPORT: a hash of the
// source address, so a NAT rebinding can move a client to another core) and
// each core's socket receive buffer (bounded; a datagram arriving at a full
// buffer is dropped, as the kernel does). It schedules nothing itself: the
// driver (sim_world.h) asks a Link when copies of a datagram arrive and
// files the events.
//
// Concurrency: none.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/common/net_addr.h"
#include "dataplane/wire/protocol.h"
#include "tests/sim/sim_random.h"

namespace presenced::sim {

// One direction of the path between every client and the server.
struct LinkModel {
  double loss = 0;       // probability a datagram is lost
  double duplicate = 0;  // probability a delivered datagram arrives twice
  double reorder = 0;    // probability a datagram is held back by extra delay
  uint32_t delay_ms = 20;
  uint32_t jitter_ms = 10;           // + uniform[0, jitter]
  uint32_t reorder_extra_ms = 1000;  // held back: + uniform[1, extra]

  uint32_t max_delay_ms() const {
    return delay_ms + jitter_ms + (reorder > 0 ? reorder_extra_ms : 0);
  }
};

struct LinkStats {
  uint64_t sent = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
};

// Draws the fate of each datagram sent over one direction.
class Link {
 public:
  Link(const LinkModel& model, uint64_t seed, Stream stream) : model_(model), rnd_(seed, stream) {}

  // Fills the delays (>= 1 ms) of the copies that arrive; returns 0, 1 or 2.
  int transmit(uint32_t delays[2]) {
    ++stats_.sent;
    if (rnd_.chance(model_.loss)) {
      ++stats_.lost;
      return 0;
    }
    int copies = 1;
    if (rnd_.chance(model_.duplicate)) {
      ++stats_.duplicated;
      copies = 2;
    }
    for (int i = 0; i < copies; ++i) {
      uint32_t d = model_.delay_ms + rnd_.below(model_.jitter_ms + 1);
      if (rnd_.chance(model_.reorder)) {
        ++stats_.reordered;
        d += 1 + rnd_.below(model_.reorder_extra_ms);
      }
      delays[i] = d == 0 ? 1 : d;
    }
    return copies;
  }

  LinkModel& model() { return model_; }
  const LinkStats& stats() const { return stats_; }

 private:
  LinkModel model_;
  Random rnd_;
  LinkStats stats_;
};

// A datagram in flight or waiting in a socket buffer.
struct SimPacket {
  NetAddr addr;  // to the server: the source; to a client: the destination
  uint8_t len = 0;
  uint8_t bytes[wire::kMaxPacketSize];
};

// Fixed-size records reused through a free list; ids stay valid until freed.
class PacketPool {
 public:
  uint32_t alloc() {
    if (!free_.empty()) {
      const uint32_t id = free_.back();
      free_.pop_back();
      return id;
    }
    packets_.emplace_back();
    return static_cast<uint32_t>(packets_.size() - 1);
  }
  uint32_t alloc_copy(const uint8_t* bytes, std::size_t len, const NetAddr& addr) {
    const uint32_t id = alloc();
    SimPacket& p = packets_[id];
    p.addr = addr;
    p.len = static_cast<uint8_t>(len);
    std::memcpy(p.bytes, bytes, len);
    return id;
  }
  void free(uint32_t id) { free_.push_back(id); }
  SimPacket& operator[](uint32_t id) { return packets_[id]; }
  std::size_t in_use() const { return packets_.size() - free_.size(); }

 private:
  std::vector<SimPacket> packets_;
  std::vector<uint32_t> free_;
};

// A core's socket receive buffer: a bounded FIFO of packet ids.
class SocketBuffer {
 public:
  explicit SocketBuffer(uint32_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}

  bool push(uint32_t id) {
    if (size_ == ring_.size()) {
      ++dropped_;
      return false;
    }
    ring_[(head_ + size_) % ring_.size()] = id;
    ++size_;
    if (size_ > peak_) peak_ = size_;
    return true;
  }
  uint32_t pop() {
    const uint32_t id = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
    --size_;
    return id;
  }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return ring_.size(); }
  uint64_t dropped() const { return dropped_; }
  std::size_t peak() const { return peak_; }

 private:
  std::vector<uint32_t> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t peak_ = 0;
  uint64_t dropped_ = 0;
};

// Client i's public address: 10.x.y.z with x.y.z = i + 1 (so at most
// 2^24 - 2 clients), and the port its NAT currently maps it to.
inline NetAddr client_address(uint32_t index, uint16_t port) {
  const uint32_t n = index + 1;
  return NetAddr::v4_bytes(10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                           static_cast<uint8_t>(n), port);
}

// The client an address belongs to (any port); false for other addresses.
inline bool client_of(const NetAddr& a, uint32_t& index) {
  if (a.family != 4 || a.ip[0] != 10) return false;
  const uint32_t n = uint32_t{a.ip[1]} << 16 | uint32_t{a.ip[2]} << 8 | a.ip[3];
  if (n == 0) return false;
  index = n - 1;
  return true;
}

// The socket (core) the kernel hands a datagram from `src` to: a hash of
// the source address and port, as SO_REUSEPORT does for UDP.
inline uint32_t reuseport_core(const NetAddr& src, uint32_t cores, uint64_t salt) {
  uint64_t x = salt;
  for (std::size_t i = 0; i < 16; i += 4) {
    uint32_t w;
    std::memcpy(&w, src.ip.data() + i, 4);
    x = mix64(x ^ w);
  }
  x = mix64(x ^ src.port);
  return static_cast<uint32_t>(((x >> 32) * cores) >> 32);
}

}  // namespace presenced::sim
