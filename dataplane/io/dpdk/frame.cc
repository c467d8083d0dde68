#include "dataplane/io/dpdk/frame.h"

#include <bit>
#include <cstring>

#include "dataplane/common/byte_order.h"
#include "dataplane/common/compiler.h"

namespace presenced::io::dpdk {
namespace {

// A 16-bit field as the native-order sum sees it (its wire bytes loaded as
// a native integer).
constexpr uint64_t wire16(uint16_t host_value) {
  if constexpr (std::endian::native == std::endian::little) {
    return __builtin_bswap16(host_value);
  } else {
    return host_value;
  }
}

FrameClass malformed(FrameError& error, FrameError e) {
  error = e;
  return FrameClass::kMalformed;
}

// Writes a NetAddr member by member: nothing reads it back at once, so no
// wide load waits on these narrow stores.
void set_addr(NetAddr& a, uint8_t family, const uint8_t* ip, uint16_t port) {
  a.family = family;
  a.reserved = 0;
  a.port = port;
  if (family == 4) {
    std::memcpy(a.ip.data(), ip, 4);
    std::memset(a.ip.data() + 4, 0, 12);
  } else {
    std::memcpy(a.ip.data(), ip, 16);
  }
}

bool checksum_ok(CsumState hw, const uint8_t* p, std::size_t len, uint64_t seed) {
  if (hw == CsumState::kGood) return true;
  if (hw == CsumState::kBad) return false;
  return csum_fold(csum_add(p, len, seed)) == 0xffff;
}

}  // namespace

uint64_t udp_pseudo_sum(bool ipv4, const uint8_t* src_ip, const uint8_t* dst_ip, uint16_t udp_len) {
  const std::size_t n = ipv4 ? 4 : 16;
  uint64_t sum = csum_add(src_ip, n, 0);
  sum = csum_add(dst_ip, n, sum);
  return sum + wire16(kIpProtoUdp) + wire16(udp_len);
}

bool OwnAddresses::add(const NetAddr& a) {
  if (a.family == 4 && n4 < kMaxOwnAddresses) {
    std::memcpy(&v4[n4++], a.ip.data(), 4);
    return true;
  }
  if (a.family == 6 && n6 < kMaxOwnAddresses) {
    std::memcpy(v6[n6++], a.ip.data(), 16);
    return true;
  }
  return false;
}

bool OwnAddresses::has_v4(const uint8_t* ip) const {
  uint32_t v;
  std::memcpy(&v, ip, 4);
  for (uint32_t i = 0; i < n4; ++i) {
    if (v4[i] == v) return true;
  }
  return false;
}

bool OwnAddresses::has_v6(const uint8_t* ip) const {
  for (uint32_t i = 0; i < n6; ++i) {
    if (std::memcmp(v6[i], ip, 16) == 0) return true;
  }
  return false;
}

NetAddr OwnAddresses::first(uint8_t family) const {
  if (family == 4 && n4 != 0) return NetAddr::v4(v4[0], udp_port);
  if (family == 6 && n6 != 0) return NetAddr::v6(v6[0], udp_port);
  return NetAddr{};
}

uint64_t make_l2_hint(const uint8_t* mac, bool tagged, uint16_t tci) {
  uint64_t h = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&h, mac, 6);  // byte i at bits 8i..8i+7, as below
  } else {
    for (int i = 0; i < 6; ++i) h |= uint64_t{mac[i]} << (8 * i);
  }
  if (tagged) {
    const uint64_t vid = tci & 0x0fff;
    const uint64_t pcp = tci >> 13;
    h |= (vid << 48) | (pcp << 60) | (uint64_t{1} << 63);
  }
  return h;
}

void l2_hint_mac(uint64_t hint, uint8_t* mac) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(mac, &hint, 6);
  } else {
    for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(hint >> (8 * i));
  }
}

FrameClass classify_frame(const uint8_t* f, uint32_t len, const OwnAddresses& own,
                          CsumState ip_csum, CsumState l4_csum, engine::RxDatagram& out,
                          FrameError& error) {
  if (PRESENCED_UNLIKELY(len < kEtherHeader)) return malformed(error, FrameError::kRunt);
  uint16_t type = load_be<uint16_t>(f + 12);
  uint32_t off = kEtherHeader;
  bool tagged = false;
  uint16_t tci = 0;
  if (type == kEtherTypeVlan || type == kEtherTypeQinQ) {
    if (len < kEtherHeader + kVlanTag) return malformed(error, FrameError::kRunt);
    tci = load_be<uint16_t>(f + 14);
    type = load_be<uint16_t>(f + 16);
    off += kVlanTag;
    tagged = true;
    // Stacked tags (QinQ) are the kernel's business.
    if (type == kEtherTypeVlan || type == kEtherTypeQinQ) return FrameClass::kKernel;
  }

  const uint8_t* ip = f + off;
  const uint32_t room = len - off;
  const uint8_t* udp;
  uint32_t udp_room;  // bytes the IP header says follow it
  bool v4;
  if (type == kEtherTypeIpv4) {
    if (PRESENCED_UNLIKELY(room < kIpv4Header)) return malformed(error, FrameError::kTruncatedIp);
    if (!own.has_v4(ip + 16)) return FrameClass::kKernel;
    if (PRESENCED_UNLIKELY((ip[0] >> 4) != 4)) return malformed(error, FrameError::kBadIpVersion);
    const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
    const uint32_t total = load_be<uint16_t>(ip + 2);
    if (PRESENCED_UNLIKELY(ihl < kIpv4Header || total < ihl)) {
      return malformed(error, FrameError::kBadIpHeader);
    }
    if (PRESENCED_UNLIKELY(total > room)) return malformed(error, FrameError::kTruncatedIp);
    if (ip[9] != kIpProtoUdp) return FrameClass::kKernel;
    if (PRESENCED_UNLIKELY(!checksum_ok(ip_csum, ip, ihl, 0))) {
      return malformed(error, FrameError::kBadIpChecksum);
    }
    // MF set or a non-zero offset.
    if (PRESENCED_UNLIKELY((load_be<uint16_t>(ip + 6) & 0x3fff) != 0)) {
      return malformed(error, FrameError::kFragment);
    }
    udp = ip + ihl;
    udp_room = total - ihl;
    v4 = true;
  } else if (type == kEtherTypeIpv6) {
    if (PRESENCED_UNLIKELY(room < kIpv6Header)) return malformed(error, FrameError::kTruncatedIp);
    if (!own.has_v6(ip + 24)) return FrameClass::kKernel;
    if (PRESENCED_UNLIKELY((ip[0] >> 4) != 6)) return malformed(error, FrameError::kBadIpVersion);
    const uint32_t payload = load_be<uint16_t>(ip + 4);
    if (PRESENCED_UNLIKELY(payload > room - kIpv6Header)) {
      return malformed(error, FrameError::kTruncatedIp);
    }
    const uint8_t next = ip[6];
    if (next == kIpv6Fragment) {
      // Our UDP in fragments is dropped; other fragmented traffic (a large
      // ping) is the kernel's to reassemble.
      if (payload >= 8 && ip[kIpv6Header] == kIpProtoUdp) {
        return malformed(error, FrameError::kFragment);
      }
      return FrameClass::kKernel;
    }
    if (next != kIpProtoUdp) return FrameClass::kKernel;
    udp = ip + kIpv6Header;
    udp_room = payload;
    v4 = false;
  } else {
    return FrameClass::kKernel;
  }

  if (PRESENCED_UNLIKELY(udp_room < kUdpHeader)) return malformed(error, FrameError::kBadUdpLength);
  if (load_be<uint16_t>(udp + 2) != own.udp_port) return FrameClass::kKernel;
  const uint16_t udp_len = load_be<uint16_t>(udp + 4);
  if (PRESENCED_UNLIKELY(udp_len != udp_room)) return malformed(error, FrameError::kBadUdpLength);
  const uint8_t* src_ip = v4 ? ip + 12 : ip + 8;
  const uint8_t* dst_ip = v4 ? ip + 16 : ip + 24;
  uint16_t wire_csum;
  std::memcpy(&wire_csum, udp + 6, 2);
  if (wire_csum == 0) {
    // "No checksum": allowed over IPv4, forbidden over IPv6 (RFC 8200).
    if (PRESENCED_UNLIKELY(!v4)) return malformed(error, FrameError::kBadUdpChecksum);
  } else if (PRESENCED_UNLIKELY(!checksum_ok(l4_csum, udp, udp_len,
                                             udp_pseudo_sum(v4, src_ip, dst_ip, udp_len)))) {
    return malformed(error, FrameError::kBadUdpChecksum);
  }

  out.data = udp + kUdpHeader;
  out.len = static_cast<uint16_t>(udp_len - kUdpHeader);
  const uint8_t fam = v4 ? 4 : 6;
  set_addr(out.src, fam, src_ip, load_be<uint16_t>(udp));
  set_addr(out.local, fam, dst_ip, own.udp_port);
  out.l2_hint = make_l2_hint(f + 6, tagged, tci);
  return FrameClass::kDatagram;
}

uint16_t build_reply_frame(uint8_t* f, const uint8_t* src_mac, uint64_t dst_l2,
                           const NetAddr& src, const NetAddr& dst, const uint8_t* payload,
                           uint16_t payload_len, bool sw_checksums, ReplyLayout* layout) {
  if (src.family != dst.family || (dst.family != 4 && dst.family != 6)) return 0;
  const bool v4 = dst.family == 4;
  const std::size_t alen = v4 ? 4 : 16;

  // Ethernet (+ the request's VLAN tag).
  l2_hint_mac(dst_l2, f);
  std::memcpy(f + 6, src_mac, 6);
  uint32_t off = 12;
  if ((dst_l2 >> 63) != 0) {
    const uint16_t tci =
        static_cast<uint16_t>(((dst_l2 >> 60) & 0x7) << 13 | ((dst_l2 >> 48) & 0x0fff));
    store_be<uint16_t>(f + off, kEtherTypeVlan);
    store_be<uint16_t>(f + off + 2, tci);
    off += kVlanTag;
  }
  store_be<uint16_t>(f + off, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
  off += 2;
  const uint32_t l2_len = off;
  const uint32_t l3_len = v4 ? kIpv4Header : kIpv6Header;

  // The checksums are summed from the values (the addresses in the
  // NetAddrs, the payload in the caller's buffer), not read back from the
  // frame: loads right after the narrow stores that wrote those bytes would
  // stall on store forwarding.
  const uint16_t udp_len = static_cast<uint16_t>(kUdpHeader + payload_len);
  const uint64_t addr_sum = csum_add(src.ip.data(), alen, csum_add(dst.ip.data(), alen, 0));
  uint8_t* ip = f + off;
  if (v4) {
    const uint16_t total = static_cast<uint16_t>(kIpv4Header + udp_len);
    ip[0] = 0x45;
    ip[1] = 0;
    store_be<uint16_t>(ip + 2, total);
    store_be<uint16_t>(ip + 4, 0);       // identification: 0 is fine with DF (RFC 6864)
    store_be<uint16_t>(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = kIpProtoUdp;
    std::memcpy(ip + 12, src.ip.data(), 4);
    std::memcpy(ip + 16, dst.ip.data(), 4);
    uint16_t c = 0;
    if (sw_checksums) {
      const uint64_t sum = wire16(0x4500) + wire16(total) + wire16(0x4000) +
                           wire16(uint16_t{64} << 8 | kIpProtoUdp) + addr_sum;
      c = static_cast<uint16_t>(~csum_fold(sum));
    }
    std::memcpy(ip + 10, &c, 2);
  } else {
    store_be<uint32_t>(ip, 0x60000000);  // version 6, traffic class 0, flow 0
    store_be<uint16_t>(ip + 4, udp_len);
    ip[6] = kIpProtoUdp;
    ip[7] = 64;
    std::memcpy(ip + 8, src.ip.data(), 16);
    std::memcpy(ip + 24, dst.ip.data(), 16);
  }
  uint8_t* udp = ip + l3_len;
  store_be<uint16_t>(udp, src.port);
  store_be<uint16_t>(udp + 2, dst.port);
  store_be<uint16_t>(udp + 4, udp_len);
  std::memcpy(udp + kUdpHeader, payload, payload_len);
  // Pseudo-header: addresses, protocol, length.
  const uint64_t pseudo = addr_sum + wire16(kIpProtoUdp) + wire16(udp_len);
  uint16_t c;
  if (sw_checksums) {
    const uint64_t sum = pseudo + wire16(src.port) + wire16(dst.port) + wire16(udp_len) +
                         csum_add(payload, payload_len, 0);
    c = static_cast<uint16_t>(~csum_fold(sum));
    if (c == 0) c = 0xffff;  // 0 means "no checksum"
  } else {
    c = csum_fold(pseudo);  // the NIC adds the rest
  }
  std::memcpy(udp + 6, &c, 2);
  if (layout != nullptr) {
    layout->l2_len = static_cast<uint8_t>(l2_len);
    layout->l3_len = static_cast<uint8_t>(l3_len);
    layout->ipv4 = v4;
  }
  return static_cast<uint16_t>(l2_len + l3_len + udp_len);
}

}  // namespace presenced::io::dpdk
