#include "tools/loadgen/udp_fleet.h"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <unistd.h>

namespace presenced::loadgen {

struct UdpFleet::TxQueue {
  std::unique_ptr<mmsghdr[]> msgs;
  std::unique_ptr<iovec[]> iov;
  std::vector<uint8_t> buf;
  uint32_t count = 0;
};

namespace {

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::system_category().message(errno);
}

void request_buffer(int fd, int opt_force, int opt, uint32_t bytes) {
  const int size = static_cast<int>(bytes);
  // As root, *BUFFORCE goes beyond net.core.{r,w}mem_max; otherwise the
  // kernel caps the plain request. Both are best effort.
  if (setsockopt(fd, SOL_SOCKET, opt_force, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
  }
}

}  // namespace

SockTarget to_sock_target(const client::Endpoint& e) {
  SockTarget t;
  if (e.family == wire::TargetFamily::kIpv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&t.addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(e.port);
    std::memcpy(&a->sin6_addr, e.address.data(), 16);
    t.len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&t.addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(e.port);
    std::memcpy(&a->sin_addr, e.address.data(), 4);
    t.len = sizeof *a;
  }
  return t;
}

UdpFleet::UdpFleet(const Options& options) : options_(options) {}

UdpFleet::~UdpFleet() {
  for (int fd : fds_) ::close(fd);
}

std::unique_ptr<UdpFleet> UdpFleet::open(const Options& options, std::string* error) {
  std::unique_ptr<UdpFleet> f(new UdpFleet(options));
  const uint32_t b = options.batch;
  for (uint32_t s = 0; s < options.sockets; ++s) {
    const int fd = ::socket(options.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      if (error != nullptr) *error = errno_text("socket");
      return nullptr;
    }
    f->fds_.push_back(fd);
    request_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.buffer_bytes);
    request_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.buffer_bytes);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (options.family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_any;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_ANY);
      len = sizeof *a;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
      if (error != nullptr) *error = errno_text("bind");
      return nullptr;
    }
    f->pollfds_.push_back(pollfd{fd, POLLIN, 0});
  }
  f->tx_.resize(options.sockets);
  for (TxQueue& q : f->tx_) {
    q.msgs.reset(new mmsghdr[b]);
    q.iov.reset(new iovec[b]);
    q.buf.resize(std::size_t{b} * kRxBufferBytes);
    std::memset(q.msgs.get(), 0, sizeof(mmsghdr) * b);
    for (uint32_t i = 0; i < b; ++i) {
      q.iov[i].iov_base = q.buf.data() + std::size_t{i} * kRxBufferBytes;
      q.msgs[i].msg_hdr.msg_iov = &q.iov[i];
      q.msgs[i].msg_hdr.msg_iovlen = 1;
    }
  }
  f->rx_msgs_.reset(new mmsghdr[b]);
  f->rx_iov_.reset(new iovec[b]);
  f->rx_buf_.resize(std::size_t{b} * kRxBufferBytes);
  return f;
}

void UdpFleet::send(uint32_t s, const SockTarget& to, const uint8_t* data, std::size_t len) {
  TxQueue& q = tx_[s];
  const uint32_t i = q.count;
  len = std::min(len, kRxBufferBytes);
  std::memcpy(q.buf.data() + std::size_t{i} * kRxBufferBytes, data, len);
  q.iov[i].iov_len = len;
  q.msgs[i].msg_hdr.msg_name = const_cast<sockaddr_storage*>(&to.addr);
  q.msgs[i].msg_hdr.msg_namelen = to.len;
  if (++q.count == options_.batch) flush(s);
}

void UdpFleet::flush(uint32_t s) {
  TxQueue& q = tx_[s];
  uint32_t done = 0;
  int waits = 0;
  while (done < q.count) {
    const int n = ::sendmmsg(fds_[s], q.msgs.get() + done, q.count - done, 0);
    counters_.tx_calls.add();
    if (n > 0) {
      done += static_cast<uint32_t>(n);
      counters_.tx_datagrams.add(static_cast<uint64_t>(n));
      continue;
    }
    if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) && waits < 3) {
      // The socket buffer is full: give the kernel a moment, then retry.
      ++waits;
      counters_.tx_eagain_waits.add();
      pollfd p{fds_[s], POLLOUT, 0};
      ::poll(&p, 1, 2);
      continue;
    }
    if (errno == EINTR) continue;
    // Refused (EPERM from a filter, an ICMP error reported late, or a full
    // buffer that did not drain): the first datagram is lost; go on with
    // the rest.
    counters_.tx_dropped.add();
    ++done;
  }
  q.count = 0;
}

void UdpFleet::flush_all() {
  for (uint32_t s = 0; s < tx_.size(); ++s) {
    if (tx_[s].count != 0) flush(s);
  }
}

uint32_t UdpFleet::receive_batch(uint32_t s) {
  const uint32_t b = options_.batch;
  for (uint32_t i = 0; i < b; ++i) {
    rx_iov_[i].iov_base = rx_buf_.data() + std::size_t{i} * kRxBufferBytes;
    rx_iov_[i].iov_len = kRxBufferBytes;
    std::memset(&rx_msgs_[i].msg_hdr, 0, sizeof(rx_msgs_[i].msg_hdr));
    rx_msgs_[i].msg_hdr.msg_iov = &rx_iov_[i];
    rx_msgs_[i].msg_hdr.msg_iovlen = 1;
    rx_msgs_[i].msg_len = 0;
  }
  const int n = ::recvmmsg(fds_[s], rx_msgs_.get(), b, MSG_DONTWAIT, nullptr);
  counters_.rx_calls.add();
  if (n <= 0) return 0;  // EAGAIN, or an error reported for an earlier send: nothing to read
  counters_.rx_datagrams.add(static_cast<uint64_t>(n));
  return static_cast<uint32_t>(n);
}

std::size_t UdpFleet::rx_len(uint32_t i) const {
  return rx_msgs_[i].msg_len;
}

bool UdpFleet::rx_truncated(uint32_t i) const {
  return (rx_msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
}

void UdpFleet::wait(int timeout_ms) {
  ::poll(pollfds_.data(), pollfds_.size(), timeout_ms);
}

}  // namespace presenced::loadgen
