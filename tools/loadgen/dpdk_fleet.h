// dpdk_fleet.h: the load generator's packet I/O over a DPDK port (net_memif
// client, net_ring, ...), with UdpFleet's interface, so a Worker<DpdkFleet>
// drives sessions exactly as a Worker<UdpFleet> does. Built only when DPDK
// is (meson: dpdk_enabled). No DPDK type appears here: the port is
// io::dpdk::FramePort (dataplane/io/dpdk/dpdk_test_port.h), which hides the
// rte_* calls.
//
// Owns: queue pair 0 of one DPDK port (through FramePort, with its mempool),
// a staging area of `batch` frames built in plain memory, and the address
// plan of the generator: its own IPv4 address, and `sockets` UDP source
// ports first_port .. first_port + sockets - 1, each one "socket" (sessions
// keep theirs, as with UdpFleet). Frames are Ethernet II + IPv4 (no options,
// DF) + UDP, both checksums computed in software. The destination MAC is
// Options::server_mac when given, else broadcast until the first reply from
// the server, whose source MAC is then used (presenced's DPDK backend does
// not filter on the destination MAC, and it answers to the request's source
// MAC, so no ARP is needed).
//
// The EAL must be up (io::dpdk::ensure_eal) before open(); a process has one
// EAL, hence one DpdkFleet per port and one worker thread: presence-loadgen
// allows --threads 1 only with --transport dpdk.
//
// Receiving: the port has one RX queue for all source ports, so
// rx_queues() is 1 and receive() ignores which "socket" it is asked for;
// the worker routes replies by (user, device) anyway. A frame is delivered
// when it is IPv4 (optionally one 802.1Q tag) + UDP to our address and one
// of our ports, with sane lengths; anything else is counted (rx_other) and
// dropped. Checksums of received frames are not verified (memif and ring
// ports copy memory; a NIC would verify them in hardware). A worker pass
// may send thousands of frames before it receives again, so give the port
// deep rings: with net_memif, rsize=14 (16384 slots) on the client's
// --vdev; the default 1024 lost 12 % of the replies at 500k heartbeats/s.
//
// Costs: one rte_eth_tx_burst per `batch` frames queued (or per flush),
// plus one copy of each ~82-byte frame into an mbuf; one rte_eth_rx_burst
// per received burst. No allocation after open().
//
// Errors: a burst the device does not take completely (ring full) is
// retried up to three times after a short pause (tx_eagain_waits), then the
// rest is dropped and counted (tx_dropped): to the protocol a lost
// datagram, which the client state machine resends. open() fails with a
// message naming the DPDK call, or when the link does not come up within
// Options::link_timeout_ms (memif: the server is not listening).
//
// Concurrency: none. One thread owns the fleet and calls bind_thread() once
// before using it; the counters are single-writer and may be read from other
// threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/common/counter.h"
#include "tools/loadgen/udp_fleet.h"

namespace presenced::io::dpdk {
class FramePort;
}

namespace presenced::loadgen {

class DpdkFleet {
 public:
  struct Options {
    uint16_t port = 0;                      // DPDK port id
    uint32_t sockets = 16;                  // source ports
    uint16_t first_port = 20000;            // first source port
    uint32_t batch = 64;                    // frames per burst, at most kMaxBatch
    uint32_t descriptors = 4096;            // RX/TX descriptors (mempool sized from it)
    std::array<uint8_t, 4> ip{10, 1, 0, 2};  // our IPv4 address
    std::array<uint8_t, 6> server_mac{};    // used when server_mac_set
    bool server_mac_set = false;
    uint32_t link_timeout_ms = 20'000;  // open() waits this long for the link
  };
  // The same names as UdpFleet::Counters (the worker reads both alike).
  struct Counters {
    SingleWriterCounter tx_datagrams;
    SingleWriterCounter tx_calls;
    SingleWriterCounter tx_dropped;
    SingleWriterCounter tx_eagain_waits;
    SingleWriterCounter rx_datagrams;
    SingleWriterCounter rx_calls;
    SingleWriterCounter rx_other;  // frames not for us (ARP, other ports, broken)
  };
  static constexpr uint32_t kMaxBatch = 64;  // FramePort's burst limit
  static constexpr std::size_t kRxBufferBytes = UdpFleet::kRxBufferBytes;
  static constexpr std::size_t kHeaders = 14 + 20 + 8;
  static constexpr std::size_t kSlotBytes = 128;  // >= kHeaders + kRxBufferBytes

  // Attaches to Options::port (the EAL must be up) and waits for its link.
  // nullptr with a message naming the failing step.
  static std::unique_ptr<DpdkFleet> open(const Options& options, std::string* error);
  ~DpdkFleet();
  DpdkFleet(const DpdkFleet&) = delete;
  DpdkFleet& operator=(const DpdkFleet&) = delete;

  // Registers the calling thread with the EAL (per-lcore mempool caches).
  void bind_thread();

  uint32_t sockets() const { return options_.sockets; }
  uint32_t rx_queues() const { return 1; }
  // Frames per burst (Options::batch, at most kMaxBatch): a receive() of
  // fewer found the queue drained.
  uint32_t batch() const { return options_.batch; }

  // Queues a frame carrying `data` (at most kRxBufferBytes) from source port
  // s to `to` (IPv4 only; read now, need not outlive the call). Sends the
  // burst when it is full.
  void send(uint32_t s, const SockTarget& to, const uint8_t* data, std::size_t len);
  // Sends every queued frame.
  void flush_all();

  // Receives up to one burst from the port (`queue` must be 0) and calls
  // f(const uint8_t* data, std::size_t len, bool truncated) for each UDP
  // payload addressed to us. Returns the number of frames received
  // (including those not for us; 0: nothing waiting).
  template <typename F>
  uint32_t receive(uint32_t /*queue*/, F&& f) {
    const uint32_t n = receive_burst();
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t* payload = nullptr;
      std::size_t len = 0;
      if (!parse(i, payload, len)) continue;
      f(payload, len, len > kRxBufferBytes);
    }
    return n;
  }

  // Poll mode has nothing to sleep on: sleeps about 100 us (whatever
  // timeout_ms asks), short enough that the RX ring does not overflow
  // while the worker naps.
  void wait(int timeout_ms);

  const Counters& counters() const { return counters_; }

 private:
  explicit DpdkFleet(const Options& options);
  uint32_t receive_burst();
  bool parse(uint32_t i, const uint8_t*& payload, std::size_t& len);
  bool wait_for_link(std::string* error);

  Options options_;
  std::unique_ptr<io::dpdk::FramePort> port_;
  std::array<uint8_t, 6> own_mac_{};
  std::array<uint8_t, 6> dst_mac_{};
  bool dst_mac_known_ = false;
  uint32_t first_port_ = 0;
  std::vector<uint8_t> stage_;  // batch slots of kSlotBytes
  std::vector<uint16_t> stage_len_;
  uint32_t staged_ = 0;
  const uint8_t* rx_frames_[kMaxBatch] = {};
  uint32_t rx_lens_[kMaxBatch] = {};
  Counters counters_;
};

}  // namespace presenced::loadgen
