// net_addr.h: a compact IPv4/IPv6 socket address for the data plane.
//
// Owns: nothing beyond its 20 bytes. Addresses are kept in network byte order
// (as in sockaddr_in/sockaddr_in6) and the port in host order, so backends
// convert at their edge and the engine compares and copies plain bytes.
// Concurrency: a value type.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace presenced {

struct NetAddr {
  uint8_t family = 0;  // 4 or 6; 0 = unset
  uint8_t reserved = 0;
  uint16_t port = 0;             // host byte order
  std::array<uint8_t, 16> ip{};  // IPv4 in ip[0..4), network byte order

  static NetAddr v4(uint32_t ip_network_order, uint16_t port) {
    NetAddr a;
    a.family = 4;
    a.port = port;
    std::memcpy(a.ip.data(), &ip_network_order, 4);
    return a;
  }
  static NetAddr v4_bytes(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    NetAddr r;
    r.family = 4;
    r.port = port;
    r.ip[0] = a;
    r.ip[1] = b;
    r.ip[2] = c;
    r.ip[3] = d;
    return r;
  }
  static NetAddr v6(const uint8_t bytes[16], uint16_t port) {
    NetAddr a;
    a.family = 6;
    a.port = port;
    std::memcpy(a.ip.data(), bytes, 16);
    return a;
  }

  uint32_t v4_network_order() const {
    uint32_t v;
    std::memcpy(&v, ip.data(), 4);
    return v;
  }

  friend bool operator==(const NetAddr&, const NetAddr&) = default;
};
static_assert(sizeof(NetAddr) == 20);

// "1.2.3.4:5" or "[::1]:5".
std::string to_string(const NetAddr& a);
// Parses "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6); false on any error.
bool parse_net_addr(const std::string& text, NetAddr& out);

}  // namespace presenced
