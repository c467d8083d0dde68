// dpdk_e2e_test.cc: presenced --backend dpdk end to end through a kernel.
//
// Two network namespaces joined by a veth pair:
//
//   ns "pde2e-c-PID"            |  ns "pde2e-s-PID"
//   kernel UDP/ICMP client      |  presenced --backend dpdk
//   vc 10.199.0.2/24            |    port 0 = net_af_packet on vs
//      fd00:199::2/64  <------veth------> vs (no addresses; the kernel
//                               |         ignores it: IPv6 off, arp_ignore,
//                               |         rp_filter)
//                               |    exception path: tap "presenced0"
//                               |    10.199.0.1/24, fd00:199::1/64
//
// The client's kernel resolves 10.199.0.1 (ARP) and fd00:199::1 (NDP)
// through presenced's exception path (the kernel in the server namespace
// answers on the tap), sends heartbeats from ordinary UDP sockets, and must
// get ACKs whose MAC verifies; an ICMP echo is answered (by the server
// namespace's kernel, through the tap); when the heartbeats stop, the
// offline event appears in --events-out.
//
// The client side turns off TX checksum offload on vc: a veth hands
// locally built frames to af_packet with the UDP checksum unfinished
// (CHECKSUM_PARTIAL), which presenced, like a NIC's peer, rejects. Frames
// from a real wire always carry complete checksums.
//
// Needs root (namespaces, af_packet, tap) and iproute2: skips with the
// reason otherwise. The namespaces (and with them the veth pair and the
// tap) are deleted when the test ends, pass or fail (RAII); namespaces left
// by a killed earlier run (their PID is gone) are deleted at start. Every
// wait is bounded.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "dataplane/auth/session_key.h"
#include "dataplane/wire/codec.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_client.h"

namespace presenced::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNsPrefix = "pde2e-";

std::string ip_binary() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return {};
}

// Runs a shell command; returns its exit status and appends its output to
// `log`.
int run(const std::string& cmd, std::string* log = nullptr) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[512];
  std::string out;
  while (fgets(buf, sizeof buf, f) != nullptr) out += buf;
  const int st = pclose(f);
  if (log != nullptr) *log += "$ " + cmd + "\n" + out;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Deletes namespaces of earlier runs whose process is gone.
void delete_stale_namespaces() {
  std::string out;
  run("ip netns list", &out);
  std::size_t pos = 0;
  while ((pos = out.find(kNsPrefix, pos)) != std::string::npos) {
    const std::size_t end = out.find_first_of(" \n", pos);
    const std::string name = out.substr(pos, end - pos);
    pos = end;
    const auto dash = name.rfind('-');
    const pid_t pid = static_cast<pid_t>(std::atoi(name.c_str() + dash + 1));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) run("ip netns del " + name);
  }
}

// The two namespaces and the veth pair; deleted by the destructor.
class Topology {
 public:
  static constexpr const char* kServer4 = "10.199.0.1";
  static constexpr const char* kClient4 = "10.199.0.2";
  static constexpr const char* kServer6 = "fd00:199::1";
  static constexpr const char* kClient6 = "fd00:199::2";

  Topology()
      : server_(std::string(kNsPrefix) + "s-" + std::to_string(getpid())),
        client_(std::string(kNsPrefix) + "c-" + std::to_string(getpid())) {}

  ~Topology() {
    for (const std::string& ns : created_) run("ip netns del " + ns);
  }
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // Creates the namespaces; false (with the output) when this host cannot.
  bool add_namespaces(std::string* log) {
    for (const std::string& ns : {server_, client_}) {
      if (run("ip netns add " + ns, log) != 0) return false;
      created_.push_back(ns);
    }
    return true;
  }

  // The veth pair and addresses. Returns "" or what failed (with the
  // commands' output).
  std::string configure() {
    std::string log;
    const std::string s = "ip netns exec " + server_ + " ";
    const std::string c = "ip netns exec " + client_ + " ";
    const std::vector<std::string> steps = {
        s + "ip link add vs type veth peer name vc netns " + client_,
        s + "ip link set lo up",
        s + "ip link set vs up",
        // The server namespace's kernel must leave vs alone: presenced owns
        // the port; the kernel talks through the tap.
        s + "sysctl -qw net.ipv6.conf.vs.disable_ipv6=1",
        s + "sysctl -qw net.ipv4.conf.vs.arp_ignore=8",
        s + "sysctl -qw net.ipv4.conf.vs.rp_filter=1",
        c + "ip link set lo up",
        c + "ip link set vc up",
        c + "ip addr add " + std::string(kClient4) + "/24 dev vc",
        c + "ip -6 addr add " + std::string(kClient6) + "/64 dev vc nodad",
    };
    for (const std::string& cmd : steps) {
      if (run(cmd, &log) != 0) return log;
    }
    // See the header: complete checksums from the client side.
    if (run(c + "ethtool -K vc tx off", &log) != 0) {
      return log + "(ethtool is needed to turn off TX checksum offload on the veth)\n";
    }
    return {};
  }

  const std::string& server() const { return server_; }
  const std::string& client() const { return client_; }

 private:
  std::string server_;
  std::string client_;
  std::vector<std::string> created_;
};

// A socket created inside network namespace `ns` (from a helper thread, so
// the test's own thread stays where it is).
int socket_in(const std::string& ns, int family, int type, int protocol) {
  int fd = -1;
  std::thread t([&] {
    const int nsfd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return;
    if (setns(nsfd, CLONE_NEWNET) == 0) fd = socket(family, type | SOCK_CLOEXEC, protocol);
    close(nsfd);
  });
  t.join();
  return fd;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

socklen_t sockaddr_of(const char* ip, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (std::strchr(ip, ':') != nullptr) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return sizeof *a;
}

std::optional<std::vector<uint8_t>> receive(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  std::vector<uint8_t> buf(2048);
  const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

uint32_t unix_now() {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint16_t icmp_checksum(const uint8_t* p, std::size_t len) {
  uint32_t s = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len % 2 == 1) s += static_cast<uint32_t>(p[len - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

class DpdkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, af_packet, tap)";
    if (ip_binary().empty()) GTEST_SKIP() << "needs iproute2 (ip)";
    delete_stale_namespaces();
    topo_ = std::make_unique<Topology>();
    std::string log;
    if (!topo_->add_namespaces(&log)) {
      GTEST_SKIP() << "network namespaces cannot be created here:\n" << log;
    }
    if (std::string e = topo_->configure(); !e.empty()) {
      FAIL() << "setting up the veth pair failed:\n" << e;
    }
    write_file(dir_.file("key"), "000102030405060708090a0b0c0d0e0f\n");
    static int serial = 0;
    file_prefix_ = "pd-e2e-" + std::to_string(getpid()) + "-" + std::to_string(serial++);
    const std::string eal =
        "--no-huge --no-pci -m 256 --file-prefix " + file_prefix_ + " --vdev=net_af_packet0,iface=vs";
    const std::vector<std::string> args = {
        "netns", "exec", topo_->server(), binary_path("PRESENCED_BIN"),
        "--backend", "dpdk", "--dpdk-args", eal, "--port", "0",
        "--ip", std::string(Topology::kServer4) + "/24",
        "--ip", std::string(Topology::kServer6) + "/64",
        "--listen", "0.0.0.0:7460", "--cores", "0", "--max-sessions", "10000",
        "--master-key-file", dir_.file("key"), "--events-out", dir_.file("events.jsonl"),
        // Fast liveness: timeout = 2 x 1 s, no linger.
        "--interval", "1", "--min-interval", "1", "--miss-limit", "2", "--grace", "0",
        "--linger", "0"};
    process_ = std::make_unique<Process>(ip_binary(), args, dir_.file("stderr"));
    const auto line = process_->read_line(30s);
    if (!line || *line != "listening on 10.199.0.1:7460") {
      FAIL() << "presenced did not start: " << line.value_or("(no output)") << "\n"
             << read_file(dir_.file("stderr"));
    }
  }

  void TearDown() override {
    if (process_) {
      process_->signal(SIGTERM);
      const auto code = process_->wait(10s);
      EXPECT_TRUE(code.has_value() && *code == 0)
          << "presenced did not exit cleanly on SIGTERM\n" << read_file(dir_.file("stderr"));
    }
    process_.reset();  // kills it if still running, before the namespaces go
    topo_.reset();
    // The EAL's runtime directory (its config and sockets).
    if (!file_prefix_.empty()) run("rm -rf /var/run/dpdk/" + file_prefix_);
  }

  // Sends heartbeats from a kernel UDP socket in the client namespace until
  // one is ACKed (the first may wait for ARP/NDP); checks the ACK.
  void heartbeat_round_trip(const char* server_ip, TestClient& c) {
    const int family = std::strchr(server_ip, ':') != nullptr ? AF_INET6 : AF_INET;
    Fd s(socket_in(topo_->client(), family, SOCK_DGRAM, 0));
    ASSERT_GE(s.get(), 0) << "socket in the client namespace";
    sockaddr_storage to;
    const socklen_t tolen = sockaddr_of(server_ip, 7460, to);
    std::optional<std::vector<uint8_t>> reply;
    for (int attempt = 0; attempt < 10 && !reply; ++attempt) {
      const Packet hb = c.heartbeat();
      ASSERT_EQ(sendto(s.get(), hb.bytes.data(), hb.bytes.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), tolen),
                static_cast<ssize_t>(hb.bytes.size()));
      reply = receive(s.get(), 1s);
    }
    ASSERT_TRUE(reply.has_value()) << "no ACK from " << server_ip << "\n"
                                   << read_file(dir_.file("stderr"));
    ASSERT_EQ(reply->size(), wire::kAckSize);
    wire::AckPacket a;
    ASSERT_EQ(wire::parse_ack(*reply, a), wire::DropReason::kNone);
    EXPECT_TRUE(auth::verify_packet(c.key(), reply->data(), reply->size()))
        << "the ACK's MAC does not verify";
    EXPECT_EQ(a.h.user_id, c.user);
    EXPECT_EQ(a.h.device_id, c.device);
    EXPECT_LE(a.h.seq, c.seq);
    EXPECT_NE(a.server_epoch, 0u);
    // And the next heartbeat (the neighbour entry now cached) too.
    const Packet hb = c.heartbeat();
    sendto(s.get(), hb.bytes.data(), hb.bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to),
           tolen);
    const auto second = receive(s.get(), 3s);
    ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(auth::verify_packet(c.key(), second->data(), second->size()));
  }

  // An ICMP echo from the client namespace, answered by the server
  // namespace's kernel through the tap.
  void ping(const char* server_ip) {
    const bool v6 = std::strchr(server_ip, ':') != nullptr;
    Fd s(socket_in(topo_->client(), v6 ? AF_INET6 : AF_INET, SOCK_RAW,
                   v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP}));
    ASSERT_GE(s.get(), 0) << "raw ICMP socket in the client namespace";
    uint8_t req[16] = {static_cast<uint8_t>(v6 ? 128 : 8), 0, 0, 0, 0x12, 0x34, 0, 1,
                       'p', 'r', 'e', 's', 'e', 'n', 'c', 'e'};
    if (!v6) {  // the kernel computes ICMPv6 checksums itself
      const uint16_t c = icmp_checksum(req, sizeof req);
      req[2] = static_cast<uint8_t>(c >> 8);
      req[3] = static_cast<uint8_t>(c);
    }
    sockaddr_storage to;
    const socklen_t tolen = sockaddr_of(server_ip, 0, to);
    bool answered = false;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    ASSERT_EQ(sendto(s.get(), req, sizeof req, 0, reinterpret_cast<const sockaddr*>(&to), tolen),
              static_cast<ssize_t>(sizeof req));
    while (!answered && std::chrono::steady_clock::now() < deadline) {
      const auto r = receive(s.get(), 500ms);
      if (!r) continue;
      // IPv4 raw sockets see the IP header; IPv6 ones do not.
      const std::size_t off = v6 ? 0 : static_cast<std::size_t>((*r)[0] & 0x0f) * 4;
      if (r->size() >= off + sizeof req && (*r)[off] == (v6 ? 129 : 0) &&
          std::memcmp(r->data() + off + 4, req + 4, sizeof req - 4) == 0) {
        answered = true;
      }
    }
    EXPECT_TRUE(answered) << "no echo reply from " << server_ip;
  }

  bool wait_for_event(const std::string& type, uint64_t user, std::chrono::seconds limit) {
    const std::string needle1 = "\"type\":\"" + type + "\"";
    const std::string needle2 = "\"user\":" + std::to_string(user) + ",";
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      std::stringstream ss(read_file(dir_.file("events.jsonl")));
      std::string line;
      while (std::getline(ss, line)) {
        if (line.find(needle1) != std::string::npos && line.find(needle2) != std::string::npos) {
          return true;
        }
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  TestClient client(uint64_t user) {
    TestClient c;
    c.user = user;
    c.expiry = unix_now() + 3600;
    return c;
  }

  TempDir dir_;
  std::string file_prefix_;
  std::unique_ptr<Topology> topo_;
  std::unique_ptr<Process> process_;
};

TEST_F(DpdkE2eTest, Ipv4ArpHeartbeatsPingAndOffline) {
  TestClient c = client(4242);
  heartbeat_round_trip(Topology::kServer4, c);
  ping(Topology::kServer4);
  ASSERT_TRUE(wait_for_event("online", c.user, 5s)) << read_file(dir_.file("events.jsonl"));
  // No more heartbeats: offline after 2 x 1 s (+ one tick).
  EXPECT_TRUE(wait_for_event("offline", c.user, 15s)) << read_file(dir_.file("events.jsonl"));
}

TEST_F(DpdkE2eTest, Ipv6NdpHeartbeatsPingAndOffline) {
  TestClient c = client(6666);
  heartbeat_round_trip(Topology::kServer6, c);
  ping(Topology::kServer6);
  ASSERT_TRUE(wait_for_event("online", c.user, 5s)) << read_file(dir_.file("events.jsonl"));
  EXPECT_TRUE(wait_for_event("offline", c.user, 15s)) << read_file(dir_.file("events.jsonl"));
}

// Start-up errors need no root: exit 2 and a message naming the flag.
TEST(DpdkStartTest, DpdkBackendWithoutIpExitsTwo) {
  TempDir dir;
  Process p(binary_path("PRESENCED_BIN"), {"--backend", "dpdk", "--dpdk-args", "--no-huge"},
            dir.file("stderr"));
  const auto code = p.wait(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(read_file(dir.file("stderr")).find("--ip"), std::string::npos)
      << read_file(dir.file("stderr"));
}

TEST(DpdkStartTest, BadIpExitsTwo) {
  TempDir dir;
  Process p(binary_path("PRESENCED_BIN"), {"--backend", "dpdk", "--ip", "10.0.0.300/24"},
            dir.file("stderr"));
  const auto code = p.wait(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(read_file(dir.file("stderr")).find("--ip must be"), std::string::npos)
      << read_file(dir.file("stderr"));
}

}  // namespace
}  // namespace presenced::testing
