// dpdk_frame_test.cc: the DPDK backend's frame parser and reply builder
// (dataplane/io/dpdk/frame.h) on plain bytes, no EAL: every class of frame
// of the table in frame.h, and reply frames checked against the
// independent implementation in dpdk_test_frames.h.
#include "dataplane/io/dpdk/frame.h"

#include <random>

#include <gtest/gtest.h>

#include "tests/dataplane/io/dpdk_test_frames.h"

namespace presenced::io::dpdk {
namespace {

using presenced::testing::Mac;
using presenced::testing::parse_udp_frame;
using presenced::testing::udp_frame;
using presenced::testing::UdpFrameSpec;

const NetAddr kOwn4 = NetAddr::v4_bytes(10, 0, 0, 1, 7460);
const NetAddr kClient4 = NetAddr::v4_bytes(10, 0, 0, 2, 40000);
NetAddr v6(uint8_t last, uint16_t port) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
  b[15] = last;
  return NetAddr::v6(b, port);
}
const NetAddr kOwn6 = v6(1, 7460);
const NetAddr kClient6 = v6(2, 40000);
const Mac kPortMac{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01};

OwnAddresses own() {
  OwnAddresses o;
  o.udp_port = 7460;
  o.add(kOwn4);
  o.add(kOwn6);
  return o;
}

UdpFrameSpec spec(const NetAddr& from, const NetAddr& to) {
  UdpFrameSpec s;
  s.dst_mac = kPortMac;
  s.src = from;
  s.dst = to;
  s.payload.assign(40, 0x5a);
  return s;
}

// What the classifier returns for one frame.
struct RxFrame {
  engine::RxDatagram d;
  FrameError error = FrameError::kNone;
};

FrameClass classify(const std::vector<uint8_t>& f, RxFrame& out,
                    CsumState ip = CsumState::kUnknown, CsumState l4 = CsumState::kUnknown) {
  return classify_frame(f.data(), static_cast<uint32_t>(f.size()), own(), ip, l4, out.d,
                        out.error);
}

TEST(DpdkFrameTest, Ipv4DatagramForUs) {
  const auto f = udp_frame(spec(kClient4, kOwn4));
  RxFrame r;
  ASSERT_EQ(classify(f, r), FrameClass::kDatagram);
  EXPECT_EQ(r.d.src, kClient4);
  EXPECT_EQ(r.d.local, kOwn4);
  EXPECT_EQ(r.d.len, 40);
  EXPECT_EQ(r.d.data, f.data() + 14 + 20 + 8);
  uint8_t mac[6];
  l2_hint_mac(r.d.l2_hint, mac);
  EXPECT_EQ(std::memcmp(mac, f.data() + 6, 6), 0);
  EXPECT_EQ(r.d.l2_hint >> 48, 0u) << "untagged";
}

TEST(DpdkFrameTest, Ipv6DatagramForUs) {
  const auto f = udp_frame(spec(kClient6, kOwn6));
  RxFrame r;
  ASSERT_EQ(classify(f, r), FrameClass::kDatagram);
  EXPECT_EQ(r.d.src, kClient6);
  EXPECT_EQ(r.d.local, kOwn6);
  EXPECT_EQ(r.d.data, f.data() + 14 + 40 + 8);
}

TEST(DpdkFrameTest, VlanTaggedDatagramKeepsItsTagInTheHint) {
  UdpFrameSpec s = spec(kClient4, kOwn4);
  s.vlan = true;
  s.tci = static_cast<uint16_t>(5 << 13 | 42);
  const auto f = udp_frame(s);
  RxFrame r;
  ASSERT_EQ(classify(f, r), FrameClass::kDatagram);
  EXPECT_EQ(r.d.data, f.data() + 18 + 20 + 8);
  EXPECT_EQ((r.d.l2_hint >> 48) & 0xfff, 42u);
  EXPECT_EQ((r.d.l2_hint >> 60) & 0x7, 5u);
  EXPECT_EQ(r.d.l2_hint >> 63, 1u);
}

TEST(DpdkFrameTest, EthernetPaddingAfterTheIpPacketIsFine) {
  UdpFrameSpec s = spec(kClient4, kOwn4);
  s.payload.assign(4, 1);  // 14 + 20 + 12 = 46 bytes, padded to 60
  auto f = udp_frame(s);
  f.resize(60, 0);
  RxFrame r;
  ASSERT_EQ(classify(f, r), FrameClass::kDatagram);
  EXPECT_EQ(r.d.len, 4);
}

TEST(DpdkFrameTest, ZeroUdpChecksumIsAcceptedOverIpv4OnlyOverIpv4) {
  UdpFrameSpec s4 = spec(kClient4, kOwn4);
  s4.zero_udp_csum = true;
  RxFrame r;
  EXPECT_EQ(classify(udp_frame(s4), r), FrameClass::kDatagram);
  UdpFrameSpec s6 = spec(kClient6, kOwn6);
  s6.zero_udp_csum = true;
  EXPECT_EQ(classify(udp_frame(s6), r), FrameClass::kMalformed);
  EXPECT_EQ(r.error, FrameError::kBadUdpChecksum);
}

TEST(DpdkFrameTest, NotOursGoesToTheKernel) {
  RxFrame r;
  // ARP request (broadcast).
  std::vector<uint8_t> arp(42, 0);
  for (int i = 0; i < 6; ++i) arp[static_cast<std::size_t>(i)] = 0xff;
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(classify(arp, r), FrameClass::kKernel);
  // ICMP and TCP to our address.
  UdpFrameSpec icmp = spec(kClient4, kOwn4);
  icmp.proto = 1;
  EXPECT_EQ(classify(udp_frame(icmp), r), FrameClass::kKernel);
  UdpFrameSpec tcp = spec(kClient6, kOwn6);
  tcp.proto = 6;
  EXPECT_EQ(classify(udp_frame(tcp), r), FrameClass::kKernel);
  // ICMPv6 (NDP) to our address.
  UdpFrameSpec nd = spec(kClient6, kOwn6);
  nd.proto = 58;
  EXPECT_EQ(classify(udp_frame(nd), r), FrameClass::kKernel);
  // UDP to another port, or another address.
  EXPECT_EQ(classify(udp_frame(spec(kClient4, NetAddr::v4_bytes(10, 0, 0, 1, 53))), r),
            FrameClass::kKernel);
  EXPECT_EQ(classify(udp_frame(spec(kClient4, NetAddr::v4_bytes(10, 0, 0, 9, 7460))), r),
            FrameClass::kKernel);
  EXPECT_EQ(classify(udp_frame(spec(kClient6, v6(9, 7460))), r), FrameClass::kKernel);
  // Stacked VLAN tags, unknown EtherType.
  UdpFrameSpec q = spec(kClient4, kOwn4);
  q.vlan = true;
  auto qinq = udp_frame(q);
  qinq[16] = 0x81;
  qinq[17] = 0x00;
  EXPECT_EQ(classify(qinq, r), FrameClass::kKernel);
  auto other = udp_frame(spec(kClient4, kOwn4));
  other[12] = 0x88;
  other[13] = 0xcc;  // LLDP
  EXPECT_EQ(classify(other, r), FrameClass::kKernel);
  // A fragmented non-UDP IPv6 packet (a large ping) is the kernel's.
  UdpFrameSpec frag6 = spec(kClient6, kOwn6);
  frag6.fragment = true;
  frag6.proto = 58;
  EXPECT_EQ(classify(udp_frame(frag6), r), FrameClass::kKernel);
}

struct Broken {
  const char* name;
  std::vector<uint8_t> frame;
  FrameError error;
};

std::vector<Broken> broken_frames() {
  std::vector<Broken> b;
  const auto good4 = udp_frame(spec(kClient4, kOwn4));
  const auto good6 = udp_frame(spec(kClient6, kOwn6));
  auto with = [&](const char* name, std::vector<uint8_t> f, FrameError e) {
    b.push_back({name, std::move(f), e});
  };
  with("runt", std::vector<uint8_t>(good4.begin(), good4.begin() + 13), FrameError::kRunt);
  with("truncated ipv4 header", std::vector<uint8_t>(good4.begin(), good4.begin() + 14 + 19),
       FrameError::kTruncatedIp);
  with("truncated ipv6 header", std::vector<uint8_t>(good6.begin(), good6.begin() + 14 + 39),
       FrameError::kTruncatedIp);
  with("ipv4 frame cut short", std::vector<uint8_t>(good4.begin(), good4.end() - 1),
       FrameError::kTruncatedIp);
  with("ipv6 frame cut short", std::vector<uint8_t>(good6.begin(), good6.end() - 1),
       FrameError::kTruncatedIp);
  {
    auto f = good4;
    f[14] = 0x44;  // IHL 4
    with("ihl < 5", f, FrameError::kBadIpHeader);
  }
  {
    auto f = good4;
    f[14] = 0x65;  // version 6 in an IPv4 EtherType
    with("ipv4 version", f, FrameError::kBadIpVersion);
  }
  {
    auto f = good4;
    presenced::testing::put16(f, 16, 19);  // total length < IHL
    with("total length < ihl", f, FrameError::kBadIpHeader);
  }
  {
    auto f = good4;
    f[24] ^= 1;  // header checksum
    with("ipv4 header checksum", f, FrameError::kBadIpChecksum);
  }
  {
    UdpFrameSpec s = spec(kClient4, kOwn4);
    s.fragment = true;
    with("ipv4 fragment", udp_frame(s), FrameError::kFragment);
  }
  {
    UdpFrameSpec s = spec(kClient6, kOwn6);
    s.fragment = true;
    with("ipv6 udp fragment", udp_frame(s), FrameError::kFragment);
  }
  {
    auto f = good4;
    presenced::testing::put16(f, 14 + 20 + 4, 47);  // UDP length != IP payload
    with("udp length mismatch v4", f, FrameError::kBadUdpLength);
  }
  {
    auto f = good6;
    presenced::testing::put16(f, 14 + 40 + 4, 49);
    with("udp length mismatch v6", f, FrameError::kBadUdpLength);
  }
  {
    auto f = good4;
    f.back() ^= 1;  // payload changed, checksum not
    with("udp checksum v4", f, FrameError::kBadUdpChecksum);
  }
  {
    auto f = good6;
    f[14 + 8] ^= 1;  // source address changed (pseudo-header)
    with("udp checksum v6", f, FrameError::kBadUdpChecksum);
  }
  {
    // IP total length leaves no room for a UDP header.
    UdpFrameSpec s = spec(kClient4, kOwn4);
    s.payload.clear();
    auto f = udp_frame(s);
    presenced::testing::put16(f, 16, 24);
    f[24] = 0;
    f[25] = 0;
    presenced::testing::put16(f, 24, static_cast<uint16_t>(~presenced::testing::be_sum(f.data() + 14, 20)));
    with("no room for udp", f, FrameError::kBadUdpLength);
  }
  return b;
}

TEST(DpdkFrameTest, MalformedFramesForUsAreDroppedWithTheirReason) {
  for (const Broken& b : broken_frames()) {
    RxFrame r;
    EXPECT_EQ(classify(b.frame, r), FrameClass::kMalformed) << b.name;
    EXPECT_EQ(r.error, b.error) << b.name;
  }
}

TEST(DpdkFrameTest, NicChecksumVerdictsReplaceTheSoftwareCheck) {
  const auto good = udp_frame(spec(kClient4, kOwn4));
  RxFrame r;
  EXPECT_EQ(classify(good, r, CsumState::kBad, CsumState::kUnknown), FrameClass::kMalformed);
  EXPECT_EQ(r.error, FrameError::kBadIpChecksum);
  EXPECT_EQ(classify(good, r, CsumState::kGood, CsumState::kBad), FrameClass::kMalformed);
  EXPECT_EQ(r.error, FrameError::kBadUdpChecksum);
  auto wrong = good;
  wrong[24] ^= 1;
  wrong.back() ^= 1;
  EXPECT_EQ(classify(wrong, r, CsumState::kGood, CsumState::kGood), FrameClass::kDatagram)
      << "the NIC said both are good";
}

TEST(DpdkFrameTest, RandomBytesNeverCrashAndRarelyPass) {
  std::mt19937_64 rng(7);
  const auto good = udp_frame(spec(kClient4, kOwn4));
  for (int i = 0; i < 200000; ++i) {
    std::vector<uint8_t> f;
    if (i % 2 == 0) {
      f.resize(rng() % 130);
      for (auto& x : f) x = static_cast<uint8_t>(rng());
    } else {
      f = good;  // a valid frame with a few bytes flipped
      for (int k = 0; k < 3; ++k) f[rng() % f.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      f.resize(std::min<std::size_t>(f.size(), rng() % 100 + 1));
    }
    RxFrame r;
    const FrameClass c = classify(f, r);
    if (c == FrameClass::kDatagram) {
      ASSERT_GE(r.d.data, f.data());
      ASSERT_LE(r.d.data + r.d.len, f.data() + f.size());
    }
  }
}

TEST(DpdkFrameTest, ReplyFramesHaveCorrectHeadersAndChecksums) {
  const std::vector<uint8_t> payload(40, 0xa5);
  const Mac client{0x02, 0x10, 0x20, 0x30, 0x40, 0x50};
  for (bool tagged : {false, true}) {
    for (int fam : {4, 6}) {
      const NetAddr src = fam == 4 ? kOwn4 : kOwn6;
      const NetAddr dst = fam == 4 ? kClient4 : kClient6;
      const uint64_t hint = make_l2_hint(client.data(), tagged, static_cast<uint16_t>(3 << 13 | 7));
      uint8_t buf[kMaxReplyFrame];
      ReplyLayout l;
      const uint16_t len = build_reply_frame(buf, kPortMac.data(), hint, src, dst, payload.data(),
                                             40, true, &l);
      ASSERT_NE(len, 0);
      const std::vector<uint8_t> f(buf, buf + len);
      const auto p = parse_udp_frame(f);
      ASSERT_TRUE(p.ok) << p.why;
      EXPECT_EQ(p.dst_mac, client);
      EXPECT_EQ(p.src_mac, kPortMac);
      EXPECT_EQ(p.vlan, tagged);
      if (tagged) {
        EXPECT_EQ(p.tci, 3 << 13 | 7);
      }
      EXPECT_EQ(p.src, src);
      EXPECT_EQ(p.dst, dst);
      EXPECT_GT(p.ttl, 0);
      EXPECT_TRUE(p.ip_csum_ok);
      EXPECT_TRUE(p.udp_csum_ok);
      EXPECT_EQ(p.payload, payload);
      EXPECT_EQ(l.l2_len, tagged ? 18 : 14);
      EXPECT_EQ(l.l3_len, fam == 4 ? 20 : 40);
      // And the backend's own parser takes its own output (as a request to
      // the client's address).
      OwnAddresses client_own;
      client_own.udp_port = dst.port;
      client_own.add(dst);
      RxFrame r;
      EXPECT_EQ(classify_frame(f.data(), static_cast<uint32_t>(f.size()), client_own,
                               CsumState::kUnknown, CsumState::kUnknown, r.d, r.error),
                FrameClass::kDatagram);
    }
  }
}

TEST(DpdkFrameTest, OffloadRepliesCarryThePseudoHeaderSum) {
  const std::vector<uint8_t> payload(40, 1);
  const Mac client{0x02, 1, 2, 3, 4, 5};
  uint8_t buf[kMaxReplyFrame];
  ReplyLayout l;
  const uint16_t len = build_reply_frame(buf, kPortMac.data(), make_l2_hint(client.data(), false, 0),
                                         kOwn4, kClient4, payload.data(), 40, false, &l);
  ASSERT_EQ(len, 14 + 20 + 8 + 40);
  EXPECT_TRUE(l.ipv4);
  EXPECT_EQ(buf[24], 0);
  EXPECT_EQ(buf[25], 0) << "IPv4 header checksum left to the NIC";
  std::vector<uint8_t> ph(kOwn4.ip.begin(), kOwn4.ip.begin() + 4);
  ph.insert(ph.end(), kClient4.ip.begin(), kClient4.ip.begin() + 4);
  const uint16_t expect = presenced::testing::be_sum(ph.data(), ph.size(), 17 + 48);
  const uint16_t got = static_cast<uint16_t>(buf[14 + 20 + 6] << 8 | buf[14 + 20 + 7]);
  EXPECT_EQ(got, expect);
}

TEST(DpdkFrameTest, FamiliesMustAgree) {
  uint8_t buf[kMaxReplyFrame];
  const uint8_t m[6] = {2, 0, 0, 0, 0, 1};
  EXPECT_EQ(build_reply_frame(buf, m, make_l2_hint(m, false, 0), kOwn4, kClient6, buf, 0, true,
                              nullptr),
            0);
}

// The checksum helpers work in native order: the bytes of their result in
// memory are the big-endian sum. Returns that big-endian value.
uint16_t wire_value(uint16_t native_sum) {
  uint8_t bytes[2];
  std::memcpy(bytes, &native_sum, 2);
  return static_cast<uint16_t>(bytes[0] << 8 | bytes[1]);
}

TEST(DpdkFrameTest, ChecksumHelpersMatchThePlainImplementation) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> b(rng() % 200);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    const uint16_t plain = presenced::testing::be_sum(b.data(), b.size());
    const uint16_t ours = csum_fold(csum_add(b.data(), b.size(), 0));
    EXPECT_EQ(wire_value(ours), plain);
  }
}

TEST(DpdkFrameTest, ChecksumPartialSumsChainLikeOneSum) {
  // A frame summed in pieces (even lengths at random split points, the last
  // piece of any length) with each piece's partial sum seeding the next,
  // and the pieces' partial sums added in a uint64_t, both fold to the sum
  // of the whole: the way classify_frame and build_reply_frame combine the
  // pseudo-header, header fields and payload.
  std::mt19937_64 rng(12);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> b(rng() % 300);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    const uint16_t plain = presenced::testing::be_sum(b.data(), b.size());
    // Even lengths: an odd piece would shift the next one's byte pairs.
    std::size_t off = 0;
    uint64_t chained = rng();  // any seed: its own folded value is added
    const uint16_t seed_folded = csum_fold(chained);
    uint64_t added = 0;
    while (off < b.size()) {
      std::size_t n = std::min<std::size_t>(b.size() - off, 2 * (rng() % 40));
      if (n == 0) n = b.size() - off;
      chained = csum_add(b.data() + off, n, chained);
      added += csum_add(b.data() + off, n, 0);
      off += n;
    }
    const uint16_t whole = csum_fold(csum_add(b.data(), b.size(), 0));
    EXPECT_EQ(csum_fold(added), whole);
    // Ones'-complement values compare modulo 0xffff (0 and 0xffff are both zero).
    const uint16_t unseeded =
        csum_fold(uint64_t{csum_fold(chained)} + static_cast<uint16_t>(~seed_folded));
    EXPECT_EQ(unseeded % 0xffff, whole % 0xffff);
    EXPECT_EQ(wire_value(whole), plain);
  }
}

}  // namespace
}  // namespace presenced::io::dpdk
