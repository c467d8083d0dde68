// socket_backend.cc: one non-blocking SO_REUSEPORT UDP socket per core,
// bursts through recvmmsg/sendmmsg, poll() to sleep.
//
// Owns: the socket and its fixed receive/send arrays (allocated at
// creation). Concurrency: one instance per core thread; stats() may be
// called from any thread.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <poll.h>
#include <unistd.h>

#include "dataplane/io/backend_counters.h"
#include "dataplane/io/socket/socket_factory.h"
#include "dataplane/io/udp_socket.h"

namespace presenced::io {
namespace {

// Larger datagrams are truncated to this (they are malformed anyway: the
// engine drops them as bad_length).
constexpr std::size_t kRxBufferBytes = 256;

class SocketBackend final : public IoBackend {
 public:
  SocketBackend(int fd, uint32_t burst)
      : fd_(fd),
        burst_(burst),
        family_(bound_address(fd).family == 6 ? AF_INET6 : AF_INET),
        bound_(bound_address(fd)),
        rx_msgs_(burst),
        rx_iov_(burst),
        rx_addr_(burst),
        rx_cmsg_(burst * kPktinfoCmsgSpace),
        rx_buf_(burst * kRxBufferBytes),
        tx_msgs_(burst * 2),
        tx_iov_(burst * 2),
        tx_addr_(burst * 2),
        tx_cmsg_(burst * 2 * kPktinfoCmsgSpace) {}

  ~SocketBackend() override { close(fd_); }

  uint32_t receive(engine::RxDatagram* out, uint32_t max) override {
    const uint32_t n_max = max < burst_ ? max : burst_;
    for (uint32_t i = 0; i < n_max; ++i) {
      rx_iov_[i] = {rx_buf_.data() + i * kRxBufferBytes, kRxBufferBytes};
      msghdr& h = rx_msgs_[i].msg_hdr;
      h.msg_name = &rx_addr_[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &rx_iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = rx_cmsg_.data() + i * kPktinfoCmsgSpace;
      h.msg_controllen = kPktinfoCmsgSpace;
      h.msg_flags = 0;
    }
    const int got = recvmmsg(fd_, rx_msgs_.data(), n_max, MSG_DONTWAIT, nullptr);
    if (got <= 0) {
      if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        counters_.rx_errors.add();
      }
      return 0;
    }
    uint64_t bytes = 0;
    for (int i = 0; i < got; ++i) {
      const msghdr& h = rx_msgs_[static_cast<std::size_t>(i)].msg_hdr;
      engine::RxDatagram& d = out[i];
      d.data = rx_buf_.data() + static_cast<std::size_t>(i) * kRxBufferBytes;
      d.len = static_cast<uint16_t>(rx_msgs_[static_cast<std::size_t>(i)].msg_len);
      d.src = from_sockaddr(static_cast<const sockaddr*>(h.msg_name));
      d.local = local_from_cmsg(h, bound_.port);
      if (d.local.family == 0) d.local = bound_;
      if ((h.msg_flags & MSG_TRUNC) != 0) counters_.rx_errors.add();
      bytes += d.len;
    }
    counters_.rx_datagrams.add(static_cast<uint64_t>(got));
    counters_.rx_bytes.add(bytes);
    return static_cast<uint32_t>(got);
  }

  uint32_t send(const engine::TxDatagram* tx, uint32_t n) override {
    uint32_t sent = 0;      // handled (sent or dropped)
    uint32_t accepted = 0;  // handed to the kernel
    while (sent < n) {
      const uint32_t chunk =
          (n - sent) < tx_msgs_.size() ? (n - sent) : static_cast<uint32_t>(tx_msgs_.size());
      for (uint32_t i = 0; i < chunk; ++i) {
        const engine::TxDatagram& t = tx[sent + i];
        tx_iov_[i] = {const_cast<uint8_t*>(t.bytes), t.len};
        msghdr& h = tx_msgs_[i].msg_hdr;
        h.msg_name = &tx_addr_[i];
        h.msg_namelen = to_sockaddr(t.dst, family_, tx_addr_[i]);
        h.msg_iov = &tx_iov_[i];
        h.msg_iovlen = 1;
        uint8_t* cmsg = tx_cmsg_.data() + i * kPktinfoCmsgSpace;
        const std::size_t clen = write_source_cmsg(t.local, family_, cmsg);
        h.msg_control = clen != 0 ? cmsg : nullptr;
        h.msg_controllen = clen;
        h.msg_flags = 0;
      }
      const int done = sendmmsg(fd_, tx_msgs_.data(), chunk, MSG_DONTWAIT);
      if (done <= 0) {
        if (done < 0 && errno == EINTR) continue;
        // EAGAIN (socket buffer full) or an error on the first datagram:
        // drop it (UDP) and go on with the rest.
        counters_.tx_errors.add();
        ++sent;
        continue;
      }
      uint64_t bytes = 0;
      for (int i = 0; i < done; ++i) bytes += tx[sent + static_cast<uint32_t>(i)].len;
      counters_.tx_datagrams.add(static_cast<uint64_t>(done));
      counters_.tx_bytes.add(bytes);
      sent += static_cast<uint32_t>(done);
      accepted += static_cast<uint32_t>(done);
    }
    return accepted;
  }

  void wait(uint32_t timeout_us) override {
    pollfd p{fd_, POLLIN, 0};
    const int ms = static_cast<int>((timeout_us + 999) / 1000);
    poll(&p, 1, ms);
    counters_.wakeups.add();
  }

  NetAddr local_address() const override { return bound_; }
  BackendStats stats() const override { return counters_.snapshot(); }

 private:
  const int fd_;
  const uint32_t burst_;
  const int family_;
  const NetAddr bound_;
  std::vector<mmsghdr> rx_msgs_;
  std::vector<iovec> rx_iov_;
  std::vector<sockaddr_storage> rx_addr_;
  std::vector<uint8_t> rx_cmsg_;
  std::vector<uint8_t> rx_buf_;
  std::vector<mmsghdr> tx_msgs_;
  std::vector<iovec> tx_iov_;
  std::vector<sockaddr_storage> tx_addr_;
  std::vector<uint8_t> tx_cmsg_;
  BackendCounters counters_;
};

}  // namespace

std::vector<std::unique_ptr<IoBackend>> create_socket_backends(const BackendOptions& options,
                                                               std::string* error) {
  // An empty result must come with a reason (io_backend.h); burst 0 would
  // size every array to 0 and drop every datagram.
  if (options.instances == 0 || options.burst == 0) {
    if (error != nullptr) {
      *error = "socket backend: instances (" + std::to_string(options.instances) + ") and burst (" +
               std::to_string(options.burst) + ") must be at least 1";
    }
    return {};
  }
  std::vector<std::unique_ptr<IoBackend>> out;
  NetAddr addr = options.listen;
  for (uint32_t i = 0; i < options.instances; ++i) {
    const int fd = open_udp_socket(addr, options.socket_buffer_bytes, error);
    if (fd < 0) return {};
    // Port 0: the first socket picks the port, the others join it.
    if (i == 0) addr.port = bound_address(fd).port;
    out.push_back(std::make_unique<SocketBackend>(fd, options.burst));
  }
  return out;
}

}  // namespace presenced::io
