// io_backend.h: the burst I/O interface between a data core and its NIC
// queue or socket, and the factory that creates one backend per core.
//
// Owns: the contract every backend (socket/, uring/, dpdk/) implements. A
// backend instance belongs to one data core and is only ever used by that
// core's thread; instances of one server share the listening address (e.g.
// one SO_REUSEPORT socket per core, or one RX/TX queue pair per core).
// Nothing outside a backend's folder includes its headers: the factory below
// dispatches through each folder's *_factory.h, which exposes no library
// types (liburing, DPDK).
//
// Costs: one virtual call per burst, never per packet. receive() hands out
// views into the backend's own buffers, valid until the next receive() on
// the same instance; send() copies what it needs before returning (or keeps
// it in its own buffers until the kernel/NIC is done with it).
//
// Errors: receive() and send() never throw and never block; transient
// errors (EAGAIN, ENOBUFS, a full TX queue) show up as fewer datagrams and
// in the backend's counters. Only the factory reports errors, as text
// naming the failing step (bind, io_uring_queue_init, rte_eal_init, ...).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/common/net_addr.h"
#include "dataplane/engine/datagram.h"

namespace presenced::io {

enum class BackendKind : uint8_t { kSocket, kUring, kDpdk };

const char* backend_name(BackendKind k);
// "socket", "uring", "dpdk"; false for anything else.
bool parse_backend_kind(const std::string& s, BackendKind& out);
// Whether this build includes the backend (optional ones switch themselves
// off at configure time), and if not, why.
bool backend_available(BackendKind k, std::string* why_not);

struct BackendOptions {
  BackendKind kind = BackendKind::kUring;
  NetAddr listen = NetAddr::v4_bytes(0, 0, 0, 0, 7460);  // port 0: pick one
  uint32_t instances = 1;                                // one per data core
  uint32_t burst = 32;                                   // datagrams per receive()
  uint32_t ring_entries = 4096;                          // uring: SQ/CQ size; socket: unused
  uint32_t buffers = 4096;                  // receive buffers per instance (uring, dpdk)
  uint32_t socket_buffer_bytes = 8u << 20;  // SO_RCVBUF/SO_SNDBUF request
  // DPDK only (see dataplane/io/dpdk/): EAL arguments, port, own addresses.
  std::string dpdk_args;
  uint16_t dpdk_port = 0;
  std::vector<NetAddr> dpdk_addresses;
  // Prefix length of each of dpdk_addresses (same order; missing or 0: a
  // host address), for the kernel side of the exception path.
  std::vector<uint8_t> dpdk_prefix_lengths;
  // Where frames that are not presenced's (ARP, ICMP, NDP, other ports) go:
  // the name of a tap interface the backend creates with the port's MAC and
  // the addresses above, "port:N" for an existing DPDK port (e.g. a ring or
  // virtio-user device), or "off" (they are dropped).
  std::string dpdk_exception = "presenced0";
};

// Counters of one backend instance (read by the control plane; written by
// the owning core only).
struct BackendStats {
  uint64_t rx_datagrams = 0;
  uint64_t rx_bytes = 0;
  uint64_t rx_errors = 0;   // errors and truncated datagrams
  uint64_t rx_dropped = 0;  // dropped by the kernel/NIC (no buffer, missed)
  uint64_t tx_datagrams = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_errors = 0;  // send failures (datagram lost)
  uint64_t wakeups = 0;    // returns from wait()
  // Kernel-bypass backends (dpdk): frames that were not presenced's, handed
  // to the kernel through the exception path, and the kernel's frames sent
  // out of the port. 0 for the socket backends.
  uint64_t rx_exception = 0;
  uint64_t tx_exception = 0;

  BackendStats& operator+=(const BackendStats& o) {
    rx_datagrams += o.rx_datagrams;
    rx_bytes += o.rx_bytes;
    rx_errors += o.rx_errors;
    rx_dropped += o.rx_dropped;
    tx_datagrams += o.tx_datagrams;
    tx_bytes += o.tx_bytes;
    tx_errors += o.tx_errors;
    wakeups += o.wakeups;
    rx_exception += o.rx_exception;
    tx_exception += o.tx_exception;
    return *this;
  }
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;

  // Fills up to `max` views of received datagrams (src, local address,
  // payload). Views stay valid until the next receive() on this instance.
  // Returns the number filled; 0 when nothing is pending. Never blocks.
  virtual uint32_t receive(engine::RxDatagram* out, uint32_t max) = 0;

  // Queues `n` replies for transmission and pushes them out (one syscall or
  // doorbell per call, not per datagram). Returns how many were accepted;
  // the rest are counted in tx_errors and dropped (UDP semantics).
  virtual uint32_t send(const engine::TxDatagram* tx, uint32_t n) = 0;

  // Blocks until a datagram may be ready or `timeout_us` passed (the idle
  // strategy of the core loop). May return early (spurious wakeups).
  virtual void wait(uint32_t timeout_us) = 0;

  // The address actually bound (the port chosen when options.listen.port
  // was 0). The same for all instances of a server.
  virtual NetAddr local_address() const = 0;

  // Snapshot of the counters; safe to call from another thread.
  virtual BackendStats stats() const = 0;
};

// Creates options.instances backends sharing options.listen. On failure
// returns an empty vector and sets `error` (a complete sentence naming the
// failing step and the OS error).
std::vector<std::unique_ptr<IoBackend>> create_backends(const BackendOptions& options,
                                                        std::string* error);

}  // namespace presenced::io
