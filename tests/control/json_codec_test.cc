// The control plane's JSON shapes and request validation (json_codec.h).
#include "control/json_codec.h"

#include <cctype>

#include <gtest/gtest.h>

namespace presenced::control::json_codec {
namespace {

Json parse(const std::string& text) {
  return Json::parse(text);
}

struct PatchResult {
  bool ok = false;
  std::string error;
  engine::EngineConfig config;
  log::Level level = log::Level::kInfo;
};

PatchResult patch(const std::string& body) {
  PatchResult r;
  r.ok = apply_config_patch(parse(body), r.config, r.level, &r.error);
  return r;
}

TEST(ConfigPatchTest, AppliesEveryKey) {
  const PatchResult r =
      patch(R"({"interval_s":20,"miss_limit":4,"grace_ms":1500,"linger_ms":0,"min_interval_s":5,)"
            R"("max_interval_s":600,"heartbeat_budget":0,"tick_ms":5,"admission_rate":1000,)"
            R"("source_invalid_budget":0,"stall_threshold_ms":2500,"restart_grace_ms":0,)"
            R"("log_level":"debug"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.config.interval_s, 20u);
  EXPECT_EQ(r.config.miss_limit, 4u);
  EXPECT_EQ(r.config.grace_ms, 1500u);
  EXPECT_EQ(r.config.linger_ms, 0u);
  EXPECT_EQ(r.config.min_interval_s, 5u);
  EXPECT_EQ(r.config.max_interval_s, 600u);
  EXPECT_EQ(r.config.heartbeat_budget, 0u);
  EXPECT_EQ(r.config.tick_ms, 5u);
  EXPECT_EQ(r.config.admission_rate, 1000u);
  EXPECT_EQ(r.config.source_invalid_budget, 0u);
  EXPECT_EQ(r.config.stall_threshold_ms, 2500u);
  EXPECT_EQ(r.config.restart_grace_ms, 0u);
  EXPECT_EQ(r.level, log::Level::kDebug);
}

TEST(ConfigPatchTest, ASubsetLeavesTheRest) {
  const PatchResult r = patch(R"({"interval_s":45})");
  ASSERT_TRUE(r.ok) << r.error;
  engine::EngineConfig expected;
  expected.interval_s = 45;
  EXPECT_EQ(r.config, expected);
  EXPECT_TRUE(patch("{}").ok);
}

TEST(ConfigPatchTest, RefusalsNameTheKeyAndTheRange) {
  struct Case {
    const char* body;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"interval_s":0})", "interval_s must be an integer in [1, 3600] seconds"},
      {R"({"interval_s":"30"})", "interval_s must be an integer in [1, 3600] seconds"},
      {R"({"interval_s":30.5})", "interval_s must be an integer in [1, 3600] seconds"},
      {R"({"interval_s":-1})", "interval_s must be an integer in [1, 3600] seconds"},
      {R"({"interval_s":null})", "interval_s must be an integer"},
      {R"({"miss_limit":11})", "miss_limit must be an integer in [1, 10]"},
      {R"({"grace_ms":600001})", "grace_ms must be an integer in [0, 600000] ms"},
      {R"({"linger_ms":60001})", "linger_ms must be an integer in [0, 60000] ms"},
      {R"({"min_interval_s":true})", "min_interval_s must be an integer in [1, 3600] seconds"},
      {R"({"max_interval_s":3601})", "max_interval_s must be an integer in [1, 3600] seconds"},
      {R"({"heartbeat_budget":1000000001})",
       "heartbeat_budget must be an integer in [0, 1000000000]"},
      {R"({"tick_ms":0})", "tick_ms must be an integer in [1, 1000] ms"},
      {R"({"tick_ms":1001})", "tick_ms must be an integer in [1, 1000] ms"},
      {R"({"admission_rate":100000001})",
       "admission_rate must be an integer in [0, 100000000] sessions/s"},
      {R"({"source_invalid_budget":-5})", "source_invalid_budget must be an integer in [0, "},
      {R"({"stall_threshold_ms":99})", "stall_threshold_ms must be an integer in [100, 600000] ms"},
      {R"({"restart_grace_ms":3600001})",
       "restart_grace_ms must be an integer in [0, 3600000] ms"},
      {R"({"log_level":"loud"})", "log_level must be one of error, warn, info, debug"},
      {R"({"log_level":3})", "log_level must be one of"},
      {R"({"interval":30})", "unknown key \"interval\""},
      {R"({"interval_s":30,"bogus":1})", "unknown key \"bogus\""},
      // Cross-field checks come from engine::validate(), renamed to keys.
      {R"({"interval_s":5})",
       "interval_s must be in [10, 300] seconds (between min_interval_s and max_interval_s)"},
      {R"({"min_interval_s":400})", "min_interval_s (400) must not exceed max_interval_s (300)"},
      {"[1,2]", "must be a JSON object"},
      {"\"x\"", "must be a JSON object"},
  };
  for (const Case& c : cases) {
    const PatchResult r = patch(c.body);
    EXPECT_FALSE(r.ok) << c.body;
    EXPECT_NE(r.error.find(c.expected), std::string::npos) << c.body << " -> " << r.error;
  }
}

TEST(ConfigPatchTest, EveryValidateMessageNamesAJsonKey) {
  // Break each field in turn past what the patch parser checks itself
  // (cross-field rules), and any message engine::validate() gives.
  std::vector<engine::EngineConfig> bad(10);
  bad[0].interval_s = 0;
  bad[1].min_interval_s = 0;
  bad[2].max_interval_s = 5000;
  bad[3].min_interval_s = 50;
  bad[3].max_interval_s = 40;
  bad[4].interval_s = 400;
  bad[5].tick_ms = 0;
  bad[6].admission_rate = engine::ConfigLimits::kAdmissionMax + 1;
  bad[7].source_invalid_budget = engine::ConfigLimits::kSourceBudgetMax + 1;
  bad[8].stall_threshold_ms = 0;
  bad[9].restart_grace_ms = engine::ConfigLimits::kRestartGraceMax + 1;
  for (const auto& c : bad) {
    const auto err = engine::validate(c);
    ASSERT_TRUE(err.has_value());
    const std::string m = config_message_as_keys(*err);
    bool starts_with_key = false;
    for (const std::string& k : config_keys()) {
      starts_with_key = starts_with_key || m.rfind(k + " ", 0) == 0;
    }
    EXPECT_TRUE(starts_with_key) << m;
    // No field is left under its engine name.
    std::string word;
    for (char ch : m + " ") {
      if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') {
        word += ch;
        continue;
      }
      for (const char* engine_name :
           {"interval", "grace", "linger", "min_interval", "max_interval", "tick",
            "stall_threshold", "restart_grace"}) {
        EXPECT_NE(word, engine_name) << m;
      }
      word.clear();
    }
  }
  EXPECT_EQ(config_message_as_keys("grace must be in [0, 600000] ms"),
            "grace_ms must be in [0, 600000] ms");
  EXPECT_EQ(config_message_as_keys("tick must be in [1, 1000] ms"),
            "tick_ms must be in [1, 1000] ms");
  EXPECT_EQ(config_message_as_keys("linger must be in [0, 60000] ms"),
            "linger_ms must be in [0, 60000] ms");
}

TEST(ConfigJsonTest, HasEveryKeyInOrder) {
  const Json j = config_json(engine::EngineConfig{}, log::Level::kWarn);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, config_keys());
  EXPECT_EQ(j["interval_s"], 30);
  EXPECT_EQ(j["grace_ms"], 2000);
  EXPECT_EQ(j["log_level"], "warn");
}

TEST(ReconnectRequestTest, Scopes) {
  ReconnectRequest r;
  std::string error;
  ASSERT_TRUE(parse_reconnect(parse(R"({"user":42})"), r, &error)) << error;
  EXPECT_EQ(r.scope, engine::ReconnectScope::kUser);
  EXPECT_EQ(r.user, 42u);
  EXPECT_EQ(r.directive.reason, wire::ReconnectReason::kOperator);
  EXPECT_EQ(r.directive.target.family, 0);
  EXPECT_EQ(r.directive.spread_ms, 0u);

  ASSERT_TRUE(parse_reconnect(parse(R"({"user":42,"device":7,"target":"10.1.2.3:7460",)"
                                    R"("spread_ms":5000,"reason":"rebalance"})"),
                              r, &error))
      << error;
  EXPECT_EQ(r.scope, engine::ReconnectScope::kDevice);
  EXPECT_EQ(r.device, 7u);
  EXPECT_EQ(to_string(r.directive.target), "10.1.2.3:7460");
  EXPECT_EQ(r.directive.spread_ms, 5000u);
  EXPECT_EQ(r.directive.reason, wire::ReconnectReason::kRebalance);

  ASSERT_TRUE(
      parse_reconnect(parse(R"({"all":true,"target":"[::1]:9","reason":"drain"})"), r, &error))
      << error;
  EXPECT_EQ(r.scope, engine::ReconnectScope::kAll);
  EXPECT_EQ(r.directive.target.family, 6);
  EXPECT_EQ(r.directive.reason, wire::ReconnectReason::kDrain);

  ASSERT_TRUE(parse_reconnect(parse(R"({"user":18446744073709551615})"), r, &error)) << error;
  EXPECT_EQ(r.user, 18446744073709551615u);
}

TEST(ReconnectRequestTest, RefusalsNameTheKey) {
  struct Case {
    const char* body;
    const char* expected;
  };
  const Case cases[] = {
      {"{}", "give user"},
      {R"({"device":1})", "device needs user"},
      {R"({"all":true,"user":1})", "not both"},
      {R"({"all":false})", "all must be true"},
      {R"({"all":1})", "all must be true"},
      {R"({"user":0})", "user must be an integer in [1, 18446744073709551615]"},
      {R"({"user":"42"})", "user must be an integer"},
      {R"({"user":1,"device":4294967296})", "device must be an integer in [0, 4294967295]"},
      {R"({"user":1,"target":"nowhere"})", "target must be"},
      {R"({"user":1,"target":7460})", "target must be"},
      {R"({"user":1,"spread_ms":3600001})", "spread_ms must be an integer in [0, 3600000] ms"},
      {R"({"user":1,"spread_ms":-5})", "spread_ms must be an integer"},
      {R"({"user":1,"reason":"boredom"})", "reason must be one of drain, operator"},
      {R"({"user":1,"delay":5})", "unknown key \"delay\""},
      {"[]", "must be a JSON object"},
  };
  for (const Case& c : cases) {
    ReconnectRequest r;
    std::string error;
    EXPECT_FALSE(parse_reconnect(parse(c.body), r, &error)) << c.body;
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.body << " -> " << error;
  }
}

TEST(DrainRequestTest, DefaultsAndRefusals) {
  engine::ReconnectDirective d;
  uint32_t rate = 50'000;
  std::string error;
  ASSERT_TRUE(parse_drain(parse("{}"), d, rate, &error)) << error;
  EXPECT_EQ(rate, 50'000u);
  EXPECT_EQ(d.reason, wire::ReconnectReason::kDrain);
  EXPECT_EQ(d.target.family, 0);
  ASSERT_TRUE(
      parse_drain(parse(R"({"target":"1.2.3.4:5","spread_ms":100,"rate":7})"), d, rate, &error))
      << error;
  EXPECT_EQ(rate, 7u);
  EXPECT_EQ(to_string(d.target), "1.2.3.4:5");
  EXPECT_EQ(d.spread_ms, 100u);
  EXPECT_FALSE(parse_drain(parse(R"({"rate":0})"), d, rate, &error));
  EXPECT_NE(error.find("rate must be an integer in [1, 10000000]"), std::string::npos) << error;
  EXPECT_FALSE(parse_drain(parse(R"({"reason":"operator"})"), d, rate, &error));
  EXPECT_NE(error.find("unknown key \"reason\""), std::string::npos) << error;
}

TEST(BatchRequestTest, LimitsAndElements) {
  std::vector<uint64_t> users;
  std::string error;
  Json body;
  body["users"] = Json::array();
  for (uint64_t u = 1; u <= kMaxBatchUsers; ++u) body["users"].push_back(u);
  EXPECT_EQ(parse_batch(body, users, &error), BatchResult::kOk) << error;
  EXPECT_EQ(users.size(), kMaxBatchUsers);
  body["users"].push_back(1);
  EXPECT_EQ(parse_batch(body, users, &error), BatchResult::kTooMany);
  EXPECT_NE(error.find("at most 10000"), std::string::npos) << error;
  EXPECT_EQ(parse_batch(parse(R"({"users":[1,2,"3"]})"), users, &error), BatchResult::kBad);
  EXPECT_NE(error.find("users[2] must be an integer"), std::string::npos) << error;
  EXPECT_EQ(parse_batch(parse(R"({"users":[0]})"), users, &error), BatchResult::kBad);
  EXPECT_EQ(parse_batch(parse(R"({"user":[1]})"), users, &error), BatchResult::kBad);
  EXPECT_EQ(parse_batch(parse(R"({"users":5})"), users, &error), BatchResult::kBad);
  EXPECT_EQ(parse_batch(parse(R"({"users":[]})"), users, &error), BatchResult::kOk);
  EXPECT_TRUE(users.empty());
}

TEST(UserIdTest, DecimalInRange) {
  uint64_t u = 0;
  EXPECT_TRUE(parse_user_id("1", u));
  EXPECT_EQ(u, 1u);
  EXPECT_TRUE(parse_user_id("18446744073709551615", u));
  EXPECT_EQ(u, 18446744073709551615u);
  for (const char* bad : {"0", "", "18446744073709551616", "-1", "+1", "1x", "0x10", " 1"}) {
    EXPECT_FALSE(parse_user_id(bad, u)) << bad;
  }
}

StatusSnapshot sample_status() {
  StatusSnapshot s;
  s.version = "9.9.9";
  s.backend = "socket";
  s.epoch = 77;
  s.uptime_ms = 1234;
  s.listen = NetAddr::v4_bytes(127, 0, 0, 1, 7460);
  s.max_sessions = 1000;
  s.events_delivered = 5;
  for (uint32_t c = 0; c < 2; ++c) {
    CoreStatus cs;
    cs.core = c;
    cs.cpu = static_cast<int>(c) + 1;
    cs.io.rx_datagrams = 100 + c;
    cs.io.tx_datagrams = 90 + c;
    cs.engine.heartbeats_accepted = 80 + c;
    cs.engine.byes_accepted = 2;
    cs.engine.drops[static_cast<std::size_t>(wire::DropReason::kBadMac)] = 3;
    cs.engine.drops[static_cast<std::size_t>(wire::DropReason::kReplay)] = 1;
    cs.engine.events_online = 4;
    cs.engine.events_status = 1;
    cs.engine.events_offline = 2;
    cs.engine.wheel_entries = 9;
    cs.engine.advised_interval_s = 30;
    cs.sessions_online = 10;
    cs.users_online = 8;
    cs.table_used = 25;
    cs.table_capacity = 500;
    s.cores.push_back(cs);
    s.total.engine += cs.engine;
    s.total.io += cs.io;
    s.total.sessions_online += cs.sessions_online;
    s.total.users_online += cs.users_online;
    s.total.table_used += cs.table_used;
    s.total.table_capacity += cs.table_capacity;
  }
  s.drain.active = true;
  s.drain.total = 20;
  s.drain.pushed = 5;
  s.drain.rate = 100;
  s.drain.directive.reason = wire::ReconnectReason::kDrain;
  return s;
}

TEST(StatusJsonTest, CarriesTheDocumentedShape) {
  StreamStatus st;
  st.subscribers = 2;
  st.slow_consumers_cut = 1;
  st.backlog = 5;
  st.backlog_capacity = 100;
  st.last_event_id = 5;
  const Json j = status_json(sample_status(), st);
  for (const char* key : {"version", "backend", "epoch", "uptime_ms", "listen", "max_sessions",
                          "events_delivered", "cores", "total", "drain", "stream"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["listen"], "127.0.0.1:7460");
  ASSERT_EQ(j["cores"].size(), 2u);
  const Json& c1 = j["cores"][1];
  for (const char* key :
       {"core", "cpu", "packets_in", "packets_out", "heartbeats_accepted", "byes_accepted", "drops",
        "drops_total", "sessions_online", "users_online", "table_used", "table_capacity",
        "table_load", "wheel_entries", "events_published", "advised_interval_s"}) {
    EXPECT_TRUE(c1.contains(key)) << key;
  }
  EXPECT_EQ(c1["core"], 1);
  EXPECT_EQ(c1["cpu"], 2);
  EXPECT_EQ(c1["packets_in"], 101);
  EXPECT_EQ(c1["heartbeats_accepted"], 81);
  EXPECT_EQ(c1["drops_total"], 4);
  EXPECT_EQ(c1["events_published"], 7);
  EXPECT_DOUBLE_EQ(c1["table_load"].get<double>(), 0.05);
  // Every drop reason is present, zeros included; "none" is not a reason.
  EXPECT_EQ(c1["drops"].size(), wire::kDropReasonCount - 1);
  EXPECT_FALSE(c1["drops"].contains("none"));
  EXPECT_EQ(c1["drops"]["bad_mac"], 3);
  EXPECT_EQ(c1["drops"]["table_full"], 0);
  // Every engine counter under its own name.
  EXPECT_EQ(c1["counters"]["events_online"], 4);
  EXPECT_FALSE(j["total"].contains("core"));
  EXPECT_EQ(j["total"]["packets_in"], 201);
  EXPECT_EQ(j["total"]["drops"]["bad_mac"], 6);
  EXPECT_EQ(j["drain"]["active"], true);
  EXPECT_EQ(j["drain"]["remaining"], 15);
  EXPECT_EQ(j["drain"]["reason"], "drain");
  EXPECT_TRUE(j["drain"]["target"].is_null());
  EXPECT_EQ(j["stream"]["slow_consumers_cut"], 1);
}

TEST(UserJsonTest, DevicesWithAddresses) {
  UserInfo u;
  u.user = 42;
  u.online = true;
  u.status = wire::Status::kBusy;
  u.last_seen_ms = 1'800'000'000'123;
  DeviceInfo d;
  d.device = 3;
  d.online = true;
  d.status = wire::Status::kBusy;
  d.last_seen_ms = 1'800'000'000'123;
  d.address = NetAddr::v4_bytes(10, 0, 0, 1, 40000);
  d.interval_s = 30;
  d.reconnect_pending = true;
  u.devices.push_back(d);
  DeviceInfo never;
  never.device = 4;
  u.devices.push_back(never);
  const Json j = user_json(u);
  EXPECT_EQ(j["user"], 42);
  EXPECT_EQ(j["online"], true);
  EXPECT_EQ(j["lingering"], false);
  EXPECT_EQ(j["status"], "busy");
  EXPECT_EQ(j["last_seen_ms"], 1'800'000'000'123);
  ASSERT_EQ(j["devices"].size(), 2u);
  const Json& d0 = j["devices"][0];
  for (const char* key : {"device", "online", "status", "last_seen_ms", "address", "interval_s",
                          "reconnect_pending"}) {
    EXPECT_TRUE(d0.contains(key)) << key;
  }
  EXPECT_EQ(d0["address"], "10.0.0.1:40000");
  EXPECT_EQ(d0["reconnect_pending"], true);
  EXPECT_TRUE(j["devices"][1]["address"].is_null());
}

TEST(ErrorBodyTest, IsJsonWithTheMessage) {
  const Json j = parse(error_body("user \"x\" not found"));
  EXPECT_EQ(j["error"], "user \"x\" not found");
}

}  // namespace
}  // namespace presenced::control::json_codec
