// dpdk_backend_test.cc: the DPDK backend in-process, without a NIC: a
// net_ring port (dpdk_test_port.h) is fed crafted Ethernet frames and its
// TX ring is read back; a second ring port stands in for the kernel's side
// of the exception path ("port:N"). A real Engine (engine_harness.h)
// answers, driven by a receive -> process -> send loop like the core loop.
//
// Checked: valid heartbeats over IPv4, IPv6 and 802.1Q get ACK frames with
// MACs, addresses and ports swapped, correct IPv4 header and UDP checksums
// (verified with dpdk_test_frames.h's independent code) and a MAC that
// verifies with the session key; malformed frames, bad MACs and non-UDP
// frames produce nothing on the port (the non-UDP ones reach the kernel
// side instead); kernel frames go out of the port; pushes without a link
// hint use the neighbour cache; counters.
//
// The EAL runs with --no-huge --no-pci (no hugepages, no NIC needed) and
// its own --file-prefix. Every loop is bounded.
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "dataplane/auth/session_key.h"
#include "dataplane/io/dpdk/dpdk_eal.h"
#include "dataplane/io/dpdk/dpdk_test_port.h"
#include "dataplane/io/io_backend.h"
#include "dataplane/wire/codec.h"
#include "tests/dataplane/io/dpdk_test_frames.h"
#include "tests/support/engine_harness.h"

namespace presenced::io {
namespace {

using namespace std::chrono_literals;
using presenced::testing::Mac;
using presenced::testing::parse_udp_frame;
using presenced::testing::TestClient;
using presenced::testing::udp_frame;
using presenced::testing::UdpFrameSpec;

constexpr uint16_t kPort = 7460;
const NetAddr kOwn4 = NetAddr::v4_bytes(10, 0, 0, 1, kPort);
NetAddr v6(uint8_t last, uint16_t port) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
  b[15] = last;
  return NetAddr::v6(b, port);
}
const NetAddr kOwn6 = v6(1, kPort);

std::string eal_args() {
  return "--no-huge --no-pci -m 512 --file-prefix presenced-unit-" + std::to_string(getpid());
}

// The EAL of this process (once); false with the reason when it cannot
// start here.
bool start_eal(std::string* error) {
  // Registered before the EAL's own atexit cleanup, so it runs after it:
  // removes the EAL's runtime directory (config, sockets) under
  // /var/run/dpdk.
  static const bool once = [] {
    std::atexit([] {
      const std::string dir = "/var/run/dpdk/presenced-unit-" + std::to_string(getpid());
      if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
      }
    });
    return true;
  }();
  (void)once;
  return dpdk::ensure_eal(eal_args(), error);
}

class DpdkBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { eal_ok_ = start_eal(&eal_error_); }

  void SetUp() override {
    if (!eal_ok_) {
      GTEST_SKIP() << "the DPDK EAL cannot start on this host (it needs root for its "
                      "runtime directory and memory): "
                   << eal_error_;
    }
    static int serial = 0;
    const std::string n = std::to_string(serial++);
    std::string err;
    wire_ = dpdk::RingPort::create("wire" + n, 1, 1024, &err);
    ASSERT_TRUE(wire_) << err;
    kernel_ = dpdk::RingPort::create("kern" + n, 1, 1024, &err);
    ASSERT_TRUE(kernel_) << err;
    wire_->mac(port_mac_.data());
    BackendOptions o;
    o.kind = BackendKind::kDpdk;
    o.listen = NetAddr::v4_bytes(0, 0, 0, 0, kPort);
    o.instances = 1;
    o.burst = 32;
    o.buffers = 256;
    o.ring_entries = 256;
    o.dpdk_args = eal_args();
    o.dpdk_port = wire_->port_id();
    o.dpdk_addresses = {kOwn4, kOwn6};
    o.dpdk_prefix_lengths = {24, 64};
    o.dpdk_exception = "port:" + std::to_string(kernel_->port_id());
    backends_ = create_backends(o, &err);
    ASSERT_EQ(backends_.size(), 1u) << err;
    rx_.resize(engine::kMaxBurst);
    replies_.resize(4096);
    events_.resize(1 << 14);
  }

  void TearDown() override {
    // The TX rings hold mbufs of the backend's pools: empty them first.
    if (wire_) wire_->discard_tx();
    if (kernel_) kernel_->discard_tx();
    backends_.clear();
  }

  IoBackend& backend() { return *backends_.front(); }

  // One core-loop iteration without the clock: receive, engine, send.
  uint32_t step() {
    const uint32_t n = backend().receive(rx_.data(), static_cast<uint32_t>(rx_.size()));
    engine::ReplyBatch replies{replies_.data(), static_cast<uint32_t>(replies_.size()), 0};
    engine::EventBatch events{events_.data(), static_cast<uint32_t>(events_.size()), 0};
    if (n > 0) {
      h_.engine().process({rx_.data(), n}, h_.now(), replies, events);
    } else {
      h_.engine().tick(h_.now(), replies, events);
    }
    if (replies.size > 0) backend().send(replies.data, replies.size);
    return n;
  }

  // Injects `frames`, runs the loop until `want` frames came out of the
  // port (or, with want 0, until every frame was consumed and the loop went
  // idle), and returns what the port transmitted.
  std::vector<std::vector<uint8_t>> exchange(const std::vector<std::vector<uint8_t>>& frames,
                                             std::size_t want) {
    for (const auto& f : frames) EXPECT_TRUE(wire_->inject(0, f));
    std::vector<std::vector<uint8_t>> out;
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    uint32_t idle = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const uint32_t n = step();
      for (auto& f : wire_->take_tx(0)) out.push_back(std::move(f));
      if (want != 0 && out.size() >= want) break;
      idle = n == 0 ? idle + 1 : 0;
      if (want == 0 && idle >= 8) {
        backend().wait(200);  // flushes anything still buffered
        for (auto& f : wire_->take_tx(0)) out.push_back(std::move(f));
        break;
      }
    }
    return out;
  }

  std::vector<uint8_t> request(TestClient& c, const NetAddr& from, const NetAddr& to,
                               bool vlan = false) {
    UdpFrameSpec s;
    s.src_mac = client_mac_;
    s.dst_mac = port_mac_;
    s.src = from;
    s.dst = to;
    s.vlan = vlan;
    s.tci = 100;
    s.payload = c.heartbeat().bytes;
    return udp_frame(s);
  }

  // Checks an ACK frame to `c` at `client` from `server` (seq c.seq).
  void expect_ack(const std::vector<uint8_t>& frame, const TestClient& c, const NetAddr& client,
                  const NetAddr& server, bool vlan = false) {
    const auto p = parse_udp_frame(frame);
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_EQ(p.dst_mac, client_mac_) << "reply goes to the request's source MAC";
    EXPECT_EQ(p.src_mac, port_mac_) << "from the port's MAC";
    EXPECT_EQ(p.vlan, vlan);
    if (vlan) {
      EXPECT_EQ(p.tci & 0x0fff, 100);
    }
    EXPECT_EQ(p.src, server) << to_string(p.src);
    EXPECT_EQ(p.dst, client) << to_string(p.dst);
    EXPECT_GT(p.ttl, 0);
    EXPECT_TRUE(p.ip_csum_ok) << "IPv4 header checksum";
    EXPECT_TRUE(p.udp_csum_ok) << "UDP checksum";
    ASSERT_EQ(p.payload.size(), wire::kAckSize);
    wire::AckPacket a;
    ASSERT_EQ(wire::parse_ack(p.payload, a), wire::DropReason::kNone);
    EXPECT_TRUE(auth::verify_packet(c.key(), p.payload.data(), p.payload.size()))
        << "ACK MAC verifies with the session key";
    EXPECT_EQ(a.h.user_id, c.user);
    EXPECT_EQ(a.h.device_id, c.device);
    EXPECT_EQ(a.h.seq, c.seq);
  }

  TestClient client(uint64_t user) {
    TestClient c;
    c.user = user;
    return c;
  }

  static bool eal_ok_;
  static std::string eal_error_;
  std::unique_ptr<dpdk::RingPort> wire_;
  std::unique_ptr<dpdk::RingPort> kernel_;
  std::vector<std::unique_ptr<IoBackend>> backends_;
  presenced::testing::EngineHarness h_;
  std::vector<engine::RxDatagram> rx_;
  std::vector<engine::TxDatagram> replies_;
  std::vector<engine::PresenceEvent> events_;
  Mac port_mac_{};
  Mac client_mac_{0x02, 0x42, 0x00, 0x00, 0x00, 0x07};
};

bool DpdkBackendTest::eal_ok_ = false;
std::string DpdkBackendTest::eal_error_;

TEST_F(DpdkBackendTest, Ipv4HeartbeatGetsAckFrame) {
  TestClient c = client(1001);
  const NetAddr from = NetAddr::v4_bytes(10, 0, 0, 2, 40000);
  const auto out = exchange({request(c, from, kOwn4)}, 1);
  ASSERT_EQ(out.size(), 1u);
  expect_ack(out[0], c, from, kOwn4);
  EXPECT_EQ(kernel_->tx_pending(0), 0u);
  EXPECT_EQ(backend().local_address(), kOwn4);
  const BackendStats s = backend().stats();
  EXPECT_EQ(s.rx_datagrams, 1u);
  EXPECT_EQ(s.rx_bytes, wire::kHeartbeatSize);
  EXPECT_EQ(s.tx_datagrams, 1u);
  EXPECT_EQ(s.tx_bytes, wire::kAckSize);
  EXPECT_EQ(s.rx_errors, 0u);
  EXPECT_EQ(s.tx_errors, 0u);
}

TEST_F(DpdkBackendTest, Ipv6HeartbeatGetsAckFrame) {
  TestClient c = client(1002);
  const NetAddr from = v6(2, 41000);
  const auto out = exchange({request(c, from, kOwn6)}, 1);
  ASSERT_EQ(out.size(), 1u);
  expect_ack(out[0], c, from, kOwn6);
}

TEST_F(DpdkBackendTest, VlanTaggedHeartbeatGetsTaggedAck) {
  TestClient c = client(1003);
  const NetAddr from = NetAddr::v4_bytes(10, 0, 0, 3, 40001);
  const auto out = exchange({request(c, from, kOwn4, true)}, 1);
  ASSERT_EQ(out.size(), 1u);
  expect_ack(out[0], c, from, kOwn4, true);
}

TEST_F(DpdkBackendTest, ManySessionsInBurstsAllGetAnswered) {
  constexpr int kSessions = 300;  // several bursts, more than the TX burst
  std::vector<TestClient> cs;
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < kSessions; ++i) {
    cs.push_back(client(5000 + static_cast<uint64_t>(i)));
    frames.push_back(request(cs.back(), NetAddr::v4_bytes(10, 0, 1, static_cast<uint8_t>(i % 250),
                                                          static_cast<uint16_t>(30000 + i)),
                             kOwn4));
  }
  const auto out = exchange(frames, kSessions);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(kSessions));
  std::size_t verified = 0;
  for (const auto& f : out) {
    const auto p = parse_udp_frame(f);
    ASSERT_TRUE(p.ok);
    EXPECT_TRUE(p.ip_csum_ok && p.udp_csum_ok);
    wire::AckPacket a;
    ASSERT_EQ(wire::parse_ack(p.payload, a), wire::DropReason::kNone);
    const TestClient& c = cs[a.h.user_id - 5000];
    verified += auth::verify_packet(c.key(), p.payload.data(), p.payload.size()) ? 1 : 0;
  }
  EXPECT_EQ(verified, static_cast<std::size_t>(kSessions));
  EXPECT_EQ(backend().stats().rx_datagrams, static_cast<uint64_t>(kSessions));
  EXPECT_EQ(backend().stats().tx_datagrams, static_cast<uint64_t>(kSessions));
}

TEST_F(DpdkBackendTest, MalformedBadMacAndNonUdpFramesGetNothingOnThePort) {
  TestClient c = client(2001);
  const NetAddr from = NetAddr::v4_bytes(10, 0, 0, 4, 40002);
  std::vector<std::vector<uint8_t>> bad;
  std::size_t malformed = 0;
  {
    auto f = request(c, from, kOwn4);
    f[14] = 0x46;  // IHL 6: header length disagrees (and the checksum)
    bad.push_back(f);
    ++malformed;
  }
  {
    auto f = request(c, from, kOwn4);
    presenced::testing::put16(f, 14 + 20 + 4, 41);  // UDP length mismatch
    bad.push_back(f);
    ++malformed;
  }
  {
    auto f = request(c, from, kOwn4);
    f[20] = 0x20;  // MF: a fragment
    bad.push_back(f);
    ++malformed;
  }
  {
    auto f = request(c, from, kOwn4);
    f.resize(f.size() - 10);  // truncated
    bad.push_back(f);
    ++malformed;
  }
  {
    auto f = request(c, from, kOwn4);
    f[40] ^= 1;  // UDP payload changed: checksum wrong
    bad.push_back(f);
    ++malformed;
  }
  bad.push_back(std::vector<uint8_t>(10, 0));  // runt
  ++malformed;
  {
    // Valid UDP, but the heartbeat's MAC is wrong: the engine drops it.
    UdpFrameSpec s;
    s.src_mac = client_mac_;
    s.dst_mac = port_mac_;
    s.src = from;
    s.dst = kOwn4;
    s.payload = c.heartbeat().bytes;
    s.payload[39] ^= 1;
    bad.push_back(udp_frame(s));
  }
  {
    // Not UDP, and UDP to another port: the kernel's, not answered here.
    UdpFrameSpec s;
    s.src_mac = client_mac_;
    s.dst_mac = port_mac_;
    s.src = from;
    s.dst = kOwn4;
    s.payload = c.heartbeat().bytes;
    s.proto = 6;
    bad.push_back(udp_frame(s));
    s.proto = 17;
    s.dst.port = 9999;
    bad.push_back(udp_frame(s));
  }
  EXPECT_TRUE(exchange(bad, 0).empty()) << "a bad frame was answered on the port";
  EXPECT_EQ(backend().stats().rx_errors, malformed);
  EXPECT_EQ(kernel_->take_tx(0).size(), 2u) << "TCP and UDP/9999 went to the kernel side";
  EXPECT_EQ(h_.drops(wire::DropReason::kBadMac), 1u);
  // The pipeline still answers a good one.
  const auto out = exchange({request(c, from, kOwn4)}, 1);
  ASSERT_EQ(out.size(), 1u);
  expect_ack(out[0], c, from, kOwn4);
}

TEST_F(DpdkBackendTest, ExceptionPathCarriesArpBothWays) {
  // An ARP request from the wire goes to the kernel side, untouched.
  std::vector<uint8_t> arp(42, 0);
  for (int i = 0; i < 6; ++i) arp[static_cast<std::size_t>(i)] = 0xff;
  std::memcpy(arp.data() + 6, client_mac_.data(), 6);
  arp[12] = 0x08;
  arp[13] = 0x06;
  arp[21] = 1;  // request
  EXPECT_TRUE(exchange({arp}, 0).empty()) << "ARP is not answered by presenced itself";
  const auto to_kernel = kernel_->take_tx(0);
  ASSERT_EQ(to_kernel.size(), 1u);
  EXPECT_EQ(to_kernel[0], arp);
  EXPECT_EQ(backend().stats().rx_exception, 1u);

  // The kernel's answer goes out of the port as it is.
  std::vector<uint8_t> reply = arp;
  std::memcpy(reply.data(), client_mac_.data(), 6);
  reply[21] = 2;
  ASSERT_TRUE(kernel_->inject(0, reply));
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < 100 && out.empty(); ++i) {
    backend().wait(200);  // polls the kernel side
    out = wire_->take_tx(0);
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], reply);
  EXPECT_EQ(backend().stats().tx_exception, 1u);
}

TEST_F(DpdkBackendTest, PushesWithoutLinkHintUseTheNeighbourCache) {
  TestClient c = client(3001);
  const NetAddr from = NetAddr::v4_bytes(10, 0, 0, 5, 40005);
  ASSERT_EQ(exchange({request(c, from, kOwn4)}, 1).size(), 1u);
  // A server-initiated packet (l2_hint 0, local unset) to that client.
  engine::TxDatagram t;
  t.dst = from;
  t.len = 40;
  std::memset(t.bytes, 0x11, 40);
  ASSERT_EQ(backend().send(&t, 1), 1u);
  backend().wait(100);
  auto out = wire_->take_tx(0);
  ASSERT_EQ(out.size(), 1u);
  auto p = parse_udp_frame(out[0]);
  ASSERT_TRUE(p.ok) << p.why;
  EXPECT_EQ(p.dst_mac, client_mac_);
  EXPECT_EQ(p.src, kOwn4) << "from the first own address of the family";
  EXPECT_TRUE(p.ip_csum_ok && p.udp_csum_ok);
  // An IPv6 push to an address never seen: the last source MAC (gateway).
  t.dst = v6(9, 5000);
  ASSERT_EQ(backend().send(&t, 1), 1u);
  backend().wait(100);
  out = wire_->take_tx(0);
  ASSERT_EQ(out.size(), 1u);
  p = parse_udp_frame(out[0]);
  ASSERT_TRUE(p.ok) << p.why;
  EXPECT_EQ(p.dst_mac, client_mac_);
  EXPECT_EQ(p.src, kOwn6);
  EXPECT_TRUE(p.udp_csum_ok);
}

TEST_F(DpdkBackendTest, RepliesWaitForTheDrainOrABurstNotForever) {
  // A reply is flushed by the next receive() that finds the RX queue empty,
  // i.e. within one loop iteration at low load.
  TestClient c = client(4001);
  const NetAddr from = NetAddr::v4_bytes(10, 0, 0, 6, 40006);
  ASSERT_TRUE(wire_->inject(0, request(c, from, kOwn4)));
  step();  // receive + process + send: buffered or sent
  step();  // an empty receive flushes
  EXPECT_EQ(wire_->take_tx(0).size(), 1u);
}

TEST(DpdkBackendFactoryTest, ReportsMissingAddressesPortAndBadPort) {
  std::string err;
  if (!start_eal(&err)) GTEST_SKIP() << "no EAL here: " << err;
  BackendOptions o;
  o.kind = BackendKind::kDpdk;
  o.dpdk_args = eal_args();
  o.listen = NetAddr::v4_bytes(0, 0, 0, 0, kPort);
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("--ip"), std::string::npos) << err;
  o.dpdk_addresses = {kOwn4};
  o.listen.port = 0;
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("fixed UDP port"), std::string::npos) << err;
  o.listen.port = kPort;
  o.dpdk_port = 31;  // no such port
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("port 31 does not exist"), std::string::npos) << err;
  o.dpdk_port = 0;
  o.dpdk_exception = "bad/name";
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("exception path"), std::string::npos) << err;
}

TEST(DpdkBackendFactoryTest, TooManyInstancesForTheQueuesIsAnError) {
  std::string err;
  if (!start_eal(&err)) GTEST_SKIP() << "no EAL here: " << err;
  auto port = dpdk::RingPort::create("oneq", 1, 256, &err);
  ASSERT_TRUE(port) << err;
  BackendOptions o;
  o.kind = BackendKind::kDpdk;
  o.dpdk_args = eal_args();
  o.listen = NetAddr::v4_bytes(0, 0, 0, 0, kPort);
  o.dpdk_addresses = {kOwn4};
  o.dpdk_port = port->port_id();
  o.dpdk_exception = "off";
  o.instances = 2;
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("1 RX / 1 TX queues"), std::string::npos) << err;
}

TEST(DpdkBackendFactoryTest, TwoQueuesTwoInstances) {
  std::string err;
  if (!start_eal(&err)) GTEST_SKIP() << "no EAL here: " << err;
  auto port = dpdk::RingPort::create("twoq", 2, 256, &err);
  ASSERT_TRUE(port) << err;
  BackendOptions o;
  o.kind = BackendKind::kDpdk;
  o.dpdk_args = eal_args();
  o.listen = NetAddr::v4_bytes(0, 0, 0, 0, kPort);
  o.dpdk_addresses = {kOwn4};
  o.dpdk_port = port->port_id();
  o.dpdk_exception = "off";
  o.instances = 2;
  o.buffers = 256;
  o.ring_entries = 256;
  auto bs = create_backends(o, &err);
  ASSERT_EQ(bs.size(), 2u) << err;
  // Each instance reads its own queue.
  UdpFrameSpec s;
  s.src = NetAddr::v4_bytes(10, 0, 0, 2, 1234);
  s.dst = kOwn4;
  s.payload.assign(40, 1);
  ASSERT_TRUE(port->inject(1, udp_frame(s)));
  engine::RxDatagram rx[engine::kMaxBurst];
  EXPECT_EQ(bs[0]->receive(rx, engine::kMaxBurst), 0u);
  EXPECT_EQ(bs[1]->receive(rx, engine::kMaxBurst), 1u);
  EXPECT_EQ(rx[0].src, s.src);
  // Frames not for presenced with the exception path off: counted, dropped.
  s.dst.port = 53;
  ASSERT_TRUE(port->inject(0, udp_frame(s)));
  EXPECT_EQ(bs[0]->receive(rx, engine::kMaxBurst), 0u);
  EXPECT_EQ(bs[0]->stats().rx_exception, 1u);
  port->discard_tx();
  bs.clear();
}

}  // namespace
}  // namespace presenced::io
