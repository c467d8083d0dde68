// udp_peer.h: an ordinary kernel UDP socket for integration tests, with
// bounded receive waits.
#pragma once

#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <poll.h>
#include <unistd.h>

#include "dataplane/common/net_addr.h"

namespace presenced::testing {

class UdpPeer {
 public:
  explicit UdpPeer(int family = AF_INET) : family_(family) {
    fd_ = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    }
    if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      throw std::runtime_error("bind failed");
    }
  }
  ~UdpPeer() { close(fd_); }
  UdpPeer(const UdpPeer&) = delete;
  UdpPeer& operator=(const UdpPeer&) = delete;

  uint16_t port() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    return family_ == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                              : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }

  void send_to(const NetAddr& to, const uint8_t* data, std::size_t len) {
    sockaddr_storage ss{};
    socklen_t sl;
    if (family_ == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(to.port);
      std::memcpy(&a->sin_addr, to.ip.data(), 4);
      sl = sizeof(sockaddr_in);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(to.port);
      std::memcpy(&a->sin6_addr, to.ip.data(), 16);
      sl = sizeof(sockaddr_in6);
    }
    sendto(fd_, data, len, 0, reinterpret_cast<sockaddr*>(&ss), sl);
  }
  void send_to(const NetAddr& to, const std::vector<uint8_t>& data) {
    send_to(to, data.data(), data.size());
  }

  // The next datagram within `timeout`, or nullopt.
  std::optional<std::vector<uint8_t>> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    std::vector<uint8_t> buf(2048);
    const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

 private:
  int fd_ = -1;
  int family_;
};

}  // namespace presenced::testing
