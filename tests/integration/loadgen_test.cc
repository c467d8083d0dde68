// Integration tests of presence-loadgen: the real binary against a real
// presenced (127.0.0.1, port 0) at small scale (10,000 sessions), for every
// I/O backend in the build; in builds with DPDK, also --transport dpdk over
// net_memif against presenced --backend dpdk (needs root; skips without);
// plus its usage errors and the pure parts it is built from (histogram,
// event parser, churn choice).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.h"
#include "tools/loadgen/event_tail.h"
#include "tools/loadgen/histogram.h"
#include "tools/loadgen/options.h"

namespace presenced::testing {
namespace {

using Json = nlohmann::json;

constexpr int kSessions = 10'000;

// Runs presence-loadgen to completion (bounded) with --json; returns the exit
// code and the parsed results (null if none were written).
struct LoadgenRun {
  int exit_code = -1;
  Json results;
  std::string stderr_text;
};

LoadgenRun run_loadgen(const Daemon& d, std::vector<std::string> args,
                       std::chrono::milliseconds bound = 60s) {
  const std::string json_path = d.dir().file("loadgen.json");
  const std::string err_path = d.dir().file("loadgen.stderr");
  std::vector<std::string> all = {"--server", to_string(d.address()), "--master-key-file",
                                  d.dir().file("key"), "--json", json_path, "--quiet"};
  all.insert(all.end(), args.begin(), args.end());
  Process p(binary_path("PRESENCE_LOADGEN_BIN"), all, err_path);
  LoadgenRun r;
  r.exit_code = p.wait(bound).value_or(-1);
  r.stderr_text = read_file(err_path);
  const std::string text = read_file(json_path);
  if (!text.empty()) r.results = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return r;
}

std::size_t count_lines(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// The server for these tests: room for the sessions, no control plane
// (several tests run one after the other), short timeouts where asked.
std::vector<std::string> server_flags(std::vector<std::string> extra) {
  std::vector<std::string> f = {"--max-sessions", "20000", "--control", "off"};
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

class LoadgenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LoadgenTest, SteadyBringsEverySessionOnline) {
  Daemon d(GetParam(), server_flags({"--interval", "2", "--min-interval", "1"}));
  ASSERT_TRUE(d.ok());
  const LoadgenRun r =
      run_loadgen(d, {"--mode", "steady", "--sessions", std::to_string(kSessions), "--duration",
                      "5s", "--events-file", d.dir().file("events.jsonl"), "--server-pid",
                      std::to_string(d.process().pid())});
  ASSERT_FALSE(r.results.is_null()) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0) << r.results.dump(2) << r.stderr_text;
  EXPECT_TRUE(r.results["pass"].get<bool>()) << r.results["verdict"];
  EXPECT_EQ(r.results["totals"]["sessions_ever_up"].get<int>(), kSessions);
  EXPECT_EQ(r.results["totals"]["sessions_up"].get<int>(), kSessions);
  EXPECT_EQ(r.results["events"]["online_users"].get<int>(), kSessions);
  EXPECT_GT(r.results["ack_latency_us"]["count"].get<int>(), 0);
  EXPECT_GT(r.results["server"]["rss_bytes"].get<int64_t>(), 0);
  // The server's own account: one ONLINE per user in its events file.
  EXPECT_EQ(d.event_lines("\"online\"").size(), static_cast<std::size_t>(kSessions));
  EXPECT_TRUE(d.event_lines("\"offline\"").empty());
}

TEST_P(LoadgenTest, ChurnDetectsEverySilentSession) {
  // timeout = 2 x 1 s + 1 s; OFFLINE at once. A lost heartbeat is resent
  // after 300 ms, so a busy machine does not make live users time out.
  Daemon d(GetParam(), server_flags({"--interval", "1", "--min-interval", "1", "--miss-limit",
                                     "2", "--grace", "1s", "--linger", "0"}));
  ASSERT_TRUE(d.ok());
  const LoadgenRun r = run_loadgen(
      d, {"--mode", "churn", "--sessions", std::to_string(kSessions), "--churn-fraction", "0.1",
          "--duration", "40s", "--events-file", d.dir().file("events.jsonl"), "--miss-limit", "2",
          "--grace", "1s", "--linger", "0", "--ack-timeout-ms", "300"});
  ASSERT_FALSE(r.results.is_null()) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0) << r.results["verdict"] << r.stderr_text;
  const Json& c = r.results["churn"];
  const auto silenced = c["silenced_users"].get<int>();
  EXPECT_GT(silenced, kSessions / 20);  // about 10 %
  EXPECT_LT(silenced, kSessions / 5);
  EXPECT_EQ(c["detected"].get<int>(), silenced);
  EXPECT_EQ(c["missing"].get<int>(), 0);
  EXPECT_EQ(c["early"].get<int>(), 0);
  EXPECT_EQ(c["timeout_ms"].get<int>(), 3000);
  EXPECT_EQ(r.results["events"]["offline_unexpected"].get<int>(), 0);
  EXPECT_EQ(c["delay_ms"]["count"].get<int>(), silenced);
  // The server's file agrees: exactly the silenced users went offline.
  EXPECT_EQ(count_lines(d.events(), "\"type\":\"offline\""), static_cast<std::size_t>(silenced));
}

TEST_P(LoadgenTest, FloodLeavesValidSessionsOnline) {
  // A short timeout (2 x 1 s + 1 s) so that a few lost heartbeats would
  // show; resends after 300 ms (four lost in a row declare a session dead).
  Daemon d(GetParam(), server_flags({"--interval", "1", "--min-interval", "1", "--miss-limit",
                                     "2", "--grace", "1s", "--linger", "0"}));
  ASSERT_TRUE(d.ok());
  const LoadgenRun r = run_loadgen(
      d, {"--mode", "flood", "--sessions", std::to_string(kSessions), "--flood-rate", "20000",
          "--duration", "6s", "--events-file", d.dir().file("events.jsonl"), "--miss-limit", "2",
          "--grace", "1s", "--linger", "0", "--ack-timeout-ms", "300"});
  ASSERT_FALSE(r.results.is_null()) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0) << r.results["verdict"] << r.stderr_text;
  EXPECT_GT(r.results["flood"]["sent"].get<int64_t>(), 10'000);
  EXPECT_GT(r.results["flood"]["bad_mac"].get<int64_t>(), 1'000);
  EXPECT_EQ(r.results["flood"]["replies"].get<int>(), 0);
  EXPECT_EQ(r.results["totals"]["dead"].get<int>(), 0);
  EXPECT_EQ(r.results["totals"]["sessions_up"].get<int>(), kSessions);
  EXPECT_TRUE(d.event_lines("\"offline\"").empty()) << "a valid session was declared offline";
}

TEST_P(LoadgenTest, StormBringsEverySessionBack) {
  Daemon d(GetParam(), server_flags({"--linger", "0"}));
  ASSERT_TRUE(d.ok());
  const LoadgenRun r =
      run_loadgen(d, {"--mode", "storm", "--sessions", std::to_string(kSessions), "--storm-window",
                      "1s", "--duration", "30s", "--events-file", d.dir().file("events.jsonl")});
  ASSERT_FALSE(r.results.is_null()) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0) << r.results["verdict"] << r.stderr_text;
  EXPECT_EQ(r.results["storm"]["restarted"].get<int>(), kSessions);
  EXPECT_EQ(r.results["storm"]["back"].get<int>(), kSessions);
  EXPECT_TRUE(d.event_lines("\"offline\"").empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadgenTest, ::testing::ValuesIn(test_backends()),
                         [](const auto& param_info) { return param_info.param; });

#if PRESENCED_LOADGEN_DPDK
// Removes the EAL runtime directories (/var/run/dpdk/PREFIX) of a test's
// processes, however the test ends.
struct EalPrefixes {
  std::vector<std::string> prefixes;
  ~EalPrefixes() {
    for (const std::string& p : prefixes) {
      std::error_code ec;
      std::filesystem::remove_all("/var/run/dpdk/" + p, ec);
    }
  }
};

// presenced --backend dpdk on the server end of a net_memif link, the load
// generator a second DPDK process on the client end: steady, 10,000
// sessions, every one online (acknowledged, and ONLINE in the server's
// events file). The daemon flags are bench/dpdk/run.sh's memif ones.
TEST(LoadgenDpdkTest, SteadyOverMemifBringsEverySessionOnline) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root (DPDK's runtime directory /var/run/dpdk, memif sockets)";
  }
  const std::string tag = std::to_string(getpid());
  EalPrefixes prefixes{{"pd-lgtest-srv-" + tag, "pd-lgtest-gen-" + tag}};
  TempDir sock_dir;
  const std::string sock = sock_dir.file("memif.sock");
  const std::string eal = "--no-huge --no-pci -m 512 --file-prefix ";
  Daemon d("dpdk",
           server_flags({"--interval", "2", "--min-interval", "1", "--dpdk-args",
                         eal + prefixes.prefixes[0] + " --vdev=net_memif0,role=server,socket=" + sock,
                         "--port", "0", "--ip", "10.1.0.1/24", "--dpdk-exception", "off",
                         "--listen", "0.0.0.0:7460", "--cores", "0"}));
  ASSERT_TRUE(d.ok()) << d.stderr_text();
  ASSERT_EQ(to_string(d.address()), "10.1.0.1:7460");
  const LoadgenRun r = run_loadgen(
      d, {"--transport", "dpdk", "--dpdk-args",
          eal + prefixes.prefixes[1] + " --vdev=net_memif0,role=client,socket=" + sock,
          "--dpdk-ip", "10.1.0.2", "--mode", "steady", "--sessions", std::to_string(kSessions),
          "--duration", "8s", "--events-file", d.dir().file("events.jsonl")},
      90s);
  d.process().signal(SIGTERM);
  const auto code = d.process().wait(20s);
  ASSERT_FALSE(r.results.is_null()) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0) << r.results["verdict"] << r.stderr_text;
  EXPECT_TRUE(r.results["pass"].get<bool>()) << r.results["verdict"];
  EXPECT_EQ(r.results["totals"]["sessions_ever_up"].get<int>(), kSessions);
  EXPECT_EQ(r.results["totals"]["sessions_up"].get<int>(), kSessions);
  EXPECT_EQ(r.results["events"]["online_users"].get<int>(), kSessions);
  EXPECT_EQ(d.event_lines("\"online\"").size(), static_cast<std::size_t>(kSessions));
  EXPECT_TRUE(d.event_lines("\"offline\"").empty());
  EXPECT_TRUE(code.has_value() && *code == 0)
      << "presenced did not exit cleanly on SIGTERM\n" << d.stderr_text();
}
#endif

// Usage errors: exit 2, naming the flag.
struct BadArgs {
  std::vector<std::string> args;
  std::string expected;
};

class LoadgenUsageTest : public ::testing::TestWithParam<BadArgs> {};

TEST_P(LoadgenUsageTest, ExitsTwoNamingTheFlag) {
  TempDir dir;
  write_file(dir.file("key"), "000102030405060708090a0b0c0d0e0f\n");
  write_file(dir.file("bad.key"), "nope\n");
  std::vector<std::string> args = GetParam().args;
  for (auto& a : args) {
    if (a == "KEY") a = dir.file("key");
    if (a == "BADKEY") a = dir.file("bad.key");
  }
  Process p(binary_path("PRESENCE_LOADGEN_BIN"), args, dir.file("stderr"));
  EXPECT_EQ(p.wait(20s).value_or(-1), 2);
  const std::string err = read_file(dir.file("stderr"));
  EXPECT_NE(err.find(GetParam().expected), std::string::npos) << err;
}

const std::vector<std::string> kBase = {"--server", "127.0.0.1:9", "--master-key-file", "KEY"};

std::vector<std::string> with_base(std::vector<std::string> extra) {
  std::vector<std::string> a = kBase;
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, LoadgenUsageTest,
    ::testing::Values(BadArgs{{"--master-key-file", "KEY"}, "--server"},
                      BadArgs{with_base({"--mode", "avalanche"}), "--mode"},
                      BadArgs{with_base({"--sessions", "0"}), "--sessions"},
                      BadArgs{with_base({"--duration", "soon"}), "--duration"},
                      BadArgs{with_base({"--sessions", "10", "--devices", "3"}), "--devices"},
                      BadArgs{with_base({"--mode", "churn"}), "--events-file"},
                      BadArgs{with_base({"--rate", "0.001"}), "--rate"},
                      BadArgs{with_base({"--status", "invisible"}), "--status"},
                      BadArgs{{"--server", "127.0.0.1:9", "--master-key-file", "BADKEY"},
                              "32 hex characters"},
                      BadArgs{with_base({"--server", "no such host:x"}), "--server"},
                      BadArgs{with_base({"--transport", "pigeon"}), "--transport"},
                      // Without --dpdk-args, or in a build without DPDK.
                      BadArgs{with_base({"--transport", "dpdk"}), "--transport dpdk"},
                      BadArgs{with_base({"--dpdk-args", "--no-huge"}), "--transport dpdk"}));

// The pure parts.
TEST(LoadgenHistogramTest, QuantilesWithinTheBucketError) {
  loadgen::Histogram h;
  for (uint64_t v = 1; v <= 100'000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100'000u);
  for (const double q : {0.5, 0.9, 0.99}) {
    const double want = q * 100'000;
    EXPECT_NEAR(static_cast<double>(h.quantile(q)), want, want / 50) << q;
  }
  EXPECT_EQ(h.quantile(1.0), 100'000u);
  loadgen::Histogram small;
  small.record(7);
  h += small;
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.count(), 100'001u);
  for (uint64_t v : {0ull, 63ull, 64ull, 1ull << 40, ~0ull}) {
    const uint32_t i = loadgen::Histogram::index(v);
    EXPECT_LT(i, loadgen::Histogram::kBuckets);
    EXPECT_LE(loadgen::Histogram::bucket_low(i), v);
    EXPECT_LT(v - loadgen::Histogram::bucket_low(i), loadgen::Histogram::bucket_width(i));
  }
}

TEST(LoadgenEventParserTest, ParsesTheServersLines) {
  loadgen::ParsedEvent e;
  ASSERT_TRUE(loadgen::parse_event_line(
      R"({"type":"offline","user":42,"status":"available","last_seen_ms":1800000000123,"seq":7})",
      e));
  EXPECT_EQ(e.kind, loadgen::EventKind::kOffline);
  EXPECT_EQ(e.user, 42u);
  EXPECT_EQ(e.last_seen_ms, 1800000000123);
  EXPECT_EQ(e.at_ms, 0);
  ASSERT_TRUE(loadgen::parse_event_line(
      R"({"user":7,"type":"online","status":"busy","last_seen_ms":5,"seq":1,"at_ms":9})", e));
  EXPECT_EQ(e.kind, loadgen::EventKind::kOnline);
  EXPECT_EQ(e.at_ms, 9);
  EXPECT_FALSE(loadgen::parse_event_line("garbage", e));
  EXPECT_FALSE(loadgen::parse_event_line(R"({"type":"online"})", e));
}

TEST(LoadgenEventTrackerTest, DelaysAndUnexpectedOfflines) {
  loadgen::EventTracker t(100, 1000, 0.5, 1);
  const uint64_t silenced = t.count_silenced();
  EXPECT_GT(silenced, 400u);
  EXPECT_LT(silenced, 600u);
  uint64_t quiet = 0, loud = 0;
  for (uint64_t u = 0; u < 1000; ++u) (t.is_silenced(u) ? quiet : loud) = u;
  loadgen::ParsedEvent e;
  e.kind = loadgen::EventKind::kOffline;
  e.user = 100 + quiet;
  e.last_seen_ms = 1'000'000;
  // Observed 2,000 + 5 ms after last_seen with a 2,000 ms timeout: 5 ms late.
  t.on_event(e, true, 2000, 0, (1'000'000 + 2005) * 1000);
  EXPECT_EQ(t.offline_expected(), 1u);
  EXPECT_EQ(t.delay_us().max(), 5000u);
  EXPECT_EQ(t.early(), 0u);
  e.user = 100 + loud;
  t.on_event(e, true, 2000, 0, (1'000'000 + 2005) * 1000);
  EXPECT_EQ(t.offline_unexpected(), 1u);
  e.user = 5;  // not ours
  t.on_event(e, true, 2000, 0, 0);
  EXPECT_EQ(t.foreign(), 1u);
}

TEST(LoadgenOptionsTest, DurationsAndChurnChoice) {
  uint64_t ms = 0;
  EXPECT_TRUE(loadgen::parse_duration("60s", ms));
  EXPECT_EQ(ms, 60'000u);
  EXPECT_TRUE(loadgen::parse_duration("250ms", ms));
  EXPECT_EQ(ms, 250u);
  EXPECT_TRUE(loadgen::parse_duration("2", ms));
  EXPECT_EQ(ms, 2'000u);
  EXPECT_TRUE(loadgen::parse_duration("1.5m", ms));
  EXPECT_EQ(ms, 90'000u);
  EXPECT_FALSE(loadgen::parse_duration("soon", ms));
  EXPECT_FALSE(loadgen::parse_duration("-1s", ms));
  uint64_t chosen = 0;
  for (uint64_t u = 0; u < 100'000; ++u) chosen += loadgen::churn_selected(u, 0.1, 3) ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(chosen), 10'000.0, 500.0);
  EXPECT_FALSE(loadgen::churn_selected(1, 0.0, 3));
  EXPECT_TRUE(loadgen::churn_selected(1, 1.0, 3));
}

}  // namespace
}  // namespace presenced::testing
