#include "tools/ctl/client.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include <httplib.h>

namespace presenced::ctl {
namespace {

std::string transport_message(const Endpoint& ep, httplib::Error e) {
  std::string what;
  switch (e) {
    case httplib::Error::Connection:
      what = "cannot connect (is presenced running with --control " + ep.text + "?)";
      break;
    case httplib::Error::ConnectionTimeout:
      what = "connection timed out";
      break;
    case httplib::Error::Read:
      what = "the connection broke or timed out while reading the answer";
      break;
    case httplib::Error::Write:
      what = "the connection broke while sending the request";
      break;
    default:
      what = httplib::to_string(e);
      break;
  }
  return "control plane at " + ep.text + ": " + what;
}

// The server's {"error": ...} message, or the status line.
std::string server_error(const httplib::Response& r) {
  try {
    const Json j = Json::parse(r.body);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
      return j["error"].get<std::string>();
    }
  } catch (const Json::exception&) {
  }
  return "HTTP " + std::to_string(r.status) + (r.body.empty() ? "" : ": " + r.body);
}

}  // namespace

bool parse_endpoint(const std::string& text, Endpoint& out, std::string* error) {
  auto fail = [&] {
    if (error != nullptr) {
      *error = "expected ADDR:PORT, [ADDR6]:PORT or HOST:PORT (got \"" + text + "\")";
    }
    return false;
  };
  std::string t = text;
  if (t.rfind("http://", 0) == 0) t.erase(0, 7);
  while (!t.empty() && t.back() == '/') t.pop_back();
  const auto colon = t.rfind(':');
  if (colon == std::string::npos || colon == 0) return fail();
  std::string host = t.substr(0, colon);
  const std::string port = t.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return fail();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return fail();  // IPv6 needs brackets
  }
  int p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535) return fail();
  out.host = host;
  out.port = p;
  out.text = text;
  return true;
}

bool read_token_file(const std::string& path, std::string& token, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error != nullptr) *error = "cannot read token file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  const auto b = text.find_first_not_of(" \t\r\n");
  const auto e = text.find_last_not_of(" \t\r\n");
  token = b == std::string::npos ? "" : text.substr(b, e - b + 1);
  if (token.empty()) {
    if (error != nullptr) *error = "token file " + path + " is empty";
    return false;
  }
  return true;
}

Client::Client(Endpoint endpoint, std::string token, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), token_(std::move(token)), timeout_(timeout) {
  http_ = make_client(timeout_);
}

Client::~Client() = default;

std::unique_ptr<httplib::Client> Client::make_client(std::chrono::milliseconds read_timeout) const {
  auto c = std::make_unique<httplib::Client>(endpoint_.host, endpoint_.port);
  c->set_connection_timeout(timeout_);
  c->set_read_timeout(read_timeout);
  c->set_write_timeout(timeout_);
  c->set_keep_alive(true);
  if (!token_.empty()) c->set_bearer_token_auth(token_);
  return c;
}

Reply Client::finish(const void* result_ptr) {
  const auto& result = *static_cast<const httplib::Result*>(result_ptr);
  Reply r;
  if (!result) {
    r.exit_code = kCannotConnect;
    r.error = transport_message(endpoint_, result.error());
    return r;
  }
  r.status = result->status;
  if (result->status >= 400) {
    r.exit_code = kServerError;
    r.error = server_error(*result);
    return r;
  }
  try {
    r.body = result->body.empty() ? Json::object() : Json::parse(result->body);
  } catch (const Json::exception& e) {
    r.exit_code = kServerError;
    r.error = std::string("the server's answer is not JSON: ") + e.what();
  }
  return r;
}

Reply Client::get(const std::string& path) {
  const httplib::Result res = http_->Get(path);
  return finish(&res);
}

Reply Client::post(const std::string& path, const Json& body) {
  const httplib::Result res = http_->Post(path, body.dump(), "application/json");
  return finish(&res);
}

Reply Client::patch(const std::string& path, const Json& body) {
  const httplib::Result res = http_->Patch(path, body.dump(), "application/json");
  return finish(&res);
}

Client::StreamResult Client::stream(const std::string& path, std::optional<uint64_t> last_event_id,
                                    std::chrono::milliseconds idle_timeout,
                                    const std::function<bool(std::string_view)>& on_bytes) {
  // A connection of its own: the read timeout is the idle bound (the
  // server sends a keepalive comment every few seconds).
  auto http = make_client(idle_timeout);
  httplib::Headers headers = {{"Accept", "text/event-stream"}};
  if (last_event_id) headers.emplace("Last-Event-ID", std::to_string(*last_event_id));
  StreamResult out;
  int status = 0;
  std::string error_body;
  bool stopped = false;
  const httplib::Result res = http->Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        out.connected = r.status == 200;
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status != 200) {
          error_body.append(data, n);
          return error_body.size() < (1u << 20);
        }
        if (!on_bytes(std::string_view(data, n))) {
          stopped = true;
          return false;
        }
        return true;
      });
  if (stopped) {
    out.end = StreamEnd::kStopped;
    return out;
  }
  if (!res) {
    out.end = StreamEnd::kTransport;
    out.reply.exit_code = kCannotConnect;
    out.reply.error = transport_message(endpoint_, res.error());
    return out;
  }
  if (res->status != 200) {
    httplib::Response copy = *res;
    if (copy.body.empty()) copy.body = error_body;
    out.end = StreamEnd::kHttpError;
    out.reply.status = res->status;
    out.reply.exit_code = kServerError;
    out.reply.error = server_error(copy);
    return out;
  }
  out.end = StreamEnd::kEnded;
  return out;
}

}  // namespace presenced::ctl
