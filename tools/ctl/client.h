// client.h: presencectl's HTTP client for the presenced control plane,
// with the mapping of outcomes to presencectl's exit codes.
//
// Owns: one cpp-httplib client (kept alive between requests of one
// command), the bearer token header, and the translation of every result:
// a transport failure is kCannotConnect (3) with a message naming the
// address, an HTTP 4xx/5xx is kServerError (1) with the server's
// {"error": ...} message, a 2xx is kOk with its JSON body.
// Concurrency: single-threaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace httplib {
class Client;
}

namespace presenced::ctl {

using Json = nlohmann::ordered_json;

enum ExitCode : int {
  kOk = 0,
  kServerError = 1,  // the server answered 4xx/5xx (or something unusable)
  kUsage = 2,
  kCannotConnect = 3,
};

struct Endpoint {
  std::string host;  // as getaddrinfo takes it ("::1", "127.0.0.1", "localhost")
  int port = 0;
  std::string text;  // as the user wrote it, for messages
};

// "ADDR:PORT", "[ADDR6]:PORT" or "HOST:PORT", optionally with "http://".
bool parse_endpoint(const std::string& text, Endpoint& out, std::string* error);

// Reads a token file (one line, surrounding whitespace removed; non-empty).
bool read_token_file(const std::string& path, std::string& token, std::string* error);

struct Reply {
  int exit_code = kOk;
  int status = 0;     // HTTP status; 0 when there was no answer
  Json body;          // the parsed JSON body (2xx)
  std::string error;  // what to print on stderr when exit_code != kOk
  bool ok() const { return exit_code == kOk; }
};

class Client {
 public:
  Client(Endpoint endpoint, std::string token, std::chrono::milliseconds timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Reply get(const std::string& path);
  Reply post(const std::string& path, const Json& body);
  Reply patch(const std::string& path, const Json& body);

  // A streaming GET (Server-Sent Events). `on_bytes` gets the body as it
  // arrives; returning false ends the stream (kStopped).
  enum class StreamEnd {
    kStopped,    // on_bytes returned false
    kEnded,      // the server ended the response
    kTransport,  // no connection, or it broke (reply.error says which)
    kHttpError,  // a non-200 answer (reply holds it)
  };
  struct StreamResult {
    StreamEnd end = StreamEnd::kEnded;
    bool connected = false;  // a 200 response started
    Reply reply;
  };
  StreamResult stream(const std::string& path, std::optional<uint64_t> last_event_id,
                      std::chrono::milliseconds idle_timeout,
                      const std::function<bool(std::string_view)>& on_bytes);

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Reply finish(const void* result);  // httplib::Result*
  std::unique_ptr<httplib::Client> make_client(std::chrono::milliseconds read_timeout) const;

  Endpoint endpoint_;
  std::string token_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace presenced::ctl
