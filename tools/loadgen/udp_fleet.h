// udp_fleet.h: the load generator's packet I/O, a few UDP sockets carrying
// many sessions, in bursts.
//
// Owns: `sockets` unconnected, non-blocking UDP sockets of one address family
// (each bound to its own ephemeral source port), a transmit batch per socket
// flushed with sendmmsg, and receive buffers filled with recvmmsg. Sessions
// are spread over the sockets by the caller; each keeps its socket, so the
// server's replies come back on it. Nothing here knows about sessions or the
// protocol: datagrams in, datagrams out.
//
// Costs: one sendmmsg per `batch` datagrams queued on a socket (or per
// flush()), one recvmmsg per `batch` received; no allocation after open().
//
// Errors: a send the kernel refuses is retried after a short poll for
// POLLOUT when the socket buffer is full (EAGAIN), and otherwise dropped and
// counted (tx_dropped): to the protocol it is a lost datagram, which the
// client state machine resends. Truncated datagrams (larger than any server
// packet) are delivered with `truncated` set so the caller counts them.
//
// The worker is a template over its fleet; DpdkFleet (dpdk_fleet.h) has the
// same interface over a DPDK port.
//
// Concurrency: none. One worker thread owns a fleet; the counters are
// single-writer and may be read from other threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/socket.h>

#include <poll.h>

#include "client/endpoint.h"
#include "dataplane/common/counter.h"

struct mmsghdr;
struct iovec;

namespace presenced::loadgen {

// A destination in the form sendmmsg wants.
struct SockTarget {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// The socket address of an Endpoint (IPv4 or IPv6; port may be 0).
SockTarget to_sock_target(const client::Endpoint& e);

class UdpFleet {
 public:
  struct Options {
    uint32_t sockets = 1;
    uint32_t batch = 64;
    uint32_t buffer_bytes = 8u << 20;
    int family = AF_INET;
  };
  struct Counters {
    SingleWriterCounter tx_datagrams;
    SingleWriterCounter tx_calls;
    SingleWriterCounter tx_dropped;
    SingleWriterCounter tx_eagain_waits;
    SingleWriterCounter rx_datagrams;
    SingleWriterCounter rx_calls;
  };
  static constexpr std::size_t kRxBufferBytes = 64;  // > the largest server packet (60)

  // nullptr with a message naming the failing call.
  static std::unique_ptr<UdpFleet> open(const Options& options, std::string* error);
  ~UdpFleet();
  UdpFleet(const UdpFleet&) = delete;
  UdpFleet& operator=(const UdpFleet&) = delete;

  uint32_t sockets() const { return static_cast<uint32_t>(fds_.size()); }
  // Each socket is its own receive queue (receive(s, ...) reads socket s).
  uint32_t rx_queues() const { return sockets(); }
  // Datagrams per sendmmsg/recvmmsg: a receive() of fewer found the socket
  // drained.
  uint32_t batch() const { return options_.batch; }
  int fd(uint32_t s) const { return fds_[s]; }
  // Nothing to do: kernel sockets do not care which thread uses them
  // (DpdkFleet registers the thread with the EAL here).
  void bind_thread() {}

  // Queues a copy of `data` (at most 64 bytes) for socket s to `to`, which
  // must stay valid until the next flush. Sends the batch when it is full.
  void send(uint32_t s, const SockTarget& to, const uint8_t* data, std::size_t len);
  // Sends every queued datagram.
  void flush_all();

  // Receives up to one batch from socket s and calls
  // f(const uint8_t* data, std::size_t len, bool truncated) for each.
  // Returns the number received (0: nothing waiting).
  template <typename F>
  uint32_t receive(uint32_t s, F&& f) {
    const uint32_t n = receive_batch(s);
    for (uint32_t i = 0; i < n; ++i) {
      f(rx_data(i), rx_len(i), rx_truncated(i));
    }
    return n;
  }

  // Sleeps until a socket is readable or timeout_ms passes.
  void wait(int timeout_ms);

  const Counters& counters() const { return counters_; }

 private:
  struct TxQueue;
  UdpFleet(const Options& options);
  void flush(uint32_t s);
  uint32_t receive_batch(uint32_t s);
  const uint8_t* rx_data(uint32_t i) const { return rx_buf_.data() + i * kRxBufferBytes; }
  std::size_t rx_len(uint32_t i) const;
  bool rx_truncated(uint32_t i) const;

  Options options_;
  std::vector<int> fds_;
  std::vector<pollfd> pollfds_;
  std::vector<TxQueue> tx_;
  std::unique_ptr<mmsghdr[]> rx_msgs_;
  std::unique_ptr<iovec[]> rx_iov_;
  std::vector<uint8_t> rx_buf_;
  Counters counters_;
};

}  // namespace presenced::loadgen
