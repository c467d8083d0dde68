// The HTTP routes of the control plane (http_api.h) against a fake target:
// every status code path, the token, the SSE stream (resume, reset,
// keepalive, clean end on stop, stream limit). The real server is tested
// in tests/integration/control_api_test.cc.
#include "control/http_api.h"

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "control/json_codec.h"
#include "control/metrics.h"
#include "tests/support/sse_reader.h"
#include "tools/ctl/sse_parser.h"

namespace presenced::control {
namespace {

using namespace std::chrono_literals;
using Json = json_codec::Json;

class FakeTarget final : public ControlTarget {
 public:
  StatusSnapshot status() const override {
    StatusSnapshot s;
    s.version = "test";
    s.backend = "socket";
    s.cores.resize(2);
    s.cores[1].core = 1;
    s.cores[0].engine.heartbeats_accepted = 5;
    s.drain = drain_status();
    return s;
  }
  std::optional<UserInfo> query_user(uint64_t user) const override {
    if (user % 2 == 1) return std::nullopt;  // odd users are unknown
    UserInfo u;
    u.user = user;
    u.online = true;
    DeviceInfo d;
    d.device = 1;
    u.devices.push_back(d);
    return u;
  }
  engine::EngineConfig engine_config() const override {
    std::lock_guard<std::mutex> lock(mutex);
    return config;
  }
  bool apply_config(const engine::EngineConfig& c, uint32_t) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++applied;
    if (refuse_config) return false;
    config = c;
    return true;
  }
  bool request_reconnect(const ReconnectRequest& r, std::string* error) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!reconnect_error.empty()) {
      *error = reconnect_error;
      return false;
    }
    reconnects.push_back(r);
    return true;
  }
  bool start_drain(const engine::ReconnectDirective& d, uint32_t rate,
                   std::string* error) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!drain_error.empty()) {
      *error = drain_error;
      return false;
    }
    drain.active = true;
    drain.directive = d;
    drain.rate = rate;
    return true;
  }
  DrainStatus drain_status() const override {
    std::lock_guard<std::mutex> lock(mutex);
    return drain;
  }

  mutable std::mutex mutex;
  engine::EngineConfig config;
  int applied = 0;
  bool refuse_config = false;
  std::string reconnect_error;
  std::string drain_error;
  std::vector<ReconnectRequest> reconnects;
  DrainStatus drain;
};

class HttpApiTest : public ::testing::Test {
 protected:
  void start(ControlOptions o = {}) {
    o.listen = NetAddr::v4_bytes(127, 0, 0, 1, 0);
    if (o.keepalive == ControlOptions{}.keepalive) o.keepalive = 100ms;
    server_ = std::make_unique<ControlServer>(target_, stream_, o);
    std::string error;
    ASSERT_TRUE(server_->bind(&error)) << error;
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->address().port);
    client_->set_read_timeout(10, 0);
    if (!o.token.empty()) client_->set_bearer_token_auth(o.token);
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  // Status and parsed body; the body of an error is {"error": ...}.
  struct Answer {
    int status = 0;
    Json body;
    std::string raw;
    std::string allow;
    std::string content_type;
  };
  static Answer answer(const httplib::Result& r) {
    Answer a;
    if (!r) {
      ADD_FAILURE() << "no answer: " << httplib::to_string(r.error());
      return a;
    }
    a.status = r->status;
    a.raw = r->body;
    a.allow = r->get_header_value("Allow");
    a.content_type = r->get_header_value("Content-Type");
    try {
      a.body = Json::parse(r->body);
    } catch (const Json::exception&) {
    }
    return a;
  }
  Answer get(const std::string& path) { return answer(client_->Get(path)); }
  Answer post(const std::string& path, const std::string& body) {
    return answer(client_->Post(path, body, "application/json"));
  }
  Answer patch(const std::string& path, const std::string& body) {
    return answer(client_->Patch(path, body, "application/json"));
  }

  static void expect_error(const Answer& a, int status, const std::string& needle) {
    EXPECT_EQ(a.status, status) << a.raw;
    ASSERT_TRUE(a.body.is_object() && a.body.contains("error")) << a.raw;
    EXPECT_NE(a.body["error"].get<std::string>().find(needle), std::string::npos) << a.raw;
    EXPECT_EQ(a.content_type, "application/json");
  }

  FakeTarget target_;
  EventStream stream_{8};
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpApiTest, StatusAndMetrics) {
  start();
  const Answer s = get("/v1/status");
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.content_type, "application/json");
  EXPECT_EQ(s.body["version"], "test");
  EXPECT_EQ(s.body["cores"].size(), 2u);
  EXPECT_EQ(s.body["cores"][0]["heartbeats_accepted"], 5);
  EXPECT_EQ(s.body["stream"]["backlog_capacity"], 8);
  const Answer m = get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, kMetricsContentType);
  EXPECT_NE(m.raw.find("presenced_heartbeats_accepted_total{core=\"0\"} 5\n"), std::string::npos);
}

TEST_F(HttpApiTest, UnknownRoutesAre404AndWrongMethods405) {
  start();
  expect_error(get("/nope"), 404, "no such route: GET /nope");
  expect_error(get("/v1"), 404, "no such route");
  expect_error(get("/v1/users"), 404, "no such route");
  expect_error(post("/v1/nope", "{}"), 404, "no such route: POST /v1/nope");
  const Answer a = post("/v1/status", "{}");
  expect_error(a, 405, "method POST not allowed on /v1/status");
  EXPECT_EQ(a.allow, "GET, HEAD");
  expect_error(get("/v1/reconnect"), 405, "not allowed");
  expect_error(get("/v1/users:batch"), 405, "not allowed");
  expect_error(post("/v1/users/2", "{}"), 405, "not allowed");
  expect_error(answer(client_->Delete("/v1/config")), 405, "not allowed");
  expect_error(answer(client_->Put("/v1/config", "{}", "application/json")), 405, "not allowed");
  EXPECT_EQ(answer(client_->Put("/v1/drain", "{}", "application/json")).allow, "GET, HEAD, POST");
}

TEST_F(HttpApiTest, BodiesOverTheLimitAre413) {
  start();
  const std::string big(ControlOptions{}.max_body_bytes + 1, ' ');
  expect_error(post("/v1/users:batch", big), 413, "larger than 1048576 bytes");
  expect_error(patch("/v1/config", big), 413, "larger than");
  // The connection is still usable afterwards.
  EXPECT_EQ(get("/v1/status").status, 200);
}

TEST_F(HttpApiTest, Users) {
  start();
  const Answer u = get("/v1/users/42");
  EXPECT_EQ(u.status, 200);
  EXPECT_EQ(u.body["user"], 42);
  EXPECT_EQ(u.body["devices"].size(), 1u);
  expect_error(get("/v1/users/43"), 404, "user 43 not found");
  expect_error(get("/v1/users/0"), 400, "user must be a decimal integer");
  expect_error(get("/v1/users/abc"), 400, "user must be a decimal integer");
  expect_error(get("/v1/users/18446744073709551616"), 400, "user must be");
}

TEST_F(HttpApiTest, BatchQuery) {
  start();
  Json body;
  body["users"] = Json::array();
  for (uint64_t u = 1; u <= 10'000; ++u) body["users"].push_back(u);
  const Answer a = post("/v1/users:batch", body.dump());
  ASSERT_EQ(a.status, 200) << a.raw.substr(0, 200);
  EXPECT_EQ(a.body["users"].size(), 5000u);
  EXPECT_EQ(a.body["unknown"].size(), 5000u);
  EXPECT_EQ(a.body["users"][0]["user"], 2);
  EXPECT_EQ(a.body["unknown"][0], 1);
  body["users"].push_back(10'001);
  expect_error(post("/v1/users:batch", body.dump()), 413, "at most 10000");
  expect_error(post("/v1/users:batch", "{\"users\":[1,\"x\"]}"), 400, "users[1]");
  expect_error(post("/v1/users:batch", "{\"users\":"), 400, "invalid JSON");
  expect_error(post("/v1/users:batch", ""), 400, "invalid JSON");
}

TEST_F(HttpApiTest, ConfigGetAndPatch) {
  start();
  const Answer g = get("/v1/config");
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body["interval_s"], 30);
  const log::Level saved = log::level();
  const Answer p = patch("/v1/config", R"({"interval_s":20,"grace_ms":500,"log_level":"warn"})");
  EXPECT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.body["interval_s"], 20);
  EXPECT_EQ(p.body["grace_ms"], 500);
  EXPECT_EQ(p.body["log_level"], "warn");
  EXPECT_EQ(target_.engine_config().interval_s, 20u);
  EXPECT_EQ(log::level(), log::Level::kWarn);
  log::set_level(saved);
  EXPECT_EQ(target_.applied, 1);
  // No change: nothing is sent to the cores.
  EXPECT_EQ(patch("/v1/config", R"({"interval_s":20})").status, 200);
  EXPECT_EQ(target_.applied, 1);
  expect_error(patch("/v1/config", R"({"tick_ms":0})"), 400,
               "tick_ms must be an integer in [1, 1000] ms");
  expect_error(patch("/v1/config", R"({"speed":1})"), 400, "unknown key \"speed\"");
  expect_error(patch("/v1/config", R"({"interval_s":5})"), 400,
               "interval_s must be in [10, 300] seconds");
  expect_error(patch("/v1/config", "not json"), 400, "invalid JSON");
  EXPECT_EQ(target_.engine_config().interval_s, 20u) << "refused patches change nothing";
  target_.refuse_config = true;
  expect_error(patch("/v1/config", R"({"interval_s":25})"), 503, "did not apply");
}

TEST_F(HttpApiTest, Reconnect) {
  start();
  Answer a = post("/v1/reconnect", R"({"user":42,"device":1,"target":"10.0.0.9:7460",)"
                                   R"("spread_ms":1000,"reason":"rebalance"})");
  EXPECT_EQ(a.status, 202) << a.raw;
  EXPECT_EQ(a.body["scope"], "device");
  EXPECT_EQ(a.body["target"], "10.0.0.9:7460");
  ASSERT_EQ(target_.reconnects.size(), 1u);
  EXPECT_EQ(target_.reconnects[0].scope, engine::ReconnectScope::kDevice);
  EXPECT_EQ(target_.reconnects[0].user, 42u);
  EXPECT_EQ(target_.reconnects[0].device, 1u);
  EXPECT_EQ(target_.reconnects[0].directive.spread_ms, 1000u);
  EXPECT_EQ(target_.reconnects[0].directive.reason, wire::ReconnectReason::kRebalance);
  a = post("/v1/reconnect", R"({"all":true})");
  EXPECT_EQ(a.status, 202);
  EXPECT_EQ(a.body["scope"], "all");
  EXPECT_TRUE(a.body["target"].is_null());
  expect_error(post("/v1/reconnect", R"({"user":43})"), 404, "user 43 not found");
  expect_error(post("/v1/reconnect", R"({"user":42,"device":9})"), 404,
               "device 9 of user 42 not found");
  expect_error(post("/v1/reconnect", R"({"user":42,"reason":"whim"})"), 400, "reason must be");
  expect_error(post("/v1/reconnect", "{"), 400, "invalid JSON");
  target_.reconnect_error = "too many pending directives";
  expect_error(post("/v1/reconnect", R"({"user":42})"), 503, "too many pending directives");
}

TEST_F(HttpApiTest, Drain) {
  ControlOptions o;
  o.default_drain_rate = 1234;
  start(o);
  EXPECT_EQ(get("/v1/drain").body["active"], false);
  expect_error(post("/v1/drain", R"({"rate":0})"), 400, "rate must be");
  expect_error(post("/v1/drain", R"({"spread_ms":"soon"})"), 400, "spread_ms must be");
  const Answer a = post("/v1/drain", R"({"target":"10.0.0.2:7460"})");
  EXPECT_EQ(a.status, 202) << a.raw;
  EXPECT_EQ(a.body["active"], true);
  EXPECT_EQ(a.body["rate"], 1234) << "the flag's default rate";
  EXPECT_EQ(a.body["reason"], "drain");
  EXPECT_EQ(a.body["target"], "10.0.0.2:7460");
  EXPECT_EQ(get("/v1/drain").body["active"], true);
  EXPECT_EQ(get("/v1/status").body["drain"]["active"], true);
  expect_error(post("/v1/drain", "{}"), 409, "already running");
}

TEST_F(HttpApiTest, DrainErrorsFromTheServerAre503) {
  start();
  target_.drain_error = "not now";
  expect_error(post("/v1/drain", "{}"), 503, "not now");
}

TEST_F(HttpApiTest, TokenIsRequiredWhenConfigured) {
  ControlOptions o;
  o.token = "s3cret";
  start(o);
  EXPECT_EQ(get("/v1/status").status, 200);
  httplib::Client anonymous("127.0.0.1", server_->address().port);
  for (const char* path : {"/v1/status", "/metrics", "/v1/events", "/nope", "/v1/users/2"}) {
    const Answer a = answer(anonymous.Get(path));
    expect_error(a, 401, "bearer token");
  }
  expect_error(answer(anonymous.Post("/v1/drain", "{}", "application/json")), 401, "bearer");
  EXPECT_FALSE(target_.drain.active);
  httplib::Client wrong("127.0.0.1", server_->address().port);
  wrong.set_bearer_token_auth("s3cre");
  expect_error(answer(wrong.Get("/v1/status")), 401, "bearer token");
  const auto r = anonymous.Get("/v1/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"presenced\"");
}

using testing::read_sse;
using testing::SseRead;

void deliver(EventStream& s, uint64_t first_user, std::size_t n) {
  std::vector<engine::PresenceEvent> batch(n);
  for (std::size_t i = 0; i < n; ++i) batch[i].user = first_user + i;
  s.deliver(batch.data(), batch.size());
}

TEST_F(HttpApiTest, EventsResumeWithLastEventId) {
  start();
  deliver(stream_, 1, 5);  // ids 1..5
  const SseRead r =
      read_sse(server_->address().port, 2, [](const SseRead& s) { return s.events.size() >= 3; });
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(r.events.size(), 3u) << r.raw;
  EXPECT_EQ(r.events[0].id, "3");
  EXPECT_EQ(r.events[2].id, "5");
  EXPECT_EQ(r.events[0].type, "online");
  const Json data = Json::parse(r.events[0].data);
  EXPECT_EQ(data["user"], 3);
  EXPECT_EQ(data["type"], "online");
  EXPECT_NE(r.raw.find("retry: 1000\n"), std::string::npos);
}

TEST_F(HttpApiTest, EventsResetWhenTheBacklogIsGone) {
  start();
  deliver(stream_, 1, 20);  // backlog 8: holds 13..20
  const SseRead r =
      read_sse(server_->address().port, 3, [](const SseRead& s) { return s.events.size() >= 9; });
  ASSERT_EQ(r.events.size(), 9u) << r.raw;
  EXPECT_EQ(r.events[0].type, "reset");
  EXPECT_FALSE(r.events[0].id.has_value()) << "a reset carries no id";
  const Json reset = Json::parse(r.events[0].data);
  EXPECT_EQ(reset["reason"], "backlog");
  EXPECT_EQ(reset["missed_from"], 4);
  EXPECT_EQ(reset["resume_at"], 13);
  EXPECT_EQ(r.events[1].id, "13");
  EXPECT_EQ(r.events[8].id, "20");
}

TEST_F(HttpApiTest, EventsLiveWithKeepalives) {
  start();
  std::atomic<bool> connected{false};
  std::thread producer([&] {
    for (int i = 0; i < 500 && stream_.stats().subscribers == 0; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    connected = true;
    std::this_thread::sleep_for(250ms);  // a keepalive or two first
    deliver(stream_, 1, 2);
  });
  const SseRead r = read_sse(server_->address().port, std::nullopt,
                             [](const SseRead& s) { return s.events.size() >= 2; });
  producer.join();
  EXPECT_TRUE(connected);
  ASSERT_EQ(r.events.size(), 2u) << r.raw;
  EXPECT_EQ(r.events[0].id, "1");
  EXPECT_NE(r.raw.find(":keepalive\n\n"), std::string::npos) << r.raw;
}

TEST_F(HttpApiTest, BadLastEventIdIs400) {
  start();
  httplib::Client c("127.0.0.1", server_->address().port);
  expect_error(answer(c.Get("/v1/events", {{"Last-Event-ID", "abc"}})), 400, "Last-Event-ID");
}

TEST_F(HttpApiTest, StopEndsStreamsCleanly) {
  start();
  SseRead r;
  std::thread reader([&] {
    r = read_sse(server_->address().port, std::nullopt, [](const SseRead&) { return false; });
  });
  for (int i = 0; i < 500 && stream_.stats().subscribers == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(stream_.stats().subscribers, 1u);
  const auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_TRUE(r.ended_by_server) << "the chunked response ended properly";
  EXPECT_EQ(stream_.stats().subscribers, 0u);
}

TEST_F(HttpApiTest, StreamLimit) {
  ControlOptions o;
  o.max_streams = 1;
  start(o);
  std::thread reader([&] {
    read_sse(server_->address().port, std::nullopt, [](const SseRead&) { return false; });
  });
  for (int i = 0; i < 500 && stream_.stats().subscribers == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  httplib::Client c("127.0.0.1", server_->address().port);
  expect_error(answer(c.Get("/v1/events")), 503, "too many event streams");
  server_->stop();
  reader.join();
}

TEST(TokenFileTest, OneLineNonEmpty) {
  char tmpl[] = "/tmp/presenced-token-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string path = tmpl;
  auto write = [&](const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
  };
  std::string token;
  std::string error;
  write("abc123\n");
  EXPECT_TRUE(load_token_file(path, token, &error)) << error;
  EXPECT_EQ(token, "abc123");
  write("\n  \n");
  EXPECT_FALSE(load_token_file(path, token, &error));
  EXPECT_NE(error.find("empty"), std::string::npos) << error;
  write("two words\n");
  EXPECT_FALSE(load_token_file(path, token, &error));
  EXPECT_FALSE(load_token_file("/nonexistent/token", token, &error));
  EXPECT_NE(error.find("/nonexistent/token"), std::string::npos) << error;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace presenced::control
