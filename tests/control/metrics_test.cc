// Prometheus rendering of the status snapshot (metrics.h), including a
// `promtool check metrics` run when promtool is installed.
#include "control/metrics.h"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/daemon_process.h"

namespace presenced::control {
namespace {

StatusSnapshot sample() {
  StatusSnapshot s;
  s.version = "1.2.3";
  s.backend = "uring";
  s.epoch = 99;
  s.uptime_ms = 61'500;
  s.max_sessions = 1000;
  s.events_delivered = 12;
  for (uint32_t c = 0; c < 2; ++c) {
    CoreStatus cs;
    cs.core = c;
    cs.cpu = static_cast<int>(c) + 1;
    cs.io.rx_datagrams = 1000 + c;
    cs.io.tx_datagrams = 900 + c;
    cs.engine.rx_datagrams = 1000 + c;
    cs.engine.heartbeats_accepted = 800 + c;
    cs.engine.drops[static_cast<std::size_t>(wire::DropReason::kBadMac)] = 7;
    cs.engine.events_online = 5;
    cs.engine.events_status = 2;
    cs.engine.events_offline = 3;
    cs.engine.advised_interval_s = 30;
    cs.engine.wheel_entries = 11;
    cs.sessions_online = 10 + c;
    cs.users_online = 9;
    cs.table_used = 50;
    cs.table_capacity = 500;
    s.cores.push_back(cs);
  }
  s.drain.active = false;
  return s;
}

json_codec::StreamStatus sample_stream() {
  json_codec::StreamStatus st;
  st.subscribers = 3;
  st.slow_consumers_cut = 2;
  st.backlog = 12;
  st.backlog_capacity = 100;
  st.last_event_id = 12;
  return st;
}

struct Family {
  std::string type;
  bool help = false;
  std::vector<std::string> samples;
};

// Parses the exposition text into families (by the TYPE/HELP lines).
std::map<std::string, Family> families(const std::string& text) {
  std::map<std::string, Family> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      out[line.substr(7, line.find(' ', 7) - 7)].help = true;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      out[rest.substr(0, rest.find(' '))].type = rest.substr(rest.find(' ') + 1);
    } else if (!line.empty()) {
      const std::string name = line.substr(0, line.find_first_of("{ "));
      out[name].samples.push_back(line);
    }
  }
  return out;
}

TEST(MetricsTest, EveryFamilyHasHelpTypeAndSamples) {
  const auto fams = families(render_metrics(sample(), sample_stream()));
  ASSERT_FALSE(fams.empty());
  for (const auto& [name, f] : fams) {
    EXPECT_TRUE(f.help) << name;
    EXPECT_TRUE(f.type == "counter" || f.type == "gauge") << name << " " << f.type;
    EXPECT_FALSE(f.samples.empty()) << name;
    const bool total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
    EXPECT_EQ(f.type == "counter", total) << name << ": counters (only) end in _total";
    EXPECT_EQ(name.rfind("presenced_", 0), 0u) << name;
  }
}

TEST(MetricsTest, PerCoreSeriesAndLabels) {
  const std::string text = render_metrics(sample(), sample_stream());
  for (const char* line : {
           "presenced_packets_received_total{core=\"0\"} 1000",
           "presenced_packets_sent_total{core=\"1\"} 901",
           "presenced_heartbeats_accepted_total{core=\"1\"} 801",
           "presenced_drops_total{core=\"0\",reason=\"bad_mac\"} 7",
           "presenced_drops_total{core=\"1\",reason=\"table_full\"} 0",
           "presenced_sessions_online{core=\"1\"} 11",
           "presenced_users_online{core=\"0\"} 9",
           "presenced_table_load_ratio{core=\"0\"} 0.1",
           "presenced_wheel_entries{core=\"0\"} 11",
           "presenced_advised_interval_seconds{core=\"0\"} 30",
           "presenced_events_published_total{core=\"0\",type=\"online\"} 5",
           "presenced_events_published_total{core=\"1\",type=\"status\"} 2",
           "presenced_events_published_total{core=\"1\",type=\"offline\"} 3",
           "presenced_slow_consumers_cut_total 2",
           "presenced_event_stream_subscribers 3",
           "presenced_uptime_seconds 61.5",
           "presenced_build_info{version=\"1.2.3\",backend=\"uring\",epoch=\"99\"} 1",
           "presenced_drain_active 0",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line;
  }
  // Every drop reason on every core, and never the "none" pseudo-reason.
  const auto fams = families(text);
  EXPECT_EQ(fams.at("presenced_drops_total").samples.size(), 2 * (wire::kDropReasonCount - 1));
  EXPECT_EQ(text.find("reason=\"none\""), std::string::npos);
  // The engine's per-type event counters are only in the labelled family.
  EXPECT_EQ(fams.count("presenced_events_online_total"), 0u);
}

TEST(MetricsTest, EngineCountersComeFromTheXMacroWithTheirHelp) {
  const std::string text = render_metrics(sample(), sample_stream());
#define PRESENCED_EXPECT_FAMILY(name, help)                                          \
  if (std::string_view(#name).rfind("events_", 0) != 0 &&                            \
      std::string_view(#name) != "rx_datagrams") {                                   \
    const std::string n = counter_metric_name(#name);                                \
    EXPECT_NE(text.find("# HELP " + n + " " + help + "\n"), std::string::npos) << n; \
    EXPECT_NE(text.find("# TYPE " + n + " counter\n"), std::string::npos) << n;      \
  }
  PRESENCED_CORE_COUNTERS(PRESENCED_EXPECT_FAMILY)
#undef PRESENCED_EXPECT_FAMILY
}

TEST(MetricsTest, CounterNamesCarryTheirUnit) {
  EXPECT_EQ(counter_metric_name("acks_sent"), "presenced_acks_sent_total");
  EXPECT_EQ(counter_metric_name("drain_total"), "presenced_drain_total");
  EXPECT_EQ(counter_metric_name("stalled_ms"), "presenced_stalled_seconds_total");
}

TEST(MetricsTest, PromtoolAcceptsIt) {
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  presenced::testing::TempDir dir;
  presenced::testing::write_file(dir.file("metrics.txt"),
                                 render_metrics(sample(), sample_stream()));
  const std::string cmd = "/usr/bin/promtool check metrics < " + dir.file("metrics.txt") + " > " +
                          dir.file("out.txt") + " 2>&1";
  const int st = std::system(cmd.c_str());
  const std::string out = presenced::testing::read_file(dir.file("out.txt"));
  ASSERT_TRUE(WIFEXITED(st)) << out;
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  EXPECT_EQ(out, "") << "promtool lint findings";
}

}  // namespace
}  // namespace presenced::control
