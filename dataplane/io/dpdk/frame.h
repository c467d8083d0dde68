// frame.h: the DPDK backend's view of a wire frame, on plain bytes: sorting
// a received Ethernet frame (presenced's, the kernel's, or broken) and
// writing a reply frame. No DPDK type appears here, so the parser can be
// unit-tested and fuzzed without an EAL.
//
// Owns: the L2/L3/L4 rules of the kernel-bypass path.
//
//   frame                                           class       counted as
//   ----------------------------------------------- ----------- -----------
//   IPv4/IPv6 + UDP to one of our addresses and our
//   UDP port, lengths and checksums valid           kDatagram   rx_datagrams
//   the same with a bad IP header length, a UDP
//   length that disagrees with the IP length, a
//   bad checksum (software, or the NIC's verdict),
//   an IPv6 UDP checksum of 0, or a fragment        kMalformed  rx_errors
//   (heartbeats never fragment)
//   a runt frame (< 14 bytes), a truncated IP
//   header, an IP version that disagrees with the
//   EtherType                                       kMalformed  rx_errors
//   anything else: ARP, ICMP, ICMPv6/NDP, other
//   ports or addresses, IPv6 with extension
//   headers, stacked VLANs, unknown EtherTypes      kKernel     rx_exception
//
// VLAN: one 802.1Q/802.1ad tag is understood; the reply carries the
// request's VLAN id and priority (through l2_hint). Frames may carry
// Ethernet padding after the IP packet (minimum frame size).
//
// l2_hint (engine/datagram.h) layout, opaque to everyone else:
//   bits 0..47   the peer's MAC, byte 0 of the address in bits 0..7
//   bits 48..59  VLAN id; bits 60..62 priority (PCP); bit 63 tagged
// 0 means unknown (a MAC of all zeros is not a valid source).
//
// Checksums use the ones'-complement sum of RFC 1071 in native byte order
// (32-bit loads into a 64-bit accumulator), which gives the right bytes on
// either endianness when stored with memcpy.
//
// Concurrency: pure functions; OwnAddresses is read-only after set-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/common/net_addr.h"
#include "dataplane/engine/datagram.h"

namespace presenced::io::dpdk {

inline constexpr std::size_t kMaxOwnAddresses = 16;
inline constexpr std::size_t kEtherHeader = 14;
inline constexpr std::size_t kVlanTag = 4;
inline constexpr std::size_t kIpv4Header = 20;
inline constexpr std::size_t kIpv6Header = 40;
inline constexpr std::size_t kUdpHeader = 8;
// The largest reply frame: tagged Ethernet, IPv6, UDP, a 60-byte RECONNECT.
inline constexpr std::size_t kMaxReplyFrame = kEtherHeader + kVlanTag + kIpv6Header + kUdpHeader + 60;

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeQinQ = 0x88a8;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpv6Fragment = 44;

// The server's own addresses on the port, and its UDP port.
struct OwnAddresses {
  uint16_t udp_port = 0;  // host order
  uint32_t n4 = 0;
  uint32_t n6 = 0;
  uint32_t v4[kMaxOwnAddresses] = {};  // network order
  uint8_t v6[kMaxOwnAddresses][16] = {};

  // Adds `a` (family 4 or 6); false when full or of another family.
  bool add(const NetAddr& a);
  bool has_v4(const uint8_t* ip) const;
  bool has_v6(const uint8_t* ip) const;
  // The first address of `family` (with udp_port), or family 0 if none.
  NetAddr first(uint8_t family) const;
};

enum class FrameClass : uint8_t {
  kDatagram,   // a UDP datagram for presenced
  kKernel,     // not presenced's: the kernel's, through the exception path
  kMalformed,  // broken, or addressed to presenced but unusable: dropped
};

// Why a frame is kMalformed (tests and debugging; all count as rx_errors).
enum class FrameError : uint8_t {
  kNone,
  kRunt,              // shorter than an Ethernet header
  kTruncatedIp,       // IP header (or the length it claims) beyond the frame
  kBadIpVersion,      // version field disagrees with the EtherType
  kBadIpHeader,       // IPv4 IHL < 5 or total length < IHL
  kBadIpChecksum,     // IPv4 header checksum
  kFragment,          // a UDP fragment for our address
  kBadUdpLength,      // UDP length != IP payload length, or < 8
  kBadUdpChecksum,    // UDP checksum wrong (or 0 over IPv6)
};

// A checksum verdict the NIC already made (RX checksum offload).
enum class CsumState : uint8_t { kUnknown, kGood, kBad };

// Sorts one received frame of `len` bytes. For kDatagram fills every field
// of `out` (a view into `frame`); for kMalformed sets `error`; for kKernel
// writes neither. `ip_csum` and `l4_csum` are the NIC's verdicts; kUnknown
// makes the parser check in software. `out` is written field by field with
// no read-back, so the caller may hand the engine the very array it fills.
FrameClass classify_frame(const uint8_t* frame, uint32_t len, const OwnAddresses& own,
                          CsumState ip_csum, CsumState l4_csum, engine::RxDatagram& out,
                          FrameError& error);

// The l2_hint of a frame from `mac`, optionally tagged with 802.1Q `tci`.
uint64_t make_l2_hint(const uint8_t* mac, bool tagged, uint16_t tci);
// The peer MAC of a hint (6 bytes to `mac`).
void l2_hint_mac(uint64_t hint, uint8_t* mac);

// Where the headers of a built reply end, for TX checksum offload.
struct ReplyLayout {
  uint8_t l2_len = 0;
  uint8_t l3_len = 0;
  bool ipv4 = false;
};

// Writes a reply frame into `frame` (at least kMaxReplyFrame bytes): to
// `dst` (the client) from `src` (our address and port; same family), link
// addresses `src_mac` -> the MAC and VLAN of `dst_l2` (an l2_hint, not 0),
// then `payload`. With `sw_checksums` the IPv4 header checksum and the UDP
// checksum are computed here; without, the IPv4 header checksum is 0 and
// the UDP checksum holds the pseudo-header sum, as TX checksum offload
// expects. Returns the frame length (0: families disagree, nothing
// written); fills `layout` when not null.
uint16_t build_reply_frame(uint8_t* frame, const uint8_t* src_mac, uint64_t dst_l2,
                           const NetAddr& src, const NetAddr& dst, const uint8_t* payload,
                           uint16_t payload_len, bool sw_checksums, ReplyLayout* layout);

// RFC 1071 helpers (native byte order; see the header comment).
//
// csum_add: `sum` plus the bytes of [p, p + len) as 16-bit words, returned
// as a partial sum below 2^34 (so a handful of them and 16-bit fields can
// be added in a uint64_t before csum_fold); any uint64_t is a valid seed.
// Inline, because the pieces it sums are a few dozen bytes. It adds 8-byte
// words with end-around carry (2^64 = 1 modulo 0xffff, so the
// ones'-complement sum is unchanged), then the tail.
inline uint64_t csum_add(const uint8_t* p, std::size_t len, uint64_t sum) {
  uint64_t acc = sum;
  auto add = [&acc](uint64_t w) {
    uint64_t s;
    const bool carry = __builtin_add_overflow(acc, w, &s);
    acc = s + static_cast<uint64_t>(carry);  // s <= 2^64 - 2 when carry
  };
  while (len >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    add(w);
    p += 8;
    len -= 8;
  }
  uint64_t tail = 0;  // < 2^32: the last 0-7 bytes, in their word positions
  if (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    tail += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    tail += w;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the first byte of a 16-bit word padded with zero.
    uint16_t w = 0;
    std::memcpy(&w, p, 1);
    tail += w;
  }
  add(tail);
  return (acc & 0xffffffffu) + (acc >> 32);
}

// The folded sum, not complemented.
inline uint16_t csum_fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
// The pseudo-header sum of a UDP datagram of `udp_len` bytes.
uint64_t udp_pseudo_sum(bool ipv4, const uint8_t* src_ip, const uint8_t* dst_ip, uint16_t udp_len);

}  // namespace presenced::io::dpdk
