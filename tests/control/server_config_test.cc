#include "control/server_config.h"

#include <gtest/gtest.h>

namespace presenced::control {
namespace {

ParseResult parse(const std::vector<std::string>& args, ServerConfig& c) {
  std::vector<const char*> argv = {"presenced"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_server_config(static_cast<int>(argv.size()), argv.data(), c);
}

TEST(DurationTest, ParsesUnitsAndDefaults) {
  uint64_t ms = 0;
  EXPECT_TRUE(parse_duration_ms("2s", 1000, ms));
  EXPECT_EQ(ms, 2000u);
  EXPECT_TRUE(parse_duration_ms("1500ms", 1000, ms));
  EXPECT_EQ(ms, 1500u);
  EXPECT_TRUE(parse_duration_ms("1.5s", 1000, ms));
  EXPECT_EQ(ms, 1500u);
  EXPECT_TRUE(parse_duration_ms("3", 1000, ms));
  EXPECT_EQ(ms, 3000u);
  EXPECT_TRUE(parse_duration_ms("2m", 1000, ms));
  EXPECT_EQ(ms, 120000u);
  EXPECT_FALSE(parse_duration_ms("", 1000, ms));
  EXPECT_FALSE(parse_duration_ms("soon", 1000, ms));
  EXPECT_FALSE(parse_duration_ms("2h", 1000, ms));
  EXPECT_FALSE(parse_duration_ms("-1s", 1000, ms));
}

TEST(ServerConfigTest, DefaultsFollowTheSpec) {
  ServerConfig c;
  const ParseResult r = parse({}, c);
  EXPECT_EQ(r.exit_code, -1) << r.message;
  EXPECT_EQ(c.engine.interval_s, 30u);
  EXPECT_EQ(c.engine.miss_limit, 3u);
  EXPECT_EQ(c.engine.grace_ms, 2000u);
  EXPECT_EQ(c.engine.linger_ms, 5000u);
  EXPECT_EQ(c.engine.tick_ms, 10u);
  EXPECT_EQ(to_string(c.listen), "0.0.0.0:7460");
  EXPECT_FALSE(c.cores.empty());
}

TEST(ServerConfigTest, FlagsAreApplied) {
  ServerConfig c;
  const ParseResult r =
      parse({"--backend", "socket", "--listen", "[::1]:0", "--cores", "0", "--grace", "500ms",
             "--linger", "0", "--miss-limit", "5", "--interval", "20", "--max-sessions", "5000"},
            c);
  ASSERT_EQ(r.exit_code, -1) << r.message;
  EXPECT_EQ(c.backend, io::BackendKind::kSocket);
  EXPECT_EQ(c.listen.family, 6);
  EXPECT_EQ(c.cores, std::vector<int>{0});
  EXPECT_EQ(c.engine.grace_ms, 500u);
  EXPECT_EQ(c.engine.linger_ms, 0u);
  EXPECT_EQ(c.engine.miss_limit, 5u);
  EXPECT_EQ(c.engine.interval_s, 20u);
  EXPECT_EQ(c.max_sessions, 5000u);
}

TEST(ServerConfigTest, BadValuesExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const Case cases[] = {
      {{"--miss-limit", "11"}, "--miss-limit must be in [1, 10]"},
      {{"--min-interval", "50", "--interval", "30"}, "--min-interval"},
      {{"--linger", "2m"}, "--linger"},
      {{"--listen", "1.2.3.4"}, "--listen"},
      {{"--listen", "1.2.3.4:70000"}, "--listen"},
      {{"--cores", "a,b"}, "--cores"},
      {{"--cores", "99999"}, "--cores"},
      {{"--burst", "0"}, "--burst"},
      {{"--heartbeat-budget", "x"}, "--heartbeat-budget"},
      {{"--admission-rate", "100000001"}, "--admission-rate must be in [0, 100000000]"},
      {{"--source-invalid-budget", "-1"}, "--source-invalid-budget"},
      {{"--stall-threshold", "50ms"}, "--stall-threshold must be a duration in [100ms, 600s]"},
      {{"--restart-grace", "2h"}, "--restart-grace must be a duration"},
  };
  for (const Case& k : cases) {
    ServerConfig c;
    const ParseResult r = parse(k.args, c);
    EXPECT_EQ(r.exit_code, 2) << k.args[0];
    EXPECT_NE(r.message.find(k.expected), std::string::npos) << r.message;
  }
}

TEST(ServerConfigTest, HardeningFlags) {
  ServerConfig c;
  const ParseResult r = parse({"--admission-rate", "5000", "--source-invalid-budget", "0",
                               "--stall-threshold", "2500ms", "--restart-grace", "0"},
                              c);
  ASSERT_EQ(r.exit_code, -1) << r.message;
  EXPECT_EQ(c.engine.admission_rate, 5000u);
  EXPECT_EQ(c.engine.source_invalid_budget, 0u);
  EXPECT_EQ(c.engine.stall_threshold_ms, 2500u);
  EXPECT_EQ(c.engine.restart_grace_ms, 0u);
}

TEST(ServerConfigTest, HelpExitsZero) {
  ServerConfig c;
  const ParseResult r = parse({"--help"}, c);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.message.find("--miss-limit"), std::string::npos);
}

TEST(ServerConfigTest, DpdkFlags) {
  ServerConfig c;
  const ParseResult r =
      parse({"--backend", "dpdk", "--dpdk-args", "--no-huge --vdev=net_ring0", "--port", "3",
             "--ip", "10.0.0.1/24", "--ip", "2001:db8::1", "--dpdk-exception", "pd1"},
            c);
  ASSERT_EQ(r.exit_code, -1) << r.message;
  EXPECT_EQ(c.backend, io::BackendKind::kDpdk);
  EXPECT_EQ(c.dpdk_args, "--no-huge --vdev=net_ring0");
  EXPECT_EQ(c.dpdk_port, 3);
  ASSERT_EQ(c.dpdk_ips.size(), 2u);
  EXPECT_EQ(c.dpdk_ips[0], NetAddr::v4_bytes(10, 0, 0, 1, 0));
  EXPECT_EQ(c.dpdk_ips[1].family, 6);
  EXPECT_EQ(c.dpdk_ip_prefixes, (std::vector<uint8_t>{24, 0}));
  EXPECT_EQ(c.dpdk_exception, "pd1");
}

TEST(ServerConfigTest, DpdkNeedsIpAndValidValues) {
  const struct {
    std::vector<std::string> args;
    std::string expected;
  } cases[] = {
      {{"--backend", "dpdk"}, "--backend dpdk needs --ip"},
      {{"--backend", "dpdk", "--ip", "10.0.0.256"}, "--ip must be"},
      {{"--ip", "10.0.0.1/33"}, "--ip must be"},
      {{"--ip", "2001:db8::1/129"}, "--ip must be"},
      {{"--ip", "10.0.0.1/"}, "--ip must be"},
      {{"--port", "65536"}, "--port"},
  };
  for (const auto& k : cases) {
    ServerConfig c;
    const ParseResult r = parse(k.args, c);
    EXPECT_EQ(r.exit_code, 2) << k.args.back();
    EXPECT_NE(r.message.find(k.expected), std::string::npos) << r.message;
  }
}

TEST(ServerConfigTest, ControlFlags) {
  ServerConfig c;
  ParseResult r = parse({}, c);
  ASSERT_EQ(r.exit_code, -1) << r.message;
  EXPECT_TRUE(c.control_enabled);
  EXPECT_EQ(to_string(c.control), "127.0.0.1:7461");
  EXPECT_EQ(c.event_backlog, 100'000u);
  EXPECT_EQ(c.drain_rate, 50'000u);
  c = ServerConfig{};
  r = parse({"--control", "[::1]:0", "--event-backlog", "16", "--drain-rate", "7"}, c);
  ASSERT_EQ(r.exit_code, -1) << r.message;
  EXPECT_EQ(c.control.family, 6);
  EXPECT_EQ(c.event_backlog, 16u);
  EXPECT_EQ(c.drain_rate, 7u);
  c = ServerConfig{};
  r = parse({"--control", "off"}, c);
  ASSERT_EQ(r.exit_code, -1) << r.message;
  EXPECT_FALSE(c.control_enabled);
  // Off loopback a token file is required.
  c = ServerConfig{};
  r = parse({"--control", "0.0.0.0:7461", "--control-token-file", "/etc/presenced/token"}, c);
  ASSERT_EQ(r.exit_code, -1) << r.message;
  EXPECT_EQ(c.control_token_file, "/etc/presenced/token");
}

TEST(ServerConfigTest, BadControlFlagsExitTwo) {
  const struct {
    std::vector<std::string> args;
    std::string expected;
  } cases[] = {
      {{"--control", "0.0.0.0:7461"}, "needs --control-token-file"},
      {{"--control", "10.1.2.3:7461"}, "needs --control-token-file"},
      {{"--control", "[::]:7461"}, "needs --control-token-file"},
      {{"--control", "localhost:7461"}, "--control must be ADDR:PORT"},
      {{"--control", "127.0.0.1"}, "--control must be ADDR:PORT"},
      {{"--event-backlog", "0"}, "--event-backlog"},
      {{"--event-backlog", "10000001"}, "--event-backlog"},
      {{"--drain-rate", "0"}, "--drain-rate"},
  };
  for (const auto& k : cases) {
    ServerConfig c;
    const ParseResult r = parse(k.args, c);
    EXPECT_EQ(r.exit_code, 2) << k.args[1];
    EXPECT_NE(r.message.find(k.expected), std::string::npos) << r.message;
  }
}

TEST(ServerConfigTest, LoopbackAddresses) {
  NetAddr a;
  for (const char* yes : {"127.0.0.1:1", "127.5.6.7:1", "[::1]:1", "[::ffff:127.0.0.1]:1"}) {
    ASSERT_TRUE(parse_net_addr(yes, a)) << yes;
    EXPECT_TRUE(is_loopback(a)) << yes;
  }
  for (const char* no : {"0.0.0.0:1", "10.0.0.1:1", "[::]:1", "[::2]:1", "[::ffff:10.0.0.1]:1"}) {
    ASSERT_TRUE(parse_net_addr(no, a)) << no;
    EXPECT_FALSE(is_loopback(a)) << no;
  }
}

}  // namespace
}  // namespace presenced::control
