// io_backend_test.cc: the IoBackend contract, run against every backend in
// this build (socket always, uring when built) over loopback UDP with
// ordinary client sockets: addresses, replies, SO_REUSEPORT instances,
// buffer recycling, truncation and wait().
//
// Every loop is bounded by a deadline, so a broken backend fails instead of
// hanging. Tests that need IPv6 skip when the host has no ::1.
#include "dataplane/io/io_backend.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

namespace presenced::io {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{5000};

NetAddr v4_loopback(uint16_t port = 0) {
  return NetAddr::v4_bytes(127, 0, 0, 1, port);
}
NetAddr v4_any(uint16_t port = 0) {
  return NetAddr::v4_bytes(0, 0, 0, 0, port);
}
NetAddr v6_loopback(uint16_t port = 0) {
  uint8_t b[16] = {};
  b[15] = 1;
  return NetAddr::v6(b, port);
}
NetAddr v6_any(uint16_t port = 0) {
  const uint8_t b[16] = {};
  return NetAddr::v6(b, port);
}
// "prefix<i>" (built by appending: GCC 12 warns falsely, -Wrestrict, on
// "literal" + std::string at -O3).
std::string tagged(const char* prefix, uint64_t i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

NetAddr with_port(NetAddr a, uint16_t port) {
  a.port = port;
  return a;
}

// Conversions for the client side, written independently of udp_socket.cc.
socklen_t client_sockaddr(const NetAddr& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.family == 6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a.port);
    std::memcpy(&s6->sin6_addr, a.ip.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(a.port);
  std::memcpy(&s4->sin_addr, a.ip.data(), 4);
  return sizeof(sockaddr_in);
}

NetAddr client_netaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    return NetAddr::v6(s6->sin6_addr.s6_addr, ntohs(s6->sin6_port));
  }
  const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
  return NetAddr::v4(s4->sin_addr.s_addr, ntohs(s4->sin_port));
}

// An ordinary blocking-free UDP client socket bound to `bind_to`.
class UdpClient {
 public:
  explicit UdpClient(const NetAddr& bind_to) {
    fd_ = socket(bind_to.family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_storage ss;
    const socklen_t len = client_sockaddr(bind_to, ss);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~UdpClient() {
    if (fd_ >= 0) close(fd_);
  }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  bool ok() const { return fd_ >= 0; }

  NetAddr address() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    return client_netaddr(ss);
  }

  // After this the kernel only delivers datagrams coming from `server`.
  bool connect_to(const NetAddr& server) {
    sockaddr_storage ss;
    const socklen_t len = client_sockaddr(server, ss);
    return connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  }

  bool send_to(const NetAddr& dst, const std::string& payload) {
    sockaddr_storage ss;
    const socklen_t len = client_sockaddr(dst, ss);
    return sendto(fd_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
           static_cast<ssize_t>(payload.size());
  }

  bool send_connected(const std::string& payload) {
    return ::send(fd_, payload.data(), payload.size(), 0) == static_cast<ssize_t>(payload.size());
  }

  // Waits up to `timeout` for one datagram.
  bool receive(std::string& payload, NetAddr* from, milliseconds timeout = kDeadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    char buf[2048];
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t n =
        recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) return false;
    payload.assign(buf, static_cast<std::size_t>(n));
    if (from != nullptr) *from = client_netaddr(ss);
    return true;
  }

 private:
  int fd_ = -1;
};

bool ipv6_loopback_available() {
  UdpClient probe(v6_loopback());
  return probe.ok();
}

// A received datagram, copied out of the backend's buffers.
struct Got {
  std::string payload;
  NetAddr src;
  NetAddr local;
  std::size_t instance = 0;
};

using Backends = std::vector<std::unique_ptr<IoBackend>>;

// Receives from all `bs` in turn until `want` datagrams or the deadline.
// `on_burst` sees each burst while its views are valid.
template <typename OnBurst>
std::vector<Got> drain(const Backends& bs, std::size_t want, OnBurst on_burst,
                       milliseconds limit = kDeadline) {
  std::vector<Got> got;
  const auto deadline = Clock::now() + limit;
  engine::RxDatagram rx[engine::kMaxBurst];
  while (got.size() < want && Clock::now() < deadline) {
    bool any = false;
    for (std::size_t i = 0; i < bs.size(); ++i) {
      const uint32_t n = bs[i]->receive(rx, engine::kMaxBurst);
      on_burst(*bs[i], rx, n);
      for (uint32_t k = 0; k < n; ++k) {
        got.push_back(Got{std::string(reinterpret_cast<const char*>(rx[k].data), rx[k].len),
                          rx[k].src, rx[k].local, i});
      }
      any = any || n != 0;
    }
    if (!any) {
      for (auto& b : bs) b->wait(1000);
    }
  }
  return got;
}

std::vector<Got> drain(const Backends& bs, std::size_t want, milliseconds limit = kDeadline) {
  return drain(
      bs, want, [](IoBackend&, const engine::RxDatagram*, uint32_t) {}, limit);
}

engine::TxDatagram reply_to(const NetAddr& dst, const NetAddr& local, const std::string& text) {
  engine::TxDatagram t;
  t.dst = dst;
  t.local = local;
  t.len = static_cast<uint16_t>(text.size());
  std::memcpy(t.bytes, text.data(), text.size());
  return t;
}

// Polls the backend (which reaps its send completions) until `pred` holds.
template <typename Pred>
bool poll_until(IoBackend& b, Pred pred) {
  engine::RxDatagram rx[engine::kMaxBurst];
  const auto deadline = Clock::now() + kDeadline;
  while (!pred() && Clock::now() < deadline) {
    b.receive(rx, engine::kMaxBurst);
    b.wait(1000);
  }
  return pred();
}

class IoBackendTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (GetParam() != BackendKind::kUring) return;
    // The build has io_uring, but this kernel (or a sandbox) may refuse it.
    static const std::string why_not = [this] {
      std::string err;
      return create_backends(options(v4_loopback()), &err).empty() ? err : std::string();
    }();
    if (!why_not.empty())
      GTEST_SKIP() << "the io_uring backend cannot run on this host: " << why_not;
  }

  BackendOptions options(const NetAddr& listen, uint32_t instances = 1) const {
    BackendOptions o;
    o.kind = GetParam();
    o.listen = listen;
    o.instances = instances;
    o.burst = 32;
    o.buffers = 256;
    o.ring_entries = 256;
    o.socket_buffer_bytes = 1u << 20;
    return o;
  }

  // Creation must succeed; the error text says why when it does not.
  static Backends create(const BackendOptions& o) {
    std::string err;
    Backends bs = create_backends(o, &err);
    EXPECT_EQ(bs.size(), o.instances) << err;
    if (bs.size() != o.instances) bs.clear();
    return bs;
  }

  // One request/reply: a client bound to `client_ip` connects to
  // `server_ip` (the server is bound to `listen`) and sends; the server must
  // see the client's address and `server_ip` as local, and its reply must
  // get through the connected client socket, i.e. come from `server_ip`.
  void check_round_trip(const NetAddr& listen, const NetAddr& client_ip, const NetAddr& server_ip) {
    Backends bs = create(options(listen));
    ASSERT_FALSE(bs.empty());
    IoBackend& server = *bs[0];
    const uint16_t port = server.local_address().port;
    ASSERT_NE(port, 0);
    const NetAddr target = with_port(server_ip, port);

    UdpClient client(client_ip);
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client.connect_to(target));
    ASSERT_TRUE(client.send_connected("ping"));

    const std::vector<Got> got = drain(bs, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "ping");
    EXPECT_EQ(got[0].src, client.address()) << to_string(got[0].src);
    EXPECT_EQ(got[0].local, target) << to_string(got[0].local);

    const engine::TxDatagram reply = reply_to(got[0].src, got[0].local, "pong!");
    EXPECT_EQ(server.send(&reply, 1), 1u);
    std::string text;
    NetAddr from;
    ASSERT_TRUE(client.receive(text, &from)) << "reply lost or sent from the wrong address";
    EXPECT_EQ(text, "pong!");
    EXPECT_EQ(from, target) << to_string(from);

    EXPECT_TRUE(poll_until(server, [&] { return server.stats().tx_datagrams == 1; }));
    const BackendStats s = server.stats();
    EXPECT_EQ(s.rx_datagrams, 1u);
    EXPECT_EQ(s.rx_bytes, 4u);
    EXPECT_EQ(s.tx_bytes, 5u);
    EXPECT_EQ(s.tx_errors, 0u);
    EXPECT_EQ(s.rx_errors, 0u);
  }
};

TEST_P(IoBackendTest, Ipv4SpecificAddress) {
  check_round_trip(v4_loopback(), v4_loopback(), v4_loopback());
}

TEST_P(IoBackendTest, Ipv4Wildcard) {
  // The reply must leave from 127.0.0.1 (IP_PKTINFO), or the connected
  // client would not accept it.
  check_round_trip(v4_any(), v4_loopback(), v4_loopback());
}

TEST_P(IoBackendTest, Ipv6SpecificAddress) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback on this host";
  check_round_trip(v6_loopback(), v6_loopback(), v6_loopback());
}

TEST_P(IoBackendTest, Ipv6Wildcard) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback on this host";
  check_round_trip(v6_any(), v6_loopback(), v6_loopback());
}

TEST_P(IoBackendTest, Ipv4ClientOnDualStackServerIsReportedAsIpv4) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 on this host";
  check_round_trip(v6_any(), v4_loopback(), v4_loopback());
}

TEST_P(IoBackendTest, PortZeroGivesOneRealPortToAllInstances) {
  Backends bs = create(options(v4_loopback(), 3));
  ASSERT_FALSE(bs.empty());
  const NetAddr a = bs[0]->local_address();
  EXPECT_EQ(a.family, 4);
  EXPECT_NE(a.port, 0);
  EXPECT_EQ(with_port(a, 0), v4_loopback());
  for (auto& b : bs) EXPECT_EQ(b->local_address(), a);

  UdpClient client(v4_loopback());
  ASSERT_TRUE(client.send_to(a, "hi"));
  const std::vector<Got> got = drain(bs, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "hi");
}

TEST_P(IoBackendTest, InstancesShareDatagramsFromManyClients) {
  constexpr int kClients = 64;
  Backends bs = create(options(v4_loopback(), 2));
  ASSERT_FALSE(bs.empty());
  const NetAddr server = bs[0]->local_address();
  std::vector<std::unique_ptr<UdpClient>> clients;
  std::set<std::string> sent;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<UdpClient>(v4_loopback()));
    ASSERT_TRUE(clients.back()->ok());
    const std::string text = tagged("client-", i);
    ASSERT_TRUE(clients.back()->send_to(server, text));
    sent.insert(text);
  }
  const std::vector<Got> got = drain(bs, kClients);
  std::set<std::string> seen;
  std::size_t per_instance[2] = {0, 0};
  for (const Got& g : got) {
    seen.insert(g.payload);
    ++per_instance[g.instance];
  }
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(seen, sent);
  // SO_REUSEPORT hashes the 4-tuple: with 64 sources both get some (the
  // chance that one gets none is 2^-63).
  EXPECT_GT(per_instance[0], 0u);
  EXPECT_GT(per_instance[1], 0u);
  EXPECT_EQ(bs[0]->stats().rx_datagrams + bs[1]->stats().rx_datagrams,
            static_cast<uint64_t>(kClients));
}

TEST_P(IoBackendTest, RecyclesBuffersWhenDrainedInBursts) {
  // 20x as many datagrams as receive buffers; each chunk is larger than the
  // buffer ring, so the io_uring backend also runs out of buffers, sees its
  // multishot recvmsg end with -ENOBUFS and must re-arm it.
  constexpr uint32_t kBuffers = 16;
  constexpr uint32_t kTotal = 20 * kBuffers;
  constexpr uint32_t kChunk = 40;
  BackendOptions o = options(v4_loopback());
  o.buffers = kBuffers;
  o.burst = 8;
  Backends bs = create(o);
  ASSERT_FALSE(bs.empty());
  const NetAddr server = bs[0]->local_address();
  UdpClient client(v4_loopback());
  ASSERT_TRUE(client.ok());

  std::set<std::string> seen;
  bool views_ok = true;
  auto check_views = [&](IoBackend&, const engine::RxDatagram* rx, uint32_t n) {
    // All views of one burst are valid together, until the next receive().
    for (uint32_t k = 0; k < n; ++k) {
      const std::string p(reinterpret_cast<const char*>(rx[k].data), rx[k].len);
      views_ok = views_ok && p.rfind("seq-", 0) == 0 && rx[k].src == client.address();
    }
    EXPECT_LE(n, o.burst);
  };
  for (uint32_t base = 0; base < kTotal; base += kChunk) {
    for (uint32_t i = base; i < base + kChunk; ++i) {
      ASSERT_TRUE(client.send_to(server, tagged("seq-", i)));
    }
    for (const Got& g : drain(bs, kChunk, check_views)) seen.insert(g.payload);
    ASSERT_EQ(seen.size(), base + kChunk) << "lost datagrams after " << base;
  }
  EXPECT_TRUE(views_ok);
  for (uint32_t i = 0; i < kTotal; ++i) EXPECT_EQ(seen.count(tagged("seq-", i)), 1u);
  const BackendStats s = bs[0]->stats();
  EXPECT_EQ(s.rx_datagrams, kTotal);
  EXPECT_EQ(s.rx_errors, 0u);
  std::printf("[ info     ] %s: rx_dropped (buffer-ring exhaustions) = %llu\n",
              backend_name(GetParam()), static_cast<unsigned long long>(s.rx_dropped));
}

TEST_P(IoBackendTest, OversizedDatagramDoesNotBreakReception) {
  Backends bs = create(options(v4_loopback()));
  ASSERT_FALSE(bs.empty());
  const NetAddr server = bs[0]->local_address();
  UdpClient client(v4_loopback());
  const std::string big(1000, 'x');
  ASSERT_TRUE(client.send_to(server, big));
  ASSERT_TRUE(client.send_to(server, "after"));
  const std::vector<Got> got = drain(bs, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GT(got[0].payload.size(), 0u);
  EXPECT_LE(got[0].payload.size(), 256u);
  EXPECT_EQ(got[0].payload, big.substr(0, got[0].payload.size()));
  EXPECT_EQ(got[1].payload, "after");
  EXPECT_EQ(got[1].src, client.address());
  EXPECT_GE(bs[0]->stats().rx_errors, 1u) << "truncation is counted";
}

TEST_P(IoBackendTest, SendsManyRepliesInOneCall) {
  // More than a burst: a home core's loop iteration can carry hundreds.
  // (100 fit the client's default socket buffer.)
  constexpr uint32_t kReplies = 100;
  Backends bs = create(options(v4_loopback()));
  ASSERT_FALSE(bs.empty());
  IoBackend& server = *bs[0];
  UdpClient client(v4_loopback());
  ASSERT_TRUE(client.ok());
  std::vector<engine::TxDatagram> tx;
  for (uint32_t i = 0; i < kReplies; ++i) {
    tx.push_back(reply_to(client.address(), server.local_address(), tagged("r", i)));
  }
  EXPECT_EQ(server.send(tx.data(), kReplies), kReplies);
  std::set<std::string> seen;
  std::string text;
  NetAddr from;
  while (seen.size() < kReplies && client.receive(text, &from)) {
    seen.insert(text);
    EXPECT_EQ(from, server.local_address());
  }
  EXPECT_EQ(seen.size(), kReplies);
  EXPECT_TRUE(poll_until(server, [&] { return server.stats().tx_datagrams == kReplies; }));
  EXPECT_EQ(server.stats().tx_errors, 0u);
}

TEST_P(IoBackendTest, WaitReturnsWhenDataArrives) {
  Backends bs = create(options(v4_loopback()));
  ASSERT_FALSE(bs.empty());
  IoBackend& server = *bs[0];
  const NetAddr addr = server.local_address();
  engine::RxDatagram rx[engine::kMaxBurst];
  EXPECT_EQ(server.receive(rx, engine::kMaxBurst), 0u);  // nothing yet

  std::thread sender([addr] {
    std::this_thread::sleep_for(milliseconds(50));
    UdpClient client(v4_loopback());
    client.send_to(addr, "wake");
  });
  // wait() may return early, but must not sleep through the datagram: with
  // a 4 s timeout per call, a datagram seen within 3 s proves the wake-up.
  const auto start = Clock::now();
  uint32_t n = 0;
  while (n == 0 && Clock::now() - start < milliseconds(3000)) {
    server.wait(4'000'000);
    n = server.receive(rx, engine::kMaxBurst);
  }
  sender.join();
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rx[0].data), rx[0].len), "wake");
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
  EXPECT_GE(server.stats().wakeups, 1u);
}

TEST_P(IoBackendTest, WaitReturnsAfterItsTimeoutWithoutData) {
  Backends bs = create(options(v4_loopback()));
  ASSERT_FALSE(bs.empty());
  IoBackend& server = *bs[0];
  const auto start = Clock::now();
  for (int i = 0; i < 3; ++i) server.wait(20'000);
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
  EXPECT_EQ(server.stats().wakeups, 3u);
  engine::RxDatagram rx[engine::kMaxBurst];
  EXPECT_EQ(server.receive(rx, engine::kMaxBurst), 0u);
}

TEST_P(IoBackendTest, CreatedOnOneThreadAndServedFromAnother) {
  // As in the daemon: the factory runs on the main thread, each instance is
  // then used by its own core thread only, stats() is read from the main
  // thread meanwhile, and the instances are destroyed after the cores stop.
  constexpr int kClients = 16;
  Backends bs = create(options(v4_loopback(), 2));
  ASSERT_FALSE(bs.empty());
  const NetAddr server = bs[0]->local_address();
  std::atomic<bool> stop{false};
  std::vector<std::thread> cores;
  for (auto& b : bs) {
    cores.emplace_back([&stop, io = b.get()] {
      engine::RxDatagram rx[engine::kMaxBurst];
      engine::TxDatagram tx[engine::kMaxBurst];
      while (!stop.load(std::memory_order_relaxed)) {
        const uint32_t n = io->receive(rx, engine::kMaxBurst);
        for (uint32_t i = 0; i < n; ++i) {
          const std::string p(reinterpret_cast<const char*>(rx[i].data), rx[i].len);
          tx[i] = reply_to(rx[i].src, rx[i].local, "echo:" + p);
        }
        if (n != 0) io->send(tx, n);
        if (n == 0) io->wait(1000);
      }
    });
  }
  int answered = 0;
  uint64_t polled_rx = 0;
  for (int i = 0; i < kClients; ++i) {
    UdpClient client(v4_loopback());
    ASSERT_TRUE(client.connect_to(server));
    const std::string text = tagged("c", i);
    ASSERT_TRUE(client.send_connected(text));
    std::string reply;
    if (client.receive(reply, nullptr) && reply == "echo:" + text) ++answered;
    for (auto& b : bs) polled_rx += b->stats().rx_datagrams;  // concurrent reads
  }
  stop.store(true);
  for (auto& t : cores) t.join();
  EXPECT_EQ(answered, kClients);
  EXPECT_GT(polled_rx, 0u);
  EXPECT_EQ(bs[0]->stats().rx_datagrams + bs[1]->stats().rx_datagrams,
            static_cast<uint64_t>(kClients));
  bs.clear();  // destroyed on this thread, after the core threads exited
}

TEST_P(IoBackendTest, ZeroInstancesOrBurstIsAnErrorWithAReason) {
  std::string err;
  EXPECT_TRUE(create_backends(options(v4_loopback(), 0), &err).empty());
  EXPECT_NE(err.find("instances"), std::string::npos) << err;
  BackendOptions o = options(v4_loopback());
  o.burst = 0;
  err.clear();
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("burst"), std::string::npos) << err;
}

TEST_P(IoBackendTest, FactoryNamesTheFailingStep) {
  // 192.0.2.1 (TEST-NET-1) is not a local address: bind fails.
  BackendOptions o = options(NetAddr::v4_bytes(192, 0, 2, 1, 0));
  std::string err;
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("bind"), std::string::npos) << err;
}

std::vector<BackendKind> kinds_in_build() {
  std::vector<BackendKind> v{BackendKind::kSocket};
  if (backend_available(BackendKind::kUring, nullptr)) v.push_back(BackendKind::kUring);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Backends, IoBackendTest, ::testing::ValuesIn(kinds_in_build()),
                         [](const ::testing::TestParamInfo<BackendKind>& p) {
                           return std::string(backend_name(p.param));
                         });

TEST(UringOptions, RejectsBadValuesWithTheirName) {
  std::string why;
  if (!backend_available(BackendKind::kUring, &why)) GTEST_SKIP() << "uring not built: " << why;
  BackendOptions o;
  o.kind = BackendKind::kUring;
  o.listen = v4_loopback();
  o.buffers = 0;
  std::string err;
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("buffers"), std::string::npos) << err;
  o.buffers = 16;
  o.instances = 0;
  EXPECT_TRUE(create_backends(o, &err).empty());
  EXPECT_NE(err.find("instances"), std::string::npos) << err;
}

TEST(UringOptions, RoundsBufferCountUpAndStillWorks) {
  std::string why;
  if (!backend_available(BackendKind::kUring, &why)) GTEST_SKIP() << "uring not built: " << why;
  BackendOptions o;
  o.kind = BackendKind::kUring;
  o.listen = v4_loopback();
  o.buffers = 5;  // becomes 8
  o.burst = 4;
  o.ring_entries = 1;  // raised to fit a burst
  std::string err;
  Backends bs = create_backends(o, &err);
  if (bs.empty()) GTEST_SKIP() << "io_uring cannot run here: " << err;
  UdpClient client(v4_loopback());
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(client.send_to(bs[0]->local_address(), "x"));
  EXPECT_EQ(drain(bs, 12).size(), 12u);
}

}  // namespace
}  // namespace presenced::io
