// presencectl against a real presenced: output, exit codes (0 ok, 1 server
// error, 2 usage, 3 cannot connect), --json, stdin input, `watch` resuming
// through a TCP proxy that drops its connections, `top`, and keygen.
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/integration/control_fixture.h"

namespace presenced::testing {
namespace {

using namespace std::chrono_literals;

struct CtlRun {
  std::optional<int> code;
  std::string out;
  std::string err;
};

// Runs presencectl with `args` (and `input` on stdin), bounded.
CtlRun ctl(const std::vector<std::string>& args, const std::string& input = "",
           std::chrono::seconds timeout = 30s) {
  TempDir dir;
  write_file(dir.file("stdin"), input);
  std::string cmd = "exec '" + binary_path("PRESENCECTL_BIN") + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " < '" + dir.file("stdin") + "'";
  Process p("/bin/sh", {"-c", cmd}, dir.file("stderr"));
  CtlRun r;
  r.out = p.read_all(timeout);
  r.code = p.wait(timeout);
  r.err = read_file(dir.file("stderr"));
  return r;
}

std::string ctl_addr(const Daemon& d) {
  return to_string(d.control());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) out.push_back(line);
  return out;
}

// ---- usage and connection errors (no server needed) ----

TEST(PresencectlUsageTest, HelpForEverySubcommand) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"status", "--help"},
                                             {"top", "--help"},
                                             {"get", "--help"},
                                             {"query", "--help"},
                                             {"watch", "--help"},
                                             {"config", "--help"},
                                             {"config", "get", "--help"},
                                             {"config", "set", "--help"},
                                             {"reconnect", "--help"},
                                             {"drain", "--help"},
                                             {"keygen", "--help"}}) {
    const CtlRun r = ctl(args);
    EXPECT_EQ(r.code, 0) << args[0] << "\n" << r.err;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << args[0] << "\n" << r.out;
  }
  const CtlRun top_help = ctl({"top", "--help"});
  EXPECT_NE(top_help.out.find("--iterations"), std::string::npos);
  const CtlRun set_help = ctl({"config", "set", "--help"});
  EXPECT_NE(set_help.out.find("KEY=VALUE"), std::string::npos);
}

TEST(PresencectlUsageTest, UsageErrorsExitTwo) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {},
           {"bogus"},
           {"get"},
           {"get", "abc"},
           {"get", "0"},
           {"config"},
           {"config", "set"},
           {"config", "set", "interval_s"},
           {"reconnect"},
           {"reconnect", "--user", "1", "--all"},
           {"reconnect", "--device", "1"},
           {"reconnect", "--user", "1", "--reason", "whim"},
           {"reconnect", "--user", "1", "--spread", "soon"},
           {"drain", "--rate", "0"},
           {"drain", "--status", "--rate", "5"},
           {"query", "x"},
           {"--control", "nowhere", "status"},
           {"--token-file", "/nonexistent/token", "status"},
           {"status", "--no-such-flag"},
           {"keygen"},
       }) {
    const CtlRun r = ctl(args, "");
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << joined;
  }
  const CtlRun q = ctl({"query"}, "");  // no ids on stdin either
  EXPECT_EQ(q.code, 2);
  EXPECT_NE(q.err.find("no user ids"), std::string::npos) << q.err;
}

TEST(PresencectlUsageTest, CannotConnectExitsThree) {
  // A port with nobody listening: bind one, then close it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  close(fd);
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"status"}, {"get", "5"}, {"config", "get"}, {"watch"}, {"top", "-n", "1"}, {"drain"}}) {
    args.insert(args.begin(), {"--control", addr});
    const CtlRun r = ctl(args);
    EXPECT_EQ(r.code, 3) << args[2] << "\n" << r.err;
    EXPECT_NE(r.err.find(addr), std::string::npos) << r.err;
  }
  // The environment variable is the default address.
  setenv("PRESENCECTL_CONTROL", addr.c_str(), 1);
  const CtlRun r = ctl({"status"});
  unsetenv("PRESENCECTL_CONTROL");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(addr), std::string::npos) << r.err;
}

// ---- against a server ----

class PresencectlTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(std::vector<std::string> extra) {
    daemon_ = std::make_unique<Daemon>("socket", std::move(extra));
    ASSERT_TRUE(daemon_->ok());
    http_ = std::make_unique<ControlClient>(daemon_->control());
  }
  CtlRun run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--control", ctl_addr(*daemon_)});
    return ctl(args, input);
  }
  void online(UdpPeer& peer, TestClient& c) {
    ASSERT_TRUE(bring_online(peer, daemon_->address(), c));
  }
  // Waits until the stream has published `id`.
  void wait_event(uint64_t id) {
    const Json s = wait_for_json(*http_, "/v1/status", [&](const Json& j) {
      return j["stream"]["last_event_id"].get<uint64_t>() >= id;
    });
    ASSERT_GE(s["stream"]["last_event_id"].get<uint64_t>(), id);
  }

  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<ControlClient> http_;
};

TEST_F(PresencectlTest, StatusTableAndJson) {
  UdpPeer peer;
  TestClient c = session(42);
  online(peer, c);
  wait_event(1);
  CtlRun r = run({"status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("presenced 0.1.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backend socket"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sessions online 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CORE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HEARTBEATS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("drain: not draining"), std::string::npos) << r.out;
  r = run({"status", "--json"});  // common flags may follow the subcommand
  ASSERT_EQ(r.code, 0) << r.err;
  const Json j = Json::parse(r.out);
  EXPECT_EQ(j["cores"][0]["sessions_online"], 1);
  EXPECT_EQ(j["backend"], "socket");
  // The environment variable instead of --control.
  setenv("PRESENCECTL_CONTROL", ctl_addr(*daemon_).c_str(), 1);
  r = ctl({"--json", "status"});
  unsetenv("PRESENCECTL_CONTROL");
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(PresencectlTest, GetAndQuery) {
  UdpPeer peer;
  TestClient a = session(42, 1);
  TestClient b = session(42, 2);
  b.status = wire::Status::kAway;
  online(peer, a);
  online(peer, b);
  TestClient other = session(77);
  online(peer, other);
  CtlRun r = run({"get", "42"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("user 42: online (available)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("127.0.0.1:" + std::to_string(peer.port())), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("away"), std::string::npos) << r.out;
  r = run({"--json", "get", "42"});
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(Json::parse(r.out)["devices"].size(), 2u);

  r = run({"get", "43"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("user 43 not found"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());

  r = run({"query", "42", "43", "77"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_NE(lines[1].find("42"), std::string::npos);
  EXPECT_NE(lines[1].find("yes"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("unknown"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("77"), std::string::npos);

  // Ids on stdin (any whitespace), 10,001 of them: two batches.
  std::string input = "77\n42 43\n";
  for (uint64_t u = 100'000; u < 109'998; ++u) input += std::to_string(u) + "\n";
  r = run({"--json", "query"}, input);
  ASSERT_EQ(r.code, 0) << r.err;
  const Json j = Json::parse(r.out);
  EXPECT_EQ(j["users"].size(), 2u);
  EXPECT_EQ(j["unknown"].size(), 10'001u - 2u);
  r = run({"query", "-"}, "42\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(lines_of(r.out).size(), 2u);
}

TEST_F(PresencectlTest, ConfigGetAndSet) {
  CtlRun r = run({"config", "get"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("interval_s"), std::string::npos);
  EXPECT_NE(r.out.find("log_level"), std::string::npos);
  r = run({"config", "set", "interval_s=45", "grace_ms=1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  bool found = false;
  for (const std::string& line : lines_of(r.out)) {
    if (line.rfind("interval_s", 0) == 0) {
      found = true;
      EXPECT_NE(line.find("45"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(found) << r.out;
  UdpPeer peer;
  TestClient c = session(5);
  const auto reply = heartbeat(peer, daemon_->address(), c);
  ASSERT_TRUE(reply);
  wire::AckPacket ack;
  ASSERT_EQ(wire::parse_ack(*reply, ack), wire::DropReason::kNone);
  EXPECT_EQ(ack.next_interval_s, 45);

  r = run({"config", "set", "interval_s=abc"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("interval_s must be an integer in [1, 3600] seconds"), std::string::npos)
      << r.err;
  r = run({"config", "set", "speed=5"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown key \"speed\""), std::string::npos) << r.err;
  r = run({"config", "set", "tick_ms=0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("tick_ms must be an integer in [1, 1000] ms"), std::string::npos) << r.err;
  r = run({"--json", "config", "get"});
  EXPECT_EQ(Json::parse(r.out)["interval_s"], 45);
}

TEST_F(PresencectlTest, TopRefreshesAndStops) {
  const CtlRun r = run({"top", "--iterations", "3", "--interval-ms", "100"}, "");
  ASSERT_EQ(r.code, 0) << r.err;
  std::size_t clears = 0;
  for (std::size_t p = 0; (p = r.out.find("\x1b[2J\x1b[H", p)) != std::string::npos; ++p) {
    ++clears;
  }
  EXPECT_EQ(clears, 3u);
  EXPECT_NE(r.out.find("CORE"), std::string::npos);
  EXPECT_NE(r.out.find("HEARTBEATS"), std::string::npos);
  EXPECT_NE(r.out.find("/s"), std::string::npos) << "rates from the second refresh on";
}

TEST_F(PresencectlTest, WatchCountsEvents) {
  UdpPeer peer;
  for (uint64_t u = 1; u <= 3; ++u) {
    TestClient c = session(u);
    online(peer, c);
  }
  wait_event(3);
  CtlRun r = run({"watch", "--since", "0", "--count", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i].rfind(std::to_string(i + 1) + " online user=", 0), 0u) << lines[i];
  }
  r = run({"--json", "watch", "--since", "1", "--count", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  const Json e = Json::parse(lines[0]);
  EXPECT_EQ(e["id"], 2);
  EXPECT_EQ(e["type"], "online");
  EXPECT_TRUE(e.contains("user"));
}

TEST_F(PresencectlTest, WatchPrintsResetForAnIdNeverIssued) {
  // An id this server never issued (a client of an earlier process): a
  // reset, then what the backlog holds.
  UdpPeer peer;
  TestClient c = session(9);
  online(peer, c);
  wait_event(1);
  const CtlRun r = run({"watch", "--since", "100", "--count", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("reset reason=unknown_id", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("1 online user=9", 0), 0u) << lines[1];
}

TEST_F(PresencectlTest, ReconnectAndDrain) {
  UdpPeer p1;
  UdpPeer p2;
  TestClient a = session(42, 1);
  TestClient b = session(43, 1);
  online(p1, a);
  online(p2, b);
  CtlRun r = run({"reconnect", "--user", "42", "--target", "10.0.0.5:7460", "--spread", "2s",
                  "--reason", "rebalance"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("reconnect requested for user 42"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10.0.0.5:7460"), std::string::npos) << r.out;
  const auto reply = heartbeat(p1, daemon_->address(), a);
  ASSERT_TRUE(reply);
  wire::ReconnectPacket rc;
  ASSERT_TRUE(is_valid_reconnect(*reply, a, rc));
  NetAddr want;
  ASSERT_TRUE(parse_net_addr("10.0.0.5:7460", want));
  EXPECT_TRUE(targets(rc, want));
  EXPECT_EQ(rc.reason, wire::ReconnectReason::kRebalance);
  EXPECT_LE(rc.delay_ms, 2000u);

  r = run({"reconnect", "--user", "4444"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("user 4444 not found"), std::string::npos) << r.err;

  r = run({"drain", "--rate", "1000", "--target", "10.0.0.6:7460"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("drain: active"), std::string::npos) << r.out;
  // Both sessions are pushed one RECONNECT (b's first reply since its ACK).
  const auto pushed = p2.receive(10s);
  ASSERT_TRUE(pushed.has_value());
  ASSERT_TRUE(is_valid_reconnect(*pushed, b, rc));
  EXPECT_EQ(rc.reason, wire::ReconnectReason::kDrain);
  wait_for_json(*http_, "/v1/drain", [](const Json& j) { return j["pushed"] == 2; });
  r = run({"drain", "--status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("pushed 2/2"), std::string::npos) << r.out;
  r = run({"drain"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already"), std::string::npos) << r.err;
}

TEST(PresencectlTokenTest, TokenFileFlagAndEnvironment) {
  TempDir dir;
  write_file(dir.file("token"), "t0ken\n");
  write_file(dir.file("wrong"), "nope\n");
  Daemon d("socket", {"--control-token-file", dir.file("token")});
  ASSERT_TRUE(d.ok());
  CtlRun r = ctl({"--control", ctl_addr(d), "status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bearer token"), std::string::npos) << r.err;
  r = ctl({"--control", ctl_addr(d), "--token-file", dir.file("wrong"), "status"});
  EXPECT_EQ(r.code, 1);
  r = ctl({"--control", ctl_addr(d), "--token-file", dir.file("token"), "status"});
  EXPECT_EQ(r.code, 0) << r.err;
  setenv("PRESENCECTL_TOKEN_FILE", dir.file("token").c_str(), 1);
  r = ctl({"--control", ctl_addr(d), "config", "get"});
  unsetenv("PRESENCECTL_TOKEN_FILE");
  EXPECT_EQ(r.code, 0) << r.err;
}

// A TCP forwarder between presencectl and the control plane that the test
// can cut (every open connection) and close (new connections are dropped
// at once): a dropped connection, as a flaky network would drop it.
class TcpProxy {
 public:
  explicit TcpProxy(uint16_t upstream_port) : upstream_(upstream_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("proxy: bind/listen failed");
    }
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TcpProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    cut();
    for (auto& t : pumps_) t.join();
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  void set_open(bool open) { open_ = open; }
  // Drops every open connection.
  void cut() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
  }
  int connections() const { return accepted_; }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      if (!open_) {
        close(client);
        continue;
      }
      const int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(upstream_);
      if (connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(client);
        close(up);
        continue;
      }
      ++accepted_;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        fds_.push_back(client);
        fds_.push_back(up);
      }
      pumps_.emplace_back([this, client, up] { pump(client, up); });
    }
  }
  void pump(int a, int b) {
    char buf[16384];
    for (;;) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(p, 2, 100) < 0) break;
      if (stop_) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = read(p[i].fd, buf, sizeof buf);
        if (n <= 0 || write(p[1 - i].fd, buf, static_cast<std::size_t>(n)) != n) done = true;
      }
      if (done) break;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    shutdown(a, SHUT_RDWR);
    shutdown(b, SHUT_RDWR);
    close(a);
    close(b);
    std::erase(fds_, a);
    std::erase(fds_, b);
  }

  uint16_t upstream_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> open_{true};
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::vector<int> fds_;
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

// Starts `presencectl watch` through `proxy`; the caller reads its lines.
std::unique_ptr<Process> start_watch(const TcpProxy& proxy, const TempDir& dir,
                                     std::vector<std::string> extra) {
  std::vector<std::string> args = {"--control", "127.0.0.1:" + std::to_string(proxy.port()),
                                   "watch"};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<Process>(binary_path("PRESENCECTL_BIN"), args, dir.file("watch.err"));
}

TEST_F(PresencectlTest, WatchResumesAfterADroppedConnection) {
  TcpProxy proxy(daemon_->control().port);
  TempDir dir;
  auto watch = start_watch(proxy, dir, {"--count", "6"});
  wait_for_json(*http_, "/v1/status",
                [](const Json& j) { return j["stream"]["subscribers"] == 1; });
  UdpPeer peer;
  std::vector<std::string> lines;
  for (uint64_t u = 1; u <= 3; ++u) {
    TestClient c = session(500 + u);
    online(peer, c);
  }
  for (int i = 0; i < 3; ++i) {
    const auto line = watch->read_line(10s);
    ASSERT_TRUE(line.has_value()) << read_file(dir.file("watch.err"));
    lines.push_back(*line);
  }
  // The network drops the connection; three events happen meanwhile.
  proxy.set_open(false);
  proxy.cut();
  for (uint64_t u = 4; u <= 6; ++u) {
    TestClient c = session(500 + u);
    online(peer, c);
  }
  wait_event(6);
  proxy.set_open(true);
  for (int i = 0; i < 3; ++i) {
    const auto line = watch->read_line(20s);
    ASSERT_TRUE(line.has_value()) << read_file(dir.file("watch.err"));
    lines.push_back(*line);
  }
  EXPECT_EQ(watch->wait(10s), 0);
  ASSERT_EQ(lines.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(lines[i].rfind(std::to_string(i + 1) + " online user=" + std::to_string(501 + i), 0),
              0u)
        << lines[i] << ": every event once, in order";
  }
  const std::string err = read_file(dir.file("watch.err"));
  EXPECT_NE(err.find("resuming after id 3"), std::string::npos) << err;
  EXPECT_GE(proxy.connections(), 2);
}

TEST_F(PresencectlTest, WatchPrintsResetWhenTheBacklogIsGone) {
  daemon_.reset();
  start({"--event-backlog", "2"});
  TcpProxy proxy(daemon_->control().port);
  TempDir dir;
  auto watch = start_watch(proxy, dir, {"--count", "4"});
  wait_for_json(*http_, "/v1/status",
                [](const Json& j) { return j["stream"]["subscribers"] == 1; });
  UdpPeer peer;
  for (uint64_t u = 1; u <= 2; ++u) {
    TestClient c = session(600 + u);
    online(peer, c);
  }
  std::vector<std::string> lines;
  for (int i = 0; i < 2; ++i) {
    const auto line = watch->read_line(10s);
    ASSERT_TRUE(line.has_value()) << read_file(dir.file("watch.err"));
    lines.push_back(*line);
  }
  proxy.set_open(false);
  proxy.cut();
  for (uint64_t u = 3; u <= 7; ++u) {  // ids 3..7; the backlog keeps 6 and 7
    TestClient c = session(600 + u);
    online(peer, c);
  }
  wait_event(7);
  proxy.set_open(true);
  for (int i = 0; i < 3; ++i) {
    const auto line = watch->read_line(20s);
    ASSERT_TRUE(line.has_value()) << read_file(dir.file("watch.err"));
    lines.push_back(*line);
  }
  EXPECT_EQ(watch->wait(10s), 0);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[2], "reset reason=backlog missed_from=3 resume_at=6");
  EXPECT_EQ(lines[3].rfind("6 online user=606", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("7 online user=607", 0), 0u) << lines[4];
}

TEST(PresencectlKeygenTest, WritesAKeyOnceWithMode0600) {
  TempDir dir;
  const std::string path = dir.file("master.key");
  CtlRun r = ctl({"keygen", path});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string first = read_file(path);
  ASSERT_EQ(first.size(), 33u);
  EXPECT_EQ(first.back(), '\n');
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), 32u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auth::MasterKey key;
  EXPECT_TRUE(auth::parse_master_key_hex(first, key));

  r = ctl({"keygen", path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(path), first) << "not overwritten";

  chmod(path.c_str(), 0644);
  r = ctl({"keygen", path, "--force"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string second = read_file(path);
  EXPECT_EQ(second.size(), 33u);
  EXPECT_NE(second, first);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // presenced accepts it.
  Process p(binary_path("PRESENCED_BIN"),
            {"--backend", "socket", "--listen", "127.0.0.1:0", "--cores", "0", "--control",
             "127.0.0.1:0", "--max-sessions", "1000", "--master-key-file", path},
            dir.file("stderr"));
  const auto line = p.read_line(20s);
  ASSERT_TRUE(line.has_value()) << read_file(dir.file("stderr"));
  EXPECT_EQ(line->rfind("listening on ", 0), 0u);
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s).value_or(-1), 0);

  r = ctl({"keygen", dir.file("no/such/dir/key")});
  EXPECT_EQ(r.code, 1);
}

}  // namespace
}  // namespace presenced::testing
