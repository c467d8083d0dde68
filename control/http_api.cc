#include "control/http_api.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <arpa/inet.h>

#include <httplib.h>

#include "control/json_codec.h"
#include "control/log.h"
#include "control/metrics.h"

namespace presenced::control {
namespace {

using json_codec::Json;
using Request = httplib::Request;
using Response = httplib::Response;

constexpr const char* kJson = "application/json";
constexpr std::size_t kSseBatch = 512;  // events copied per read()

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void reply(Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(dump(body) + "\n", kJson);
}

void fail(Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(json_codec::error_body(message) + "\n", kJson);
}

// The host part of an address as getaddrinfo takes it ("::1", not "[::1]").
std::string host_of(const NetAddr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family == 6) {
    inet_ntop(AF_INET6, a.ip.data(), buf, sizeof buf);
  } else {
    inet_ntop(AF_INET, a.ip.data(), buf, sizeof buf);
  }
  return buf;
}

// Parses a request body as JSON; an empty body is `empty_as`.
bool parse_body(const Request& req, Response& res, Json& out,
                const std::optional<Json>& empty_as = std::nullopt) {
  if (req.body.empty() && empty_as) {
    out = *empty_as;
    return true;
  }
  try {
    out = Json::parse(req.body);
    return true;
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at ...": keep the prose.
    if (const auto p = what.find("] "); p != std::string::npos) what.erase(0, p + 2);
    fail(res, 400, "invalid JSON: " + what);
    return false;
  }
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return status < 500 ? "Client Error" : "Server Error";
  }
}

bool equal_constant_time(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// A route for the 405 check: its path and the methods it answers. A path
// ending in "/*" matches one more segment (no '/' or ':'), as the
// /v1/users/{user} route does. Plain string matching rather than
// std::regex: it cannot throw, and g++ 12 reports false
// -Wmaybe-uninitialized in std::regex's compiler under ASan.
struct RouteMethods {
  std::string path;
  const char* allow;

  bool matches(std::string_view p) const {
    if (path.size() >= 2 && path.compare(path.size() - 2, 2, "/*") == 0) {
      const std::string_view prefix(path.data(), path.size() - 1);
      if (p.size() <= prefix.size() || p.substr(0, prefix.size()) != prefix) return false;
      return p.find_first_of("/:", prefix.size()) == std::string_view::npos;
    }
    return p == path;
  }
};

// State of one SSE client, shared by its content provider and releaser.
struct SseClient {
  EventStream::Start start;
  uint64_t next = 0;
  bool greeted = false;
  std::vector<EventStream::Item> batch;
  std::string text;
};

}  // namespace

struct ControlServer::Impl {
  Impl(ControlTarget& t, EventStream& s, ControlOptions o)
      : target(t), stream(s), options(std::move(o)) {}

  ControlTarget& target;
  EventStream& stream;
  ControlOptions options;
  httplib::Server http;
  std::thread thread;
  std::atomic<std::size_t> streams{0};
  std::mutex config_mutex;  // one config change at a time
  std::vector<RouteMethods> routes;

  void install();
  // `path` is the 405 table's form of `pattern` (nullptr: not listed).
  void route(const char* method, const char* pattern, const char* path, const char* allow,
             std::function<void(const Request&, Response&)> handler);

  json_codec::StreamStatus stream_status() const {
    const EventStream::Stats st = stream.stats();
    json_codec::StreamStatus s;
    s.subscribers = st.subscribers;
    s.slow_consumers_cut = st.slow_consumers_cut;
    s.backlog = st.backlog;
    s.backlog_capacity = st.backlog_capacity;
    s.last_event_id = st.last_id;
    return s;
  }

  // Handlers.
  void get_status(const Request&, Response& res);
  void get_metrics(const Request&, Response& res);
  void get_user(const Request& req, Response& res);
  void post_batch(const Request& req, Response& res);
  void get_events(const Request& req, Response& res);
  bool pump_events(SseClient& c, httplib::DataSink& sink);
  bool pump_events_once(SseClient& c, httplib::DataSink& sink);
  void get_config(const Request&, Response& res);
  void patch_config(const Request& req, Response& res);
  void post_reconnect(const Request& req, Response& res);
  void post_drain(const Request& req, Response& res);
  void get_drain(const Request&, Response& res);
};

void ControlServer::Impl::route(const char* method, const char* pattern, const char* path,
                                const char* allow,
                                std::function<void(const Request&, Response&)> handler) {
  // Every handler runs behind the token check, and no exception escapes
  // it: anything unexpected is a 500. The token is checked here rather
  // than before routing so that a request body is always consumed and a
  // kept-alive connection stays in step.
  auto guarded = [this, handler = std::move(handler)](const Request& req, Response& res) {
    try {
      if (!options.token.empty() &&
          !equal_constant_time(req.get_header_value("Authorization"), "Bearer " + options.token)) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"presenced\"");
        fail(res, 401, "missing or wrong bearer token (Authorization: Bearer TOKEN)");
        return;
      }
      handler(req, res);
    } catch (const std::exception& e) {
      log::error(std::string("control: ") + req.method + " " + req.path + ": " + e.what());
      fail(res, 500, std::string("internal error: ") + e.what());
    } catch (...) {
      fail(res, 500, "internal error");
    }
  };
  const std::string m = method;
  if (m == "GET") http.Get(pattern, guarded);
  if (m == "POST") http.Post(pattern, guarded);
  if (m == "PUT") http.Put(pattern, guarded);
  if (m == "PATCH") http.Patch(pattern, guarded);
  if (m == "DELETE") http.Delete(pattern, guarded);
  if (m == "OPTIONS") http.Options(pattern, guarded);
  if (path == nullptr) return;  // the catch-all
  bool known = false;
  for (const RouteMethods& r : routes) known = known || r.path == path;
  if (!known) routes.push_back(RouteMethods{path, allow});
}

void ControlServer::Impl::install() {
  static const char* kGet = "GET, HEAD";
  static const char* kPost = "POST";
  static const char* kConfig = "GET, HEAD, PATCH";
  static const char* kDrain = "GET, HEAD, POST";
  // httplib matches the patterns (regular expressions) in this order.
  route("GET", "/v1/status", "/v1/status", kGet, [this](auto& q, auto& r) { get_status(q, r); });
  route("GET", "/metrics", "/metrics", kGet, [this](auto& q, auto& r) { get_metrics(q, r); });
  route("GET", R"(/v1/users/([^/:]+))", "/v1/users/*", kGet,
        [this](auto& q, auto& r) { get_user(q, r); });
  route("POST", "/v1/users:batch", "/v1/users:batch", kPost,
        [this](auto& q, auto& r) { post_batch(q, r); });
  route("GET", "/v1/events", "/v1/events", kGet, [this](auto& q, auto& r) { get_events(q, r); });
  route("GET", "/v1/config", "/v1/config", kConfig, [this](auto& q, auto& r) { get_config(q, r); });
  route("PATCH", "/v1/config", "/v1/config", kConfig,
        [this](auto& q, auto& r) { patch_config(q, r); });
  route("POST", "/v1/reconnect", "/v1/reconnect", kPost,
        [this](auto& q, auto& r) { post_reconnect(q, r); });
  route("POST", "/v1/drain", "/v1/drain", kDrain, [this](auto& q, auto& r) { post_drain(q, r); });
  route("GET", "/v1/drain", "/v1/drain", kDrain, [this](auto& q, auto& r) { get_drain(q, r); });
  // Registered last, so they see only what no route above took: a known
  // path under another method is 405 (with Allow), anything else 404.
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    route(method, ".*", nullptr, nullptr, [this](const Request& req, Response& res) {
      for (const RouteMethods& r : routes) {
        if (r.matches(req.path)) {
          res.set_header("Allow", r.allow);
          fail(res, 405,
               "method " + req.method + " not allowed on " + req.path + " (allowed: " + r.allow +
                   ")");
          return;
        }
      }
      fail(res, 404, "no such route: " + req.method + " " + req.path);
    });
  }

  // Errors httplib answers itself (bad request line, body too large, ...)
  // get a JSON body too.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request&,
                                                                     Response& res) {
    if (!res.body.empty() || res.is_chunked_content_provider_) {
      return httplib::Server::HandlerResponse::Unhandled;  // a handler's own error
    }
    if (res.status == 413) {
      fail(res, 413,
           "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
    } else {
      fail(res, res.status, "HTTP " + std::to_string(res.status) + " " + reason_phrase(res.status));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler(
      [](const Request&, Response& res, std::exception_ptr) { fail(res, 500, "internal error"); });
  http.set_logger([](const Request& req, const Response& res) {
    if (log::level() >= log::Level::kDebug) {
      log::debug("control: " + req.remote_addr + " " + req.method + " " + req.path + " -> " +
                 std::to_string(res.status));
    }
  });

  const std::size_t workers = options.max_streams + 8;
  http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_keep_alive_timeout(2);
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
}

void ControlServer::Impl::get_status(const Request&, Response& res) {
  reply(res, 200, json_codec::status_json(target.status(), stream_status()));
}

void ControlServer::Impl::get_metrics(const Request&, Response& res) {
  res.status = 200;
  res.set_content(render_metrics(target.status(), stream_status()), kMetricsContentType);
}

void ControlServer::Impl::get_user(const Request& req, Response& res) {
  uint64_t user = 0;
  const std::string text = req.matches[1];
  if (!json_codec::parse_user_id(text, user)) {
    fail(res, 400,
         "user must be a decimal integer in [1, 18446744073709551615] (got \"" + text + "\")");
    return;
  }
  const std::optional<UserInfo> u = target.query_user(user);
  if (!u) {
    fail(res, 404, "user " + std::to_string(user) + " not found");
    return;
  }
  reply(res, 200, json_codec::user_json(*u));
}

void ControlServer::Impl::post_batch(const Request& req, Response& res) {
  Json body;
  if (!parse_body(req, res, body)) return;
  std::vector<uint64_t> users;
  std::string error;
  switch (json_codec::parse_batch(body, users, &error)) {
    case json_codec::BatchResult::kOk:
      break;
    case json_codec::BatchResult::kBad:
      fail(res, 400, error);
      return;
    case json_codec::BatchResult::kTooMany:
      fail(res, 413, error);
      return;
  }
  Json found = Json::array();
  Json unknown = Json::array();
  for (uint64_t user : users) {
    if (const std::optional<UserInfo> u = target.query_user(user)) {
      found.push_back(json_codec::user_json(*u));
    } else {
      unknown.push_back(user);
    }
  }
  Json out;
  out["users"] = std::move(found);
  out["unknown"] = std::move(unknown);
  reply(res, 200, out);
}

void ControlServer::Impl::get_events(const Request& req, Response& res) {
  std::optional<uint64_t> last;
  std::string text = req.get_header_value("Last-Event-ID");
  if (text.empty()) text = req.get_param_value("last_event_id");
  if (!text.empty()) {
    uint64_t id = 0;
    if (text == "0") {
      last = 0;
    } else if (json_codec::parse_user_id(text, id)) {
      last = id;
    } else {
      fail(res, 400, "Last-Event-ID must be a decimal event id (got \"" + text + "\")");
      return;
    }
  }
  if (stream.closed()) {
    fail(res, 503, "the server is stopping");
    return;
  }
  if (streams.fetch_add(1) >= options.max_streams) {
    streams.fetch_sub(1);
    fail(res, 503, "too many event streams (at most " + std::to_string(options.max_streams) + ")");
    return;
  }
  auto client = std::make_shared<SseClient>();
  client->start = stream.subscribe(last);
  client->next = client->start.next_id;
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, client](std::size_t, httplib::DataSink& sink) { return pump_events(*client, sink); },
      [this](bool) {
        stream.unsubscribe();
        streams.fetch_sub(1);
      });
}

// Called by httplib in a loop on this client's worker thread until it
// returns false or calls sink.done(). It runs after the route's handler
// returned, outside its try block: it catches for itself (an exception
// here would end the worker thread) and then ends the stream.
bool ControlServer::Impl::pump_events(SseClient& c, httplib::DataSink& sink) {
  try {
    return pump_events_once(c, sink);
  } catch (const std::exception& e) {
    log::error(std::string("control: event stream: ") + e.what());
    return false;
  } catch (...) {
    return false;
  }
}

bool ControlServer::Impl::pump_events_once(SseClient& c, httplib::DataSink& sink) {
  c.text.clear();
  if (!c.greeted) {
    c.greeted = true;
    c.text = "retry: 1000\n: presenced events from id " + std::to_string(c.next) + "\n\n";
    if (c.start.reset) append_sse_reset(c.text, c.start);
    return sink.write(c.text.data(), c.text.size());
  }
  switch (stream.read(c.next, c.batch, kSseBatch, options.keepalive)) {
    case EventStream::ReadResult::kEvents:
      for (const EventStream::Item& item : c.batch) append_sse_event(c.text, item.id, item.event);
      return sink.write(c.text.data(), c.text.size());
    case EventStream::ReadResult::kTimeout:
      c.text = ":keepalive\n\n";
      return sink.write(c.text.data(), c.text.size());
    case EventStream::ReadResult::kSlow:
      c.text =
          ": cut off: this client fell behind the event backlog; reconnect with "
          "Last-Event-ID\n\n";
      sink.write(c.text.data(), c.text.size());
      sink.done();
      return true;
    case EventStream::ReadResult::kClosed:
      sink.done();
      return true;
  }
  return false;
}

void ControlServer::Impl::get_config(const Request&, Response& res) {
  reply(res, 200, json_codec::config_json(target.engine_config(), log::level()));
}

void ControlServer::Impl::patch_config(const Request& req, Response& res) {
  Json body;
  if (!parse_body(req, res, body)) return;
  std::lock_guard<std::mutex> lock(config_mutex);
  const engine::EngineConfig before = target.engine_config();
  engine::EngineConfig config = before;
  log::Level level = log::level();
  std::string error;
  if (!json_codec::apply_config_patch(body, config, level, &error)) {
    fail(res, 400, error);
    return;
  }
  if (!(config == before) && !target.apply_config(config, options.config_apply_timeout_ms)) {
    fail(res, 503,
         "the data cores did not apply the configuration within " +
             std::to_string(options.config_apply_timeout_ms) + " ms");
    return;
  }
  log::set_level(level);
  log::info("control: config changed by " + req.remote_addr + ": " + dump(body));
  reply(res, 200, json_codec::config_json(target.engine_config(), log::level()));
}

void ControlServer::Impl::post_reconnect(const Request& req, Response& res) {
  Json body;
  if (!parse_body(req, res, body)) return;
  ReconnectRequest r;
  std::string error;
  if (!json_codec::parse_reconnect(body, r, &error)) {
    fail(res, 400, error);
    return;
  }
  if (r.scope != engine::ReconnectScope::kAll) {
    const std::optional<UserInfo> u = target.query_user(r.user);
    bool found = u.has_value();
    if (found && r.scope == engine::ReconnectScope::kDevice) {
      found = false;
      for (const DeviceInfo& d : u->devices) found = found || d.device == r.device;
    }
    if (!found) {
      fail(res, 404,
           r.scope == engine::ReconnectScope::kDevice
               ? "device " + std::to_string(r.device) + " of user " + std::to_string(r.user) +
                     " not found"
               : "user " + std::to_string(r.user) + " not found");
      return;
    }
  }
  if (!target.request_reconnect(r, &error)) {
    fail(res, 503, error);
    return;
  }
  log::info("control: reconnect requested by " + req.remote_addr + ": " + dump(body));
  Json out;
  out["accepted"] = true;
  out["scope"] = r.scope == engine::ReconnectScope::kAll    ? "all"
                 : r.scope == engine::ReconnectScope::kUser ? "user"
                                                            : "device";
  if (r.scope != engine::ReconnectScope::kAll) out["user"] = r.user;
  if (r.scope == engine::ReconnectScope::kDevice) out["device"] = r.device;
  out["target"] =
      r.directive.target.family == 0 ? Json(nullptr) : Json(to_string(r.directive.target));
  out["spread_ms"] = r.directive.spread_ms;
  out["reason"] = json_codec::reason_name(r.directive.reason);
  reply(res, 202, out);
}

void ControlServer::Impl::post_drain(const Request& req, Response& res) {
  Json body;
  if (!parse_body(req, res, body, Json::object())) return;
  engine::ReconnectDirective directive;
  uint32_t rate = options.default_drain_rate;
  std::string error;
  if (!json_codec::parse_drain(body, directive, rate, &error)) {
    fail(res, 400, error);
    return;
  }
  if (target.drain_status().active) {
    fail(res, 409, "a drain is already running");
    return;
  }
  if (!target.start_drain(directive, rate, &error)) {
    fail(res, 503, error);
    return;
  }
  log::warn("control: drain started by " + req.remote_addr + ": " + dump(body) + ", rate " +
            std::to_string(rate) + "/s");
  reply(res, 202, json_codec::drain_json(target.drain_status()));
}

void ControlServer::Impl::get_drain(const Request&, Response& res) {
  reply(res, 200, json_codec::drain_json(target.drain_status()));
}

ControlServer::ControlServer(ControlTarget& target, EventStream& stream, ControlOptions options)
    : impl_(std::make_unique<Impl>(target, stream, std::move(options))) {
  impl_->install();
}

ControlServer::~ControlServer() {
  stop();
}

bool ControlServer::bind(std::string* error) {
  const NetAddr& want = impl_->options.listen;
  const std::string host = host_of(want);
  errno = 0;
  int port = want.port;
  bool ok = false;
  if (want.port == 0) {
    port = impl_->http.bind_to_any_port(host);
    ok = port > 0;
  } else {
    ok = impl_->http.bind_to_port(host, want.port);
  }
  if (!ok) {
    if (error != nullptr) {
      *error = "cannot listen on control address " + to_string(want) + ": " +
               (errno != 0 ? std::strerror(errno) : "bind failed");
    }
    return false;
  }
  bound_ = want;
  bound_.port = static_cast<uint16_t>(port);
  return true;
}

void ControlServer::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { impl_->http.listen_after_bind(); });
  // stop() only takes effect once the server runs: wait for it (bounded).
  for (int i = 0; i < 5000 && !impl_->http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void ControlServer::stop() {
  if (!impl_) return;
  impl_->stream.close();  // event streams end their responses
  if (impl_->thread.joinable()) {
    impl_->http.stop();
    impl_->thread.join();
  }
}

bool load_token_file(const std::string& path, std::string& token, std::string* error) {
  auto set = [&](const std::string& m) {
    if (error != nullptr) *error = "--control-token-file " + path + ": " + m;
    return false;
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return set(std::string("cannot read it: ") + std::strerror(errno));
  std::string text(4097, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > 4096) return set("larger than 4 KiB; it must hold one line, the token");
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t b = 0;
  std::size_t e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  token = text.substr(b, e - b);
  if (token.empty()) return set("the file is empty; it must hold the token on one line");
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return set("the token must be one line of visible ASCII characters (no spaces)");
    }
  }
  return true;
}

}  // namespace presenced::control
