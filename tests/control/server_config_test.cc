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
  };
  for (const Case& k : cases) {
    ServerConfig c;
    const ParseResult r = parse(k.args, c);
    EXPECT_EQ(r.exit_code, 2) << k.args[0];
    EXPECT_NE(r.message.find(k.expected), std::string::npos) << r.message;
  }
}

TEST(ServerConfigTest, HelpExitsZero) {
  ServerConfig c;
  const ParseResult r = parse({"--help"}, c);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.message.find("--miss-limit"), std::string::npos);
}

}  // namespace
}  // namespace presenced::control
