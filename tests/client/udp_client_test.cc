// Tests of client/udp_client.h over loopback sockets, against a fake server
// that answers with protocol-exact packets. Waits are upper bounds on poll(),
// never timing assertions.
#include "client/udp_client.h"

#include <cstring>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include "dataplane/wire/codec.h"
#include "tests/client/fake_server.h"

namespace presenced::client {
namespace {

using testing::credentials;
using testing::FakeServer;

// A UDP socket on an ephemeral loopback port playing the server.
class LoopbackServer {
 public:
  ~LoopbackServer() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool open(wire::TargetFamily family) {
    const int af = family == wire::TargetFamily::kIpv6 ? AF_INET6 : AF_INET;
    fd_ = ::socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_storage ss{};
    socklen_t len;
    if (af == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return false;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
    endpoint_.family = family;
    if (af == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
      endpoint_.port = ntohs(a->sin6_port);
      std::memcpy(endpoint_.address.data(), &a->sin6_addr, 16);
    } else {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
      endpoint_.port = ntohs(a->sin_port);
      std::memcpy(endpoint_.address.data(), &a->sin_addr, 4);
    }
    return true;
  }

  // Receives one client packet (waiting at most 5 s) and checks it.
  wire::ClientPacket receive(const FakeServer& fs) {
    wire::ClientPacket p;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) != 1) {
      ADD_FAILURE() << "server got nothing";
      return p;
    }
    uint8_t buf[128];
    peer_len_ = sizeof peer_;
    const ssize_t n =
        ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer_), &peer_len_);
    EXPECT_EQ(n, static_cast<ssize_t>(wire::kHeartbeatSize));
    if (n != static_cast<ssize_t>(wire::kHeartbeatSize)) return p;
    EXPECT_EQ(wire::parse_client_packet(std::span<const uint8_t>(buf, wire::kHeartbeatSize), p),
              wire::DropReason::kNone);
    EXPECT_TRUE(auth::verify_packet(fs.key, buf, wire::kHeartbeatSize));
    return p;
  }

  // Replies to the source of the last received packet.
  void reply(const std::vector<uint8_t>& d) {
    ASSERT_EQ(::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&peer_), peer_len_),
              static_cast<ssize_t>(d.size()));
  }

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  int fd_ = -1;
  Endpoint endpoint_;
  sockaddr_storage peer_{};
  socklen_t peer_len_ = 0;
};

class UdpClientTest : public ::testing::Test {
 protected:
  UdpClientOptions options(const Endpoint& server) {
    UdpClientOptions o;
    o.server = server;
    o.credentials = credentials();
    o.status = wire::Status::kBusy;
    o.seed = 5;
    return o;
  }
  // Runs the client until an event matching `pred` arrives (at most ~5 s).
  template <typename Pred>
  bool run_until(UdpClient& c, Pred pred) {
    for (int i = 0; i < 50; ++i) {
      for (std::size_t k = seen_; k < events_.size(); ++k) {
        if (pred(events_[k])) {
          seen_ = k + 1;
          return true;
        }
      }
      seen_ = events_.size();
      if (!c.run_once(std::chrono::milliseconds(100))) return false;
    }
    return false;
  }
  UdpClient::EventSink sink() {
    return [this](const ClientEvent& e) { events_.push_back(e); };
  }
  static bool is_packet(const ClientEvent& e, PacketResult r) {
    return e.kind == ClientEvent::Kind::kPacket && e.result == r;
  }

  FakeServer fs;
  std::vector<ClientEvent> events_;
  std::size_t seen_ = 0;
};

TEST_F(UdpClientTest, HeartbeatAckAndByeOverIpv4) {
  LoopbackServer srv;
  ASSERT_TRUE(srv.open(wire::TargetFamily::kIpv4));
  UdpClient c(options(srv.endpoint()), sink());
  std::string error;
  ASSERT_TRUE(c.open(error)) << error;
  c.start();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].action, Action::kHeartbeat);
  EXPECT_EQ(events_[0].target, srv.endpoint());

  const wire::ClientPacket hb = srv.receive(fs);
  EXPECT_TRUE(hb.first());
  EXPECT_EQ(hb.h.seq, 1u);
  EXPECT_EQ(hb.status, wire::Status::kBusy);
  srv.reply(fs.ack(hb.h.seq));
  ASSERT_TRUE(
      run_until(c, [](const ClientEvent& e) { return is_packet(e, PacketResult::kAccepted); }));
  EXPECT_TRUE(events_[seen_ - 1].rtt_us.has_value());
  EXPECT_EQ(c.session().state(), State::kOnline);

  // A forged ACK through the same path is dropped and reported.
  auto forged = fs.ack(hb.h.seq);
  forged.back() ^= 1;
  srv.reply(forged);
  ASSERT_TRUE(
      run_until(c, [](const ClientEvent& e) { return is_packet(e, PacketResult::kBadMac); }));

  c.bye();
  const wire::ClientPacket bye = srv.receive(fs);
  EXPECT_EQ(bye.h.type, wire::PacketType::kBye);
  EXPECT_EQ(bye.h.seq, 2u);
  srv.reply(fs.ack(bye.h.seq));
  ASSERT_TRUE(
      run_until(c, [](const ClientEvent& e) { return is_packet(e, PacketResult::kByeAcked); }));
  EXPECT_EQ(c.session().state(), State::kClosed);
}

TEST_F(UdpClientTest, HeartbeatOverIpv6) {
  LoopbackServer srv;
  if (!srv.open(wire::TargetFamily::kIpv6)) GTEST_SKIP() << "no IPv6 loopback";
  UdpClient c(options(srv.endpoint()), sink());
  std::string error;
  ASSERT_TRUE(c.open(error)) << error;
  c.start();
  const wire::ClientPacket hb = srv.receive(fs);
  srv.reply(fs.ack(hb.h.seq));
  ASSERT_TRUE(
      run_until(c, [](const ClientEvent& e) { return is_packet(e, PacketResult::kAccepted); }));
}

TEST_F(UdpClientTest, FollowsRedirectToAnotherServer) {
  LoopbackServer a, b;
  ASSERT_TRUE(a.open(wire::TargetFamily::kIpv4));
  ASSERT_TRUE(b.open(wire::TargetFamily::kIpv4));
  UdpClient c(options(a.endpoint()), sink());
  std::string error;
  ASSERT_TRUE(c.open(error)) << error;
  c.start();
  const wire::ClientPacket hb = a.receive(fs);
  a.reply(fs.reconnect(hb.h.seq, 0, wire::TargetFamily::kIpv4, b.endpoint().port,
                       b.endpoint().address, wire::ReconnectReason::kRebalance));
  ASSERT_TRUE(
      run_until(c, [](const ClientEvent& e) { return is_packet(e, PacketResult::kReconnect); }));
  EXPECT_EQ(events_[seen_ - 1].target, b.endpoint());
  ASSERT_TRUE(
      run_until(c, [](const ClientEvent& e) { return e.action == Action::kRedirectResume; }));
  EXPECT_EQ(c.server(), b.endpoint());
  const wire::ClientPacket first = b.receive(fs);
  EXPECT_TRUE(first.first());
  EXPECT_EQ(first.h.seq, hb.h.seq + 1);
  b.reply(fs.ack(first.h.seq));
  ASSERT_TRUE(
      run_until(c, [](const ClientEvent& e) { return is_packet(e, PacketResult::kAccepted); }));
}

TEST(UdpClientOpenTest, RejectsInvalidPolicy) {
  UdpClientOptions o;
  o.credentials = credentials();
  ASSERT_TRUE(parse_endpoint("127.0.0.1:7460", 7460, o.server));
  o.policy.ack_timeout_ms = 0;
  UdpClient c(o, nullptr);
  std::string error;
  EXPECT_FALSE(c.open(error));
  EXPECT_NE(error.find("ack_timeout_ms"), std::string::npos);
}

TEST(ResolveEndpointTest, NumericAndNames) {
  Endpoint e;
  std::string error;
  ASSERT_TRUE(resolve_endpoint("127.0.0.1:7000", 7460, e, error)) << error;
  EXPECT_EQ(e.port, 7000);
  ASSERT_TRUE(resolve_endpoint("localhost:7001", 7460, e, error)) << error;
  EXPECT_EQ(e.port, 7001);
  EXPECT_FALSE(resolve_endpoint("[::1", 7460, e, error));
  EXPECT_FALSE(resolve_endpoint("localhost:99999", 7460, e, error));
  EXPECT_FALSE(resolve_endpoint("127.0.0.1:99999", 7460, e, error));
  EXPECT_FALSE(resolve_endpoint("localhost:0", 7460, e, error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace presenced::client
