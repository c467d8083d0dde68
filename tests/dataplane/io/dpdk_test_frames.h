// dpdk_test_frames.h: Ethernet/VLAN/IPv4/IPv6/UDP frames for the DPDK
// backend's tests, built and checked here with a deliberately plain
// implementation (big-endian 16-bit words, one at a time), independent of
// dataplane/io/dpdk/frame.cc.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/common/net_addr.h"

namespace presenced::testing {

using Mac = std::array<uint8_t, 6>;

inline uint16_t get16(const std::vector<uint8_t>& b, std::size_t off) {
  return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}
inline void put16(std::vector<uint8_t>& b, std::size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}

// RFC 1071 sum of big-endian words (an odd last byte is padded), folded.
inline uint16_t be_sum(const uint8_t* p, std::size_t len, uint32_t seed = 0) {
  uint32_t s = seed;
  for (std::size_t i = 0; i + 1 < len; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len % 2 == 1) s += static_cast<uint32_t>(p[len - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

inline uint32_t pseudo_seed(const uint8_t* src, const uint8_t* dst, std::size_t ip_len,
                            uint16_t udp_len) {
  std::vector<uint8_t> ph(src, src + ip_len);
  ph.insert(ph.end(), dst, dst + ip_len);
  return be_sum(ph.data(), ph.size()) + 17u + udp_len;
}

struct UdpFrameSpec {
  Mac src_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  Mac dst_mac{};
  bool vlan = false;
  uint16_t tci = 0;
  NetAddr src;  // with port
  NetAddr dst;  // with port
  std::vector<uint8_t> payload;
  uint8_t proto = 17;
  bool fragment = false;     // IPv4 MF flag / IPv6 fragment header
  bool zero_udp_csum = false;
};

// Ethernet [+ 802.1Q] + IPv4/IPv6 + UDP + payload, checksums correct.
inline std::vector<uint8_t> udp_frame(const UdpFrameSpec& s) {
  std::vector<uint8_t> f(s.dst_mac.begin(), s.dst_mac.end());
  f.insert(f.end(), s.src_mac.begin(), s.src_mac.end());
  if (s.vlan) {
    f.resize(f.size() + 4);
    put16(f, 12, 0x8100);
    put16(f, 14, s.tci);
  }
  const bool v4 = s.dst.family == 4;
  const std::size_t l2 = f.size() + 2;
  f.resize(l2);
  put16(f, l2 - 2, v4 ? 0x0800 : 0x86dd);
  const uint16_t udp_len = static_cast<uint16_t>(8 + s.payload.size());
  const std::size_t ip_len = v4 ? 20 : (s.fragment ? 48 : 40);
  f.resize(l2 + ip_len + udp_len);
  uint8_t* ip = f.data() + l2;
  if (v4) {
    ip[0] = 0x45;
    put16(f, l2 + 2, static_cast<uint16_t>(20 + udp_len));
    put16(f, l2 + 4, 0x1234);
    put16(f, l2 + 6, s.fragment ? 0x2000 : 0x4000);
    ip[8] = 64;
    ip[9] = s.proto;
    std::memcpy(ip + 12, s.src.ip.data(), 4);
    std::memcpy(ip + 16, s.dst.ip.data(), 4);
    put16(f, l2 + 10, static_cast<uint16_t>(~be_sum(ip, 20)));
  } else {
    ip[0] = 0x60;
    put16(f, l2 + 4, static_cast<uint16_t>(udp_len + (s.fragment ? 8 : 0)));
    ip[6] = s.fragment ? 44 : s.proto;
    ip[7] = 64;
    std::memcpy(ip + 8, s.src.ip.data(), 16);
    std::memcpy(ip + 24, s.dst.ip.data(), 16);
    if (s.fragment) {
      ip[40] = s.proto;  // fragment header: next header, offset 0, M flag
      ip[43] = 1;
    }
  }
  const std::size_t u = l2 + ip_len;
  put16(f, u, s.src.port);
  put16(f, u + 2, s.dst.port);
  put16(f, u + 4, udp_len);
  std::memcpy(f.data() + u + 8, s.payload.data(), s.payload.size());
  if (!s.zero_udp_csum) {
    const std::size_t alen = v4 ? 4 : 16;
    const uint8_t* sip = v4 ? ip + 12 : ip + 8;
    const uint8_t* dip = v4 ? ip + 16 : ip + 24;
    uint16_t c = static_cast<uint16_t>(
        ~be_sum(f.data() + u, udp_len, pseudo_seed(sip, dip, alen, udp_len)));
    if (c == 0) c = 0xffff;
    put16(f, u + 6, c);
  }
  return f;
}

// A parsed reply frame (what the tests check).
struct ParsedUdp {
  bool ok = false;
  std::string why;
  Mac dst_mac{};
  Mac src_mac{};
  bool vlan = false;
  uint16_t tci = 0;
  NetAddr src;
  NetAddr dst;
  uint8_t ttl = 0;
  bool ip_csum_ok = false;
  bool udp_csum_ok = false;
  std::vector<uint8_t> payload;
};

inline ParsedUdp parse_udp_frame(const std::vector<uint8_t>& f) {
  ParsedUdp p;
  auto bad = [&](const char* why) {
    p.why = why;
    return p;
  };
  if (f.size() < 14) return bad("runt");
  std::memcpy(p.dst_mac.data(), f.data(), 6);
  std::memcpy(p.src_mac.data(), f.data() + 6, 6);
  std::size_t off = 12;
  uint16_t type = get16(f, off);
  if (type == 0x8100) {
    p.vlan = true;
    p.tci = get16(f, off + 2);
    off += 4;
    type = get16(f, off);
  }
  off += 2;
  const uint8_t* ip = f.data() + off;
  std::size_t u;
  uint16_t udp_len;
  if (type == 0x0800) {
    if (f.size() < off + 20) return bad("short ipv4");
    if (ip[0] != 0x45) return bad("ipv4 version/ihl");
    if (ip[9] != 17) return bad("not udp");
    const uint16_t total = get16(f, off + 2);
    if (off + total != f.size()) return bad("ipv4 total length");
    p.ttl = ip[8];
    p.ip_csum_ok = be_sum(ip, 20) == 0xffff;
    p.src = NetAddr::v4_bytes(ip[12], ip[13], ip[14], ip[15], 0);
    p.dst = NetAddr::v4_bytes(ip[16], ip[17], ip[18], ip[19], 0);
    u = off + 20;
    udp_len = get16(f, u + 4);
    if (udp_len != total - 20) return bad("udp length");
    const uint16_t wire = get16(f, u + 6);
    p.udp_csum_ok =
        wire != 0 && be_sum(f.data() + u, udp_len, pseudo_seed(ip + 12, ip + 16, 4, udp_len)) ==
                         0xffff;
  } else if (type == 0x86dd) {
    if (f.size() < off + 40) return bad("short ipv6");
    if ((ip[0] >> 4) != 6) return bad("ipv6 version");
    if (ip[6] != 17) return bad("not udp");
    const uint16_t plen = get16(f, off + 4);
    if (off + 40 + plen != f.size()) return bad("ipv6 payload length");
    p.ttl = ip[7];
    p.ip_csum_ok = true;  // IPv6 has none
    p.src = NetAddr::v6(ip + 8, 0);
    p.dst = NetAddr::v6(ip + 24, 0);
    u = off + 40;
    udp_len = get16(f, u + 4);
    if (udp_len != plen) return bad("udp length");
    p.udp_csum_ok = get16(f, u + 6) != 0 &&
                    be_sum(f.data() + u, udp_len, pseudo_seed(ip + 8, ip + 24, 16, udp_len)) ==
                        0xffff;
  } else {
    return bad("not ip");
  }
  p.src.port = get16(f, u);
  p.dst.port = get16(f, u + 2);
  p.payload.assign(f.begin() + static_cast<std::ptrdiff_t>(u + 8), f.end());
  p.ok = true;
  return p;
}

}  // namespace presenced::testing
