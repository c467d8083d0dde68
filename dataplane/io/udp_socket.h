// udp_socket.h: the UDP socket plumbing shared by the socket and io_uring
// backends: opening SO_REUSEPORT sockets, converting addresses, and the
// IP_PKTINFO / IPV6_PKTINFO control messages that tell which local address
// a datagram arrived on (so a wildcard-bound server answers from it).
//
// Owns: nothing but the functions; callers own the file descriptors.
// Concurrency: thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>

#include "dataplane/common/net_addr.h"

namespace presenced::io {

// Room for one IP_PKTINFO or IPV6_PKTINFO control message.
inline constexpr std::size_t kPktinfoCmsgSpace = CMSG_SPACE(sizeof(struct in6_pktinfo)) >
                                                         CMSG_SPACE(sizeof(struct in_pktinfo))
                                                     ? CMSG_SPACE(sizeof(struct in6_pktinfo))
                                                     : CMSG_SPACE(sizeof(struct in_pktinfo));

// A non-blocking UDP socket bound to `addr` with SO_REUSEPORT (so one per
// core can share the address), packet-info reception enabled and the kernel
// buffers sized to `buffer_bytes` (best effort). An IPv6 wildcard address is
// dual-stack. Returns the fd, or -1 with `error` naming the failing call.
int open_udp_socket(const NetAddr& addr, uint32_t buffer_bytes, std::string* error);

// The address `fd` is bound to (reveals the port picked for port 0).
NetAddr bound_address(int fd);

// Converts for a socket of family `socket_family` (AF_INET or AF_INET6): an
// IPv4 address on an IPv6 socket becomes v4-mapped. Returns the length.
socklen_t to_sockaddr(const NetAddr& a, int socket_family, sockaddr_storage& out);
// v4-mapped IPv6 addresses come back as IPv4.
NetAddr from_sockaddr(const sockaddr* sa);

// The destination address of a received datagram, from its packet-info
// control message; `port` is the socket's port. Unset family if absent.
NetAddr local_from_cmsg(const msghdr& msg, uint16_t port);

// Writes a packet-info control message that makes the kernel send from
// `local` (when it is a specific address); returns the bytes used (0 when
// none is needed). `buf` must hold kPktinfoCmsgSpace bytes.
std::size_t write_source_cmsg(const NetAddr& local, int socket_family, uint8_t* buf);

}  // namespace presenced::io
