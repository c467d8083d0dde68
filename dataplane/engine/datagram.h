// datagram.h: what crosses between an I/O backend and the engine.
//
// Owns: the burst types. A backend fills RxDatagram views of its receive
// buffers; the engine writes replies into a caller-provided array of
// TxDatagram (fixed 60-byte payloads, the largest reply), which the backend
// sends in one batch. No allocation per packet on either side.
// Concurrency: plain values, owned by one core.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/common/net_addr.h"
#include "dataplane/wire/protocol.h"

namespace presenced::engine {

inline constexpr std::size_t kMaxBurst = 64;

struct RxDatagram {
  const uint8_t* data = nullptr;
  uint16_t len = 0;
  NetAddr src;    // the client
  NetAddr local;  // the server address it was sent to (reply from it)
  // Opaque to the engine, copied into the reply: a kernel-bypass backend
  // keeps the link-layer next hop here (the request's source MAC) so a
  // reply built on any core can be addressed without a neighbour lookup.
  // 0 when unknown (socket backends, replies the server pushes itself).
  uint64_t l2_hint = 0;
};

struct TxDatagram {
  NetAddr dst;
  NetAddr local;
  uint64_t l2_hint = 0;  // from the RxDatagram this answers; 0 if none
  uint16_t len = 0;
  uint8_t bytes[wire::kMaxPacketSize];
};

// A caller-owned output array and its fill level.
template <typename T>
struct OutBatch {
  T* data = nullptr;
  uint32_t capacity = 0;
  uint32_t size = 0;

  uint32_t room() const { return capacity - size; }
  T& push() { return data[size++]; }  // caller checks room()
  void clear() { size = 0; }
};

using ReplyBatch = OutBatch<TxDatagram>;

}  // namespace presenced::engine
