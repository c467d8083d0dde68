// presencectl: the command-line client of presenced's control plane
// (docs/OPERATIONS.md).
//
// Owns: the command line (CLI11; --help on every subcommand), the choice of
// output (human tables by default, the server's JSON with --json) and the
// exit codes: 0 ok, 1 the server answered with an error (its message is
// printed) or a local operation failed (keygen), 2 usage error, 3 cannot
// connect. The HTTP side is tools/ctl/client.h, the layout
// tools/ctl/format.h.
//
// Commands: status, top, get USER, query USER... (or ids on stdin), watch,
// config get, config set KEY=VALUE..., reconnect, drain, keygen.
//
// Concurrency: single-threaded. SIGINT/SIGTERM set a flag for `top` (which
// restores the terminal) and `watch` (which stops between reads).
#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/random.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include "tools/ctl/client.h"
#include "tools/ctl/format.h"
#include "tools/ctl/sse_parser.h"

namespace {

using namespace presenced::ctl;
using namespace std::chrono_literals;

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_signal(int) {
  g_stop = 1;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int usage(const std::string& message) {
  std::fprintf(stderr, "presencectl: %s\n", message.c_str());
  return kUsage;
}

int report(const Reply& r) {
  std::fprintf(stderr, "presencectl: %s\n", r.error.c_str());
  return r.exit_code;
}

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void print_json(const Json& j) {
  print(j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
}

// The end of every command that shows one answer: the server's error (its
// exit code), or the body as JSON (--json) or rendered as a table.
template <typename Render>
int show(const Reply& r, bool json, Render&& render) {
  if (!r.ok()) return report(r);
  if (json) {
    print_json(r.body);
  } else {
    print(render(r.body));
  }
  return kOk;
}

// "5s", "500ms", "1.5s", "2m"; a bare number is milliseconds.
bool parse_spread_ms(const std::string& text, uint64_t& ms) {
  if (text.empty()) return false;
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else {
    return false;
  }
  const double total = v * scale;
  if (!(total >= 0) || total > 4e9) return false;
  ms = static_cast<uint64_t>(total + 0.5);
  return true;
}

// Options every command shares.
struct Common {
  std::string control = "127.0.0.1:7461";
  std::string token_file;
  bool json = false;
  uint32_t timeout_ms = 10'000;

  // Builds the client; on failure prints the reason and returns nullopt
  // with `exit_code` set.
  std::unique_ptr<Client> client(int& exit_code) const {
    Endpoint ep;
    std::string error;
    if (!parse_endpoint(control, ep, &error)) {
      exit_code = usage("--control: " + error);
      return nullptr;
    }
    std::string token;
    if (!token_file.empty() && !read_token_file(token_file, token, &error)) {
      exit_code = usage("--token-file: " + error);
      return nullptr;
    }
    return std::make_unique<Client>(ep, token, std::chrono::milliseconds(timeout_ms));
  }
};

// ---- commands ----

int cmd_status(const Common& o) {
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  return show(c->get("/v1/status"), o.json, [](const Json& b) { return render_status(b); });
}

// Puts the terminal in non-canonical mode (single keys, no echo) while
// alive, when stdin is a terminal.
class RawTerminal {
 public:
  RawTerminal() {
    if (isatty(STDIN_FILENO) == 0 || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

int cmd_top(const Common& o, uint32_t iterations, uint32_t interval_ms) {
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  install_signal_handlers();
  RawTerminal term;
  std::optional<Json> before;
  auto before_at = std::chrono::steady_clock::now();
  for (uint32_t i = 0; iterations == 0 || i < iterations; ++i) {
    if (i > 0) {
      // Sleep until the next refresh, or until q / ctrl-c.
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(interval_ms);
      bool quit = false;
      while (!quit && g_stop == 0 && std::chrono::steady_clock::now() < until) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        pollfd p{STDIN_FILENO, POLLIN, 0};
        const int n = poll(term.active() ? &p : nullptr, term.active() ? 1 : 0,
                           static_cast<int>(std::max<int64_t>(left.count(), 0)));
        if (n > 0) {
          char ch = 0;
          if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q')) quit = true;
        }
      }
      if (quit || g_stop != 0) break;
    }
    const Reply r = c->get("/v1/status");
    const auto at = std::chrono::steady_clock::now();
    if (!r.ok()) {
      if (!before) return report(r);  // never reached the server
      print("\x1b[2J\x1b[H" + r.error + "\n(retrying; q to quit)\n");
      continue;
    }
    const double seconds = std::chrono::duration<double>(at - before_at).count();
    std::string screen = "\x1b[2J\x1b[H";
    if (o.json) {
      screen += r.body.dump() + "\n";
    } else {
      screen += render_top(r.body, before ? &*before : nullptr, seconds);
      screen += "\nrefresh " + std::to_string(interval_ms) + " ms; q or ctrl-c to quit\n";
    }
    print(screen);
    before = r.body;
    before_at = at;
  }
  return kOk;
}

int cmd_get(const Common& o, uint64_t user) {
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  return show(c->get("/v1/users/" + std::to_string(user)), o.json,
              [](const Json& b) { return render_user(b, now_ms()); });
}

bool parse_user_text(const std::string& text, uint64_t& out) {
  if (text.empty() || text.size() > 20 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno != 0 || v == 0) return false;
  out = v;
  return true;
}

int cmd_query(const Common& o, const std::vector<std::string>& args) {
  std::vector<std::string> words = args;
  if (words.empty() || (words.size() == 1 && words[0] == "-")) {
    words.clear();
    std::string w;
    while (std::cin >> w) words.push_back(w);
  }
  std::vector<uint64_t> users;
  for (const std::string& w : words) {
    uint64_t u = 0;
    if (!parse_user_text(w, u)) {
      return usage("query: \"" + w + "\" is not a user id (an integer in [1, 2^64-1])");
    }
    users.push_back(u);
  }
  if (users.empty()) return usage("query: no user ids (give them as arguments or on stdin)");
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  constexpr std::size_t kBatch = 10'000;  // the server's limit per request
  Json found = Json::array();
  Json unknown = Json::array();
  for (std::size_t i = 0; i < users.size(); i += kBatch) {
    Json body;
    body["users"] = Json::array();
    for (std::size_t k = i; k < std::min(users.size(), i + kBatch); ++k) {
      body["users"].push_back(users[k]);
    }
    const Reply r = c->post("/v1/users:batch", body);
    if (!r.ok()) return report(r);
    if (r.body.contains("users") && r.body["users"].is_array()) {
      for (const Json& u : r.body["users"]) found.push_back(u);
    }
    if (r.body.contains("unknown") && r.body["unknown"].is_array()) {
      for (const Json& u : r.body["unknown"]) unknown.push_back(u);
    }
  }
  if (o.json) {
    Json out;
    out["users"] = std::move(found);
    out["unknown"] = std::move(unknown);
    print_json(out);
  } else {
    print(render_users(users, found, now_ms()));
  }
  return kOk;
}

struct WatchOptions {
  uint64_t count = 0;  // 0: forever
  std::optional<uint64_t> since;
  uint32_t idle_timeout_ms = 30'000;
};

int cmd_watch(const Common& o, const WatchOptions& w) {
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  install_signal_handlers();
  std::optional<uint64_t> last_id = w.since;
  uint64_t seen = 0;
  bool ever_connected = false;
  auto backoff = 100ms;
  SseParser parser;
  auto on_event = [&](const SseEvent& ev) {
    Json data;
    try {
      data = Json::parse(ev.data);
    } catch (const Json::exception&) {
      return;  // not ours; skip
    }
    if (ev.type == "reset") {
      if (o.json) {
        Json out;
        out["type"] = "reset";
        for (auto it = data.begin(); it != data.end(); ++it) out[it.key()] = *it;
        print(out.dump() + "\n");
      } else {
        print(render_reset(data));
      }
      return;
    }
    uint64_t id = 0;
    if (ev.id && parse_user_text(*ev.id, id)) last_id = id;
    if (o.json) {
      Json out;
      out["id"] = id;
      for (auto it = data.begin(); it != data.end(); ++it) out[it.key()] = *it;
      print(out.dump() + "\n");
    } else {
      print(render_event(ev.id.value_or("-"), ev.type, data));
    }
    ++seen;
  };
  for (;;) {
    parser = SseParser{};
    const Client::StreamResult res =
        c->stream("/v1/events", last_id, std::chrono::milliseconds(w.idle_timeout_ms),
                  [&](std::string_view bytes) {
                    parser.feed(bytes, on_event);
                    return g_stop == 0 && (w.count == 0 || seen < w.count);
                  });
    if (res.connected) {
      ever_connected = true;
      backoff = 100ms;
    }
    if (g_stop != 0 || (w.count != 0 && seen >= w.count)) return kOk;
    switch (res.end) {
      case Client::StreamEnd::kStopped:
        return kOk;
      case Client::StreamEnd::kHttpError:
        return report(res.reply);
      case Client::StreamEnd::kTransport:
        if (!ever_connected) return report(res.reply);
        std::fprintf(stderr, "presencectl: watch: %s; resuming%s\n", res.reply.error.c_str(),
                     last_id ? (" after id " + std::to_string(*last_id)).c_str() : "");
        break;
      case Client::StreamEnd::kEnded:
        std::fprintf(stderr, "presencectl: watch: the server ended the stream; resuming%s\n",
                     last_id ? (" after id " + std::to_string(*last_id)).c_str() : "");
        break;
    }
    // Back off (bounded), interruptible by ctrl-c.
    const auto until = std::chrono::steady_clock::now() + backoff;
    while (g_stop == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
    if (g_stop != 0) return kOk;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5000ms);
  }
}

int cmd_config_get(const Common& o) {
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  return show(c->get("/v1/config"), o.json, [](const Json& b) { return render_config(b); });
}

int cmd_config_set(const Common& o, const std::vector<std::string>& pairs) {
  Json patch = Json::object();
  for (const std::string& p : pairs) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return usage("config set: expected KEY=VALUE, got \"" + p + "\"");
    }
    const std::string key = p.substr(0, eq);
    const std::string value = p.substr(eq + 1);
    // Integers go as numbers, anything else as a string: the server
    // validates both and names the key when it refuses.
    const bool digits =
        !value.empty() &&
        value.find_first_not_of("0123456789", value[0] == '-' ? 1 : 0) == std::string::npos &&
        value != "-" && value.size() < 19;
    if (digits) {
      patch[key] = std::stoll(value);
    } else {
      patch[key] = value;
    }
  }
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  return show(c->patch("/v1/config", patch), o.json,
              [](const Json& b) { return render_config(b); });
}

struct TargetOptions {
  std::string target;
  std::string spread;
};

// Adds target and spread_ms to `body`; false (usage) on a bad spread.
bool add_target(const TargetOptions& t, Json& body, std::string& error) {
  if (!t.target.empty()) body["target"] = t.target;
  if (!t.spread.empty()) {
    uint64_t ms = 0;
    if (!parse_spread_ms(t.spread, ms)) {
      error = "--spread: expected a duration like 500ms, 5s or 2m (got \"" + t.spread + "\")";
      return false;
    }
    body["spread_ms"] = ms;
  }
  return true;
}

int cmd_reconnect(const Common& o, const std::optional<uint64_t>& user,
                  const std::optional<uint32_t>& device, bool all, const TargetOptions& t,
                  const std::string& reason) {
  if (all == user.has_value())
    return usage("reconnect: give either --user (and --device) or --all");
  if (device && !user) return usage("reconnect: --device needs --user");
  Json body;
  if (all) {
    body["all"] = true;
  } else {
    body["user"] = *user;
    if (device) body["device"] = *device;
  }
  std::string error;
  if (!add_target(t, body, error)) return usage(error);
  if (!reason.empty()) body["reason"] = reason;
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  const Reply r = c->post("/v1/reconnect", body);
  if (!r.ok()) return report(r);
  if (o.json) {
    print_json(r.body);
    return kOk;
  }
  std::string who = all ? std::string("every session")
                        : "user " + std::to_string(*user) +
                              (device ? " device " + std::to_string(*device) : " (all devices)");
  print("reconnect requested for " + who + ": target " +
        (r.body.contains("target") && !r.body["target"].is_null() ? field(r.body, "target")
                                                                  : std::string("same server")) +
        ", spread " + field(r.body, "spread_ms") + " ms, reason " + field(r.body, "reason") +
        "; sessions get RECONNECT on their next heartbeat\n");
  return kOk;
}

int cmd_drain(const Common& o, const TargetOptions& t, std::optional<uint32_t> rate,
              bool status_only) {
  int code = kOk;
  auto c = o.client(code);
  if (!c) return code;
  Reply r;
  if (status_only) {
    r = c->get("/v1/drain");
  } else {
    Json body = Json::object();
    std::string error;
    if (!add_target(t, body, error)) return usage(error);
    if (rate) body["rate"] = *rate;
    r = c->post("/v1/drain", body);
  }
  return show(r, o.json, [](const Json& b) { return render_drain(b); });
}

int cmd_keygen(const std::string& path, bool force, bool json) {
  uint8_t key[16];
  if (getrandom(key, sizeof key, 0) != static_cast<ssize_t>(sizeof key)) {
    std::fprintf(stderr, "presencectl: keygen: no randomness: %s\n", std::strerror(errno));
    return kServerError;
  }
  char text[34];
  for (std::size_t i = 0; i < sizeof key; ++i) {
    std::snprintf(text + 2 * i, 3, "%02x", key[i]);
  }
  text[32] = '\n';
  // Written to a temporary file with mode 0600 and renamed into place, so
  // the key is never readable by others, not even half-written.
  struct stat st;
  if (!force && lstat(path.c_str(), &st) == 0) {
    std::fprintf(stderr, "presencectl: keygen: %s exists; use --force to replace it\n",
                 path.c_str());
    return kServerError;
  }
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "presencectl: keygen: cannot create %s: %s\n", tmp.c_str(),
                 std::strerror(errno));
    return kServerError;
  }
  const bool written = write(fd, text, 33) == 33 && fchmod(fd, 0600) == 0 && fsync(fd) == 0;
  close(fd);
  bool placed = false;
  if (written) {
    if (force) {
      placed = rename(tmp.c_str(), path.c_str()) == 0;
    } else {
      placed = link(tmp.c_str(), path.c_str()) == 0;  // fails if the file appeared meanwhile
    }
  }
  const int err = errno;
  unlink(tmp.c_str());
  if (!placed) {
    std::fprintf(stderr, "presencectl: keygen: cannot write %s: %s\n", path.c_str(),
                 std::strerror(err));
    return kServerError;
  }
  if (json) {
    Json out;
    out["path"] = path;
    out["mode"] = "0600";
    print_json(out);
  } else {
    print("wrote a new master key to " + path + " (mode 0600)\n");
  }
  return kOk;
}

int run(int argc, char** argv) {
  CLI::App app{
      "presencectl: talks to presenced's control plane (HTTP, default 127.0.0.1:7461). "
      "Exit codes: 0 ok, 1 server error (its message is printed), 2 usage error, 3 cannot "
      "connect.",
      "presencectl"};
  app.require_subcommand(1);
  app.fallthrough();  // common options may follow the subcommand
  app.footer("Every subcommand has --help. Docs: docs/OPERATIONS.md");

  Common o;
  app.add_option("--control", o.control, "control plane address ADDR:PORT or [ADDR6]:PORT")
      ->envname("PRESENCECTL_CONTROL")
      ->capture_default_str();
  app.add_option("--token-file", o.token_file,
                 "file holding the bearer token (needed when presenced has "
                 "--control-token-file)")
      ->envname("PRESENCECTL_TOKEN_FILE");
  app.add_flag("--json", o.json, "print the server's JSON instead of tables");
  app.add_option("--timeout-ms", o.timeout_ms, "connect and request timeout")
      ->capture_default_str()
      ->check(CLI::Range(1u, 600'000u));

  auto* status = app.add_subcommand("status", "server status: counters per core and in total");

  uint32_t iterations = 0;
  uint32_t interval_ms = 1000;
  auto* top = app.add_subcommand("top", "live per-core view (q or ctrl-c quits)");
  top->add_option("--iterations,-n", iterations, "refresh this many times, then exit (0: until q)")
      ->capture_default_str();
  top->add_option("--interval-ms", interval_ms, "refresh period")
      ->capture_default_str()
      ->check(CLI::Range(50u, 3'600'000u));

  uint64_t get_user = 0;
  auto* get = app.add_subcommand("get", "one user's presence and devices");
  get->add_option("USER", get_user, "user id")
      ->required()
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX));

  std::vector<std::string> query_users;
  auto* query = app.add_subcommand(
      "query", "many users at once (ids as arguments, or on stdin when none or \"-\")");
  query->add_option("USER", query_users, "user ids");

  WatchOptions wo;
  uint64_t since = 0;
  auto* watch = app.add_subcommand(
      "watch", "follow the presence events (resumes after a dropped connection)");
  watch->add_option("--count", wo.count, "stop after this many events (0: never)")
      ->capture_default_str();
  watch->add_option("--since", since,
                    "start after this event id (0: everything the server still holds); "
                    "default: new events only");
  watch
      ->add_option("--idle-timeout-ms", wo.idle_timeout_ms,
                   "reconnect when nothing (not even a keepalive) arrives for this long")
      ->capture_default_str()
      ->check(CLI::Range(100u, 3'600'000u));

  auto* config = app.add_subcommand("config", "show or change the engine configuration");
  config->require_subcommand(1);
  auto* config_get = config->add_subcommand("get", "show the configuration");
  std::vector<std::string> pairs;
  auto* config_set = config->add_subcommand(
      "set",
      "change settings, e.g. interval_s=20 log_level=debug (keys: interval_s, "
      "miss_limit, grace_ms, linger_ms, min_interval_s, max_interval_s, "
      "heartbeat_budget, tick_ms, admission_rate, source_invalid_budget, "
      "stall_threshold_ms, restart_grace_ms, log_level)");
  config_set->add_option("KEY=VALUE", pairs, "settings")->required();

  std::optional<uint64_t> rc_user;
  std::optional<uint32_t> rc_device;
  bool rc_all = false;
  TargetOptions rc_target;
  std::string rc_reason;
  auto* reconnect = app.add_subcommand(
      "reconnect", "answer the matching sessions' next heartbeat with RECONNECT");
  reconnect->add_option("--user", rc_user, "the user whose sessions reconnect")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
  reconnect->add_option("--device", rc_device, "only this device of --user");
  reconnect->add_flag("--all", rc_all, "every session");
  reconnect->add_option("--target", rc_target.target,
                        "server to reconnect to, ADDR:PORT (default: this one)");
  reconnect->add_option("--spread", rc_target.spread,
                        "clients wait a random delay up to this (e.g. 30s, 500ms)");
  reconnect->add_option("--reason", rc_reason, "drain, operator (default), rebalance, overload")
      ->check(CLI::IsMember({"drain", "operator", "rebalance", "overload"}));

  TargetOptions dr_target;
  std::optional<uint32_t> dr_rate;
  bool dr_status = false;
  auto* drain = app.add_subcommand(
      "drain", "stop admitting sessions and send every online session a RECONNECT");
  drain->add_option("--target", dr_target.target,
                    "server to reconnect to, ADDR:PORT (default: this one)");
  drain->add_option("--spread", dr_target.spread, "clients wait a random delay up to this");
  drain->add_option("--rate", dr_rate, "RECONNECTs per second (default: presenced --drain-rate)")
      ->check(CLI::Range(1u, 10'000'000u));
  drain->add_flag("--status", dr_status, "only show the drain's progress");

  std::string key_path;
  bool key_force = false;
  auto* keygen =
      app.add_subcommand("keygen", "write a new master key file (32 hex characters, mode 0600)");
  keygen->add_option("PATH", key_path, "where to write it")->required();
  keygen->add_flag("--force", key_force, "replace an existing file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }

  if (*status) return cmd_status(o);
  if (*top) return cmd_top(o, iterations, interval_ms);
  if (*get) return cmd_get(o, get_user);
  if (*query) return cmd_query(o, query_users);
  if (*watch) {
    if (watch->count("--since") != 0) wo.since = since;
    return cmd_watch(o, wo);
  }
  if (*config_get) return cmd_config_get(o);
  if (*config_set) return cmd_config_set(o, pairs);
  if (*reconnect) return cmd_reconnect(o, rc_user, rc_device, rc_all, rc_target, rc_reason);
  if (*drain) {
    if (dr_status && (!dr_target.target.empty() || !dr_target.spread.empty() || dr_rate)) {
      return usage("drain: --status takes no other option");
    }
    return cmd_drain(o, dr_target, dr_rate, dr_status);
  }
  if (*keygen) return cmd_keygen(key_path, key_force, o.json);
  return usage("no command given; see --help");
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "presencectl: %s\n", e.what());
    return kServerError;
  }
}
