#include "dataplane/io/udp_socket.h"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>

#include <fcntl.h>
#include <unistd.h>

namespace presenced::io {
namespace {

bool is_v4_mapped(const uint8_t* a) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, kPrefix, 12) == 0;
}

bool is_wildcard(const NetAddr& a) {
  const std::size_t n = a.family == 4 ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i) {
    if (a.ip[i] != 0) return false;
  }
  return true;
}

std::string os_error(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

int open_udp_socket(const NetAddr& addr, uint32_t buffer_bytes, std::string* error) {
  const int family = addr.family == 6 ? AF_INET6 : AF_INET;
  const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) {
    if (error != nullptr) *error = os_error("socket");
    return -1;
  }
  auto fail = [&](const char* what) {
    if (error != nullptr) *error = os_error(what) + " (" + to_string(addr) + ")";
    close(fd);
    return -1;
  };
  const int one = 1;
  const int zero = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  if (family == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) {
      return fail("setsockopt(IPV6_V6ONLY)");
    }
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0) {
      return fail("setsockopt(IPV6_RECVPKTINFO)");
    }
  }
  // Also for IPv4 datagrams on a dual-stack socket.
  if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0 && family == AF_INET) {
    return fail("setsockopt(IP_PKTINFO)");
  }
  const int size = static_cast<int>(buffer_bytes);
  // Best effort: the kernel caps these at net.core.{r,w}mem_max.
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(addr, family, ss);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) return fail("bind");
  return fd;
}

NetAddr bound_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return NetAddr{};
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

socklen_t to_sockaddr(const NetAddr& a, int socket_family, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (socket_family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&out);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a.port);
    if (a.family == 4) {
      s6->sin6_addr.s6_addr[10] = 0xff;
      s6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&s6->sin6_addr.s6_addr[12], a.ip.data(), 4);
    } else {
      std::memcpy(&s6->sin6_addr, a.ip.data(), 16);
    }
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&out);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(a.port);
  std::memcpy(&s4->sin_addr, a.ip.data(), 4);
  return sizeof(sockaddr_in);
}

NetAddr from_sockaddr(const sockaddr* sa) {
  NetAddr a;
  if (sa->sa_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(sa);
    a.family = 4;
    a.port = ntohs(s4->sin_port);
    std::memcpy(a.ip.data(), &s4->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a.port = ntohs(s6->sin6_port);
    if (is_v4_mapped(s6->sin6_addr.s6_addr)) {
      a.family = 4;
      std::memcpy(a.ip.data(), &s6->sin6_addr.s6_addr[12], 4);
    } else {
      a.family = 6;
      std::memcpy(a.ip.data(), &s6->sin6_addr, 16);
    }
  }
  return a;
}

NetAddr local_from_cmsg(const msghdr& msg, uint16_t port) {
  NetAddr a;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      a.family = 4;
      // ipi_spec_dst: the local address the reply should come from (differs
      // from the header destination ipi_addr for broadcast datagrams).
      std::memcpy(a.ip.data(), &pi.ipi_spec_dst, 4);
      a.port = port;
      return a;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      if (is_v4_mapped(pi.ipi6_addr.s6_addr)) {
        a.family = 4;
        std::memcpy(a.ip.data(), &pi.ipi6_addr.s6_addr[12], 4);
      } else {
        a.family = 6;
        std::memcpy(a.ip.data(), &pi.ipi6_addr, 16);
      }
      a.port = port;
      return a;
    }
  }
  return a;
}

std::size_t write_source_cmsg(const NetAddr& local, int socket_family, uint8_t* buf) {
  if (local.family == 0 || is_wildcard(local)) return 0;
  std::memset(buf, 0, kPktinfoCmsgSpace);
  auto* c = reinterpret_cast<cmsghdr*>(buf);
  // An IPv4 source is set with IP_PKTINFO even on a dual-stack IPv6 socket:
  // the kernel hands v4-mapped destinations to the IPv4 send path.
  if (local.family == 6 && socket_family == AF_INET6) {
    in6_pktinfo pi{};
    std::memcpy(&pi.ipi6_addr, local.ip.data(), 16);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof pi);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    return CMSG_SPACE(sizeof pi);
  }
  if (local.family != 4) return 0;
  in_pktinfo pi{};
  std::memcpy(&pi.ipi_spec_dst, local.ip.data(), 4);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof pi);
  std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  return CMSG_SPACE(sizeof pi);
}

}  // namespace presenced::io
