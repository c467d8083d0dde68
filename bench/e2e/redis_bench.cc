// redis_bench: the peer a user would pick instead of presenced, measured the
// way it is commonly used for presence: one key per (user, device),
// `SET presence:{user}:{device} <status> EX <timeout>` on every heartbeat,
// pipelined, and keyspace `expired` notifications as the offline signal.
//
// Owns: a minimal RESP2 client over TCP (no hiredis: Debian's libhiredis
// would be one more build dependency for ~150 lines), the three
// measurements bench/e2e/run.sh makes, and their JSON:
//   memory      FLUSHALL, then N keys with EX; bytes per key from INFO memory
//               (used_memory delta) and the server's RSS (/proc of --redis-pid)
//   throughput  pipelined SETs over the N keys for --duration on
//               --connections connections (one per Redis core: Redis runs
//               commands on one thread); per-second rates, their median, and
//               SETs per Redis core-second (CPU time from /proc)
//   expiry      N keys refreshed every --interval-s like heartbeats (EX
//               --timeout-s), then --churn-fraction of them stop being
//               refreshed; each `expired` event of a silenced key gives the
//               delay beyond its expected expiry (last SET + timeout), on the
//               same steady clock. Redis expires lazily and by sampling (10
//               times a second by default, `hz`), so this is what its users
//               get; non-silenced keys that expire are counted as unexpected.
//
// Exit codes: 0 done; 1 a Redis or socket error, or the expiry run missed
// keys; 2 usage error.
// Concurrency: single-threaded (the connections are driven in turn).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <poll.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tools/loadgen/options.h"
#include "tools/loadgen/proc_stats.h"

namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

uint64_t now_us() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
          .count());
}

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "redis_bench: %s\n", m.c_str());
  std::exit(1);
}

// One RESP reply: simple string / error / integer as text, bulk string, or an
// array of those (nested arrays are flattened; enough for SUBSCRIBE pushes).
struct Reply {
  char type = 0;  // '+', '-', ':', '$', '*'
  std::string text;
  std::vector<std::string> items;
};

// A blocking TCP connection speaking RESP2, with an incremental parser so
// that pipelined replies and pushes can be consumed as they arrive.
class Connection {
 public:
  Connection(const std::string& host, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) die("socket: " + std::system_category().message(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) die("--host must be an IPv4 address");
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      die("connect " + host + ":" + std::to_string(port) + ": " +
          std::system_category().message(errno));
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }

  void write_all(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("write: " + std::system_category().message(errno));
      }
      off += static_cast<std::size_t>(n);
    }
  }

  // Reads what is available (blocking up to timeout_ms for the first byte).
  // False on timeout.
  bool fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[1 << 16];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) die("connection closed by Redis");
    if (pos_ > 0 && pos_ == in_.size()) {
      in_.clear();
      pos_ = 0;
    } else if (pos_ > (1u << 20)) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  // Parses one complete reply from the buffer; nullopt if incomplete.
  std::optional<Reply> parse() {
    std::size_t p = pos_;
    Reply r;
    if (!parse_at(p, r, true)) return std::nullopt;
    pos_ = p;
    return r;
  }

  // Blocks until one reply is complete.
  Reply read_reply() {
    for (;;) {
      if (auto r = parse()) return *r;
      if (!fill(30'000)) die("no reply from Redis within 30 s");
    }
  }

  // Counts complete simple replies (+OK / -ERR) in the buffer, consuming
  // them; a fast path for pipelined SETs.
  std::size_t consume_simple(std::size_t* errors) {
    std::size_t n = 0;
    for (;;) {
      const std::size_t nl = in_.find('\n', pos_);
      if (nl == std::string::npos) break;
      if (in_[pos_] == '-') ++*errors;
      pos_ = nl + 1;
      ++n;
    }
    return n;
  }

  Reply command(std::initializer_list<std::string_view> args) {
    write_all(encode(args));
    return read_reply();
  }

  static std::string encode(std::initializer_list<std::string_view> args) {
    std::string s = "*" + std::to_string(args.size()) + "\r\n";
    for (std::string_view a : args) {
      s += "$" + std::to_string(a.size()) + "\r\n";
      s.append(a);
      s += "\r\n";
    }
    return s;
  }

 private:
  bool line_at(std::size_t& p, std::string_view& out) {
    const std::size_t nl = in_.find("\r\n", p);
    if (nl == std::string::npos) return false;
    out = std::string_view(in_).substr(p, nl - p);
    p = nl + 2;
    return true;
  }

  bool parse_at(std::size_t& p, Reply& r, bool top) {
    if (p >= in_.size()) return false;
    const char t = in_[p++];
    std::string_view line;
    if (!line_at(p, line)) return false;
    if (top) r.type = t;
    switch (t) {
      case '+':
      case '-':
      case ':':
        if (top) {
          r.text = std::string(line);
        } else {
          r.items.emplace_back(line);
        }
        return true;
      case '$': {
        const long len = std::strtol(std::string(line).c_str(), nullptr, 10);
        if (len < 0) {
          if (!top) r.items.emplace_back();
          return true;
        }
        const auto n = static_cast<std::size_t>(len);
        if (in_.size() < p + n + 2) return false;
        if (top) {
          r.text = in_.substr(p, n);
        } else {
          r.items.push_back(in_.substr(p, n));
        }
        p += n + 2;
        return true;
      }
      case '*': {
        const long n = std::strtol(std::string(line).c_str(), nullptr, 10);
        for (long i = 0; i < n; ++i) {
          if (!parse_at(p, r, false)) return false;
        }
        return true;
      }
      default:
        die(std::string("unexpected RESP type '") + t + "'");
    }
  }

  int fd_ = -1;
  std::string in_;
  std::size_t pos_ = 0;
};

struct Config {
  std::string mode = "throughput";
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  uint64_t keys = 1'000'000;
  uint64_t user_base = 1;
  uint32_t timeout_s = 92;
  uint32_t pipeline = 256;
  uint32_t connections = 1;
  double duration_s = 30;
  double interval_s = 10;
  double churn_fraction = 0.1;
  uint32_t expire_effort = 1;  // Redis's active-expire-effort (1 is its default)
  uint64_t seed = 1;
  int64_t redis_pid = 0;
  std::string json_out;
  std::string delays_out;
  std::string status = "available";
};

// The SET command of key k, appended to `out`.
void append_set(std::string& out, const Config& c, uint64_t k, const std::string& ex) {
  char key[64];
  const int kl = std::snprintf(key, sizeof key, "presence:%" PRIu64 ":1", c.user_base + k);
  char buf[160];
  const int n =
      std::snprintf(buf, sizeof buf, "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n$2\r\nEX\r\n$%zu\r\n%s\r\n",
                    kl, key, c.status.size(), c.status.c_str(), ex.size(), ex.c_str());
  out.append(buf, static_cast<std::size_t>(n));
}

// One /proc sample of `pid` (CPU and user seconds), -1 each when there is
// none.
struct ProcTimes {
  double cpu = -1;
  double user = -1;
};
ProcTimes proc_times(int64_t pid) {
  if (pid == 0) return {};
  const auto p = presenced::loadgen::sample_process(pid);
  return p ? ProcTimes{p->cpu_s, p->user_s} : ProcTimes{};
}

uint64_t rss_bytes(int64_t pid) {
  if (pid == 0) return 0;
  const auto p = presenced::loadgen::sample_process(pid);
  return p ? p->rss_bytes : 0;
}

uint64_t info_field(Connection& c, const char* section, const char* field) {
  const Reply r = c.command({"INFO", section});
  const std::string key = std::string(field) + ":";
  const std::size_t p = r.text.find(key);
  if (p == std::string::npos) die(std::string("INFO has no ") + field);
  return std::strtoull(r.text.c_str() + p + key.size(), nullptr, 10);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// SETs keys [from, to) on `c`, pipelined, waiting for every reply.
void load_keys(Connection& c, const Config& cfg, uint64_t from, uint64_t to) {
  const std::string ex = std::to_string(cfg.timeout_s);
  std::string batch;
  std::size_t errors = 0;
  uint64_t got = 0;
  for (uint64_t k = from; k < to;) {
    batch.clear();
    const uint64_t end = std::min<uint64_t>(to, k + cfg.pipeline);
    for (; k < end; ++k) append_set(batch, cfg, k, ex);
    c.write_all(batch);
    // Keep at most a few batches in flight.
    while (k - from - got > uint64_t{cfg.pipeline} * 4) {
      if (!c.fill(30'000)) die("SET replies stopped");
      got += c.consume_simple(&errors);
    }
  }
  while (got < to - from) {
    if (!c.fill(30'000)) die("SET replies stopped");
    got += c.consume_simple(&errors);
  }
  if (errors > 0) die(std::to_string(errors) + " SETs failed");
}

Json run_memory(const Config& cfg) {
  Connection c(cfg.host, cfg.port);
  c.command({"FLUSHALL"});
  const uint64_t base = info_field(c, "memory", "used_memory");
  const uint64_t rss_base = rss_bytes(cfg.redis_pid);
  const auto t0 = Clock::now();
  for (uint64_t k = 0; k < cfg.keys; k += 100'000) {
    load_keys(c, cfg, k, std::min<uint64_t>(cfg.keys, k + 100'000));
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const uint64_t used = info_field(c, "memory", "used_memory");
  const uint64_t rss_info = info_field(c, "memory", "used_memory_rss");
  uint64_t keys = 0;
  {
    // "db0:keys=N,expires=M,avg_ttl=T"
    const Reply r = c.command({"INFO", "keyspace"});
    const std::size_t p = r.text.find("db0:keys=");
    if (p != std::string::npos) keys = std::strtoull(r.text.c_str() + p + 9, nullptr, 10);
  }
  const uint64_t rss = rss_bytes(cfg.redis_pid);
  Json j;
  j["mode"] = "memory";
  j["keys"] = keys;
  j["load_s"] = load_s;
  j["load_sets_per_s"] = static_cast<double>(cfg.keys) / load_s;
  j["used_memory_base"] = base;
  j["used_memory"] = used;
  j["used_memory_rss"] = rss_info;
  j["bytes_per_key"] = static_cast<double>(used - base) / static_cast<double>(cfg.keys);
  j["rss_bytes"] = rss;
  j["rss_bytes_per_key"] = rss != 0 ? static_cast<double>(rss) / static_cast<double>(cfg.keys) : 0.0;
  j["rss_delta_bytes_per_key"] =
      rss != 0 ? static_cast<double>(rss - rss_base) / static_cast<double>(cfg.keys) : 0.0;
  std::fprintf(stderr, "redis memory: %" PRIu64 " keys, %.1f B/key (used_memory), RSS %.1f MB\n",
               keys, j["bytes_per_key"].get<double>(), static_cast<double>(rss) / 1e6);
  return j;
}

Json run_throughput(const Config& cfg) {
  std::vector<std::unique_ptr<Connection>> conns;
  for (uint32_t i = 0; i < cfg.connections; ++i) {
    conns.push_back(std::make_unique<Connection>(cfg.host, cfg.port));
  }
  const std::string ex = std::to_string(cfg.timeout_s);
  // Each connection keeps two pipelined batches in flight, so Redis always
  // has the next one queued while we parse the replies of the last.
  std::vector<uint64_t> cursor(cfg.connections), outstanding(cfg.connections);
  for (uint32_t i = 0; i < cfg.connections; ++i) cursor[i] = cfg.keys * i / cfg.connections;
  std::string batch;
  uint64_t done = 0;
  std::size_t errors = 0;
  auto send_batch = [&](uint32_t i) {
    batch.clear();
    for (uint32_t b = 0; b < cfg.pipeline; ++b) {
      append_set(batch, cfg, cursor[i], ex);
      if (++cursor[i] == cfg.keys) cursor[i] = 0;
    }
    conns[i]->write_all(batch);
    outstanding[i] += cfg.pipeline;
  };
  for (uint32_t i = 0; i < cfg.connections; ++i) {
    send_batch(i);
    send_batch(i);
  }
  std::vector<pollfd> pfds(cfg.connections);
  for (uint32_t i = 0; i < cfg.connections; ++i) pfds[i] = pollfd{conns[i]->fd(), POLLIN, 0};

  struct Sample {
    double t;
    uint64_t done;
    double cpu;
    double user;
  };
  std::vector<Sample> samples;
  const auto t0 = Clock::now();
  ProcTimes pt = proc_times(cfg.redis_pid);
  samples.push_back({0, 0, pt.cpu, pt.user});
  double next = 1.0;
  for (;;) {
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (t >= next) {
      pt = proc_times(cfg.redis_pid);
      samples.push_back({t, done, pt.cpu, pt.user});
      std::fprintf(stderr, "[%5.1fs] redis SET %.0f/s\n", t,
                   static_cast<double>(done - samples[samples.size() - 2].done) /
                       (t - samples[samples.size() - 2].t));
      next += 1.0;
    }
    if (t >= cfg.duration_s) break;
    if (::poll(pfds.data(), pfds.size(), 100) <= 0) continue;
    for (uint32_t i = 0; i < cfg.connections; ++i) {
      if ((pfds[i].revents & POLLIN) == 0) continue;
      conns[i]->fill(0);
      const std::size_t n = conns[i]->consume_simple(&errors);
      done += n;
      outstanding[i] -= n;
      while (outstanding[i] <= cfg.pipeline) send_batch(i);
    }
  }
  if (errors > 0) die(std::to_string(errors) + " SETs failed");
  std::vector<double> rates, cores;
  for (std::size_t i = 1; i < samples.size(); ++i) {
    const double dt = samples[i].t - samples[i - 1].t;
    if (dt < 0.5) continue;
    rates.push_back(static_cast<double>(samples[i].done - samples[i - 1].done) / dt);
    if (samples[i].cpu >= 0) cores.push_back((samples[i].cpu - samples[i - 1].cpu) / dt);
  }
  // Skip the first second (connection warm-up) for the medians.
  if (rates.size() > 2) {
    rates.erase(rates.begin());
    if (!cores.empty()) cores.erase(cores.begin());
  }
  const Sample& first = samples.size() > 2 ? samples[1] : samples.front();
  const Sample& last = samples.back();
  Json j;
  j["mode"] = "throughput";
  j["keys"] = cfg.keys;
  j["connections"] = cfg.connections;
  j["pipeline"] = cfg.pipeline;
  j["duration_s"] = last.t;
  j["sets"] = done;
  j["sets_per_s_median"] = median(rates);
  j["sets_per_s_mean"] = static_cast<double>(last.done - first.done) / (last.t - first.t);
  j["redis_cores_median"] = cores.empty() ? -1.0 : median(cores);
  const double cpu = last.cpu - first.cpu;
  j["sets_per_redis_core_s"] =
      cpu > 0 ? static_cast<double>(last.done - first.done) / cpu : -1.0;
  const double user = last.user - first.user;
  j["redis_user_share"] = cpu > 0 ? user / cpu : -1.0;
  j["sets_per_redis_user_core_s"] =
      user > 0 ? static_cast<double>(last.done - first.done) / user : -1.0;
  j["rss_bytes"] = rss_bytes(cfg.redis_pid);
  std::fprintf(stderr, "redis throughput: %.0f SET/s median, %.2f Redis cores, %.0f SET per core-second\n",
               j["sets_per_s_median"].get<double>(), j["redis_cores_median"].get<double>(),
               j["sets_per_redis_core_s"].get<double>());
  return j;
}

Json run_expiry(const Config& cfg) {
  Connection c(cfg.host, cfg.port);
  Connection sub(cfg.host, cfg.port);
  c.command({"FLUSHALL"});
  c.command({"CONFIG", "SET", "notify-keyspace-events", "Ex"});
  const std::string effort = std::to_string(cfg.expire_effort);
  if (c.command({"CONFIG", "SET", "active-expire-effort", effort}).type != '+') {
    die("CONFIG SET active-expire-effort " + effort + " failed");
  }
  const Reply s = sub.command({"SUBSCRIBE", "__keyevent@0__:expired"});
  if (s.type != '*') die("SUBSCRIBE failed");
  const std::string ex = std::to_string(cfg.timeout_s);

  const uint64_t n = cfg.keys;
  const double rate = static_cast<double>(n) / cfg.interval_s;  // SETs/s, like heartbeats
  std::vector<uint8_t> silenced(n);
  uint64_t silenced_count = 0;
  for (uint64_t k = 0; k < n; ++k) {
    // The same deterministic choice presence-loadgen makes.
    silenced[k] = presenced::loadgen::churn_selected(k, cfg.churn_fraction, cfg.seed) ? 1 : 0;
    silenced_count += silenced[k];
  }
  // Two full rounds of refreshes (every key SET twice, phases spread over
  // the interval), then the silenced keys stop; the rest go on until every
  // silenced key has expired or the bound passes.
  std::vector<uint64_t> last_set_us(n, 0);
  std::vector<uint8_t> expired(n, 0);
  std::vector<double> delays_ms;
  uint64_t unexpected = 0, foreign = 0, refreshes = 0;
  std::size_t errors = 0;
  const uint64_t t0 = now_us();
  const uint64_t silence_at = t0 + static_cast<uint64_t>(2 * cfg.interval_s * 1e6);
  const uint64_t bound = silence_at + static_cast<uint64_t>((cfg.timeout_s + 120.0) * 1e6);
  uint64_t issued = 0;  // SETs issued so far (key = issued % n)
  uint64_t pending = 0;
  std::string batch;
  uint64_t detected = 0;
  double next_progress = 1.0;
  const std::string prefix = "presence:";
  while (true) {
    const uint64_t now = now_us();
    if (now >= bound) break;
    if (now >= silence_at && detected >= silenced_count) break;
    // Refreshes due by now.
    const auto due = static_cast<uint64_t>(static_cast<double>(now - t0) / 1e6 * rate);
    batch.clear();
    uint64_t in_batch = 0;
    while (issued < due && in_batch < 4096) {
      const uint64_t k = issued % n;
      ++issued;
      if (now >= silence_at && silenced[k]) continue;
      append_set(batch, cfg, k, ex);
      last_set_us[k] = now;
      ++in_batch;
    }
    if (in_batch > 0) {
      c.write_all(batch);
      pending += in_batch;
      refreshes += in_batch;
    }
    // Replies of the command connection (drained without blocking).
    pollfd p[2] = {{c.fd(), POLLIN, 0}, {sub.fd(), POLLIN, 0}};
    ::poll(p, 2, 1);
    if (p[0].revents & POLLIN) {
      c.fill(0);
      pending -= c.consume_simple(&errors);
    }
    if (p[1].revents & POLLIN) {
      sub.fill(0);
      const uint64_t t = now_us();
      while (auto r = sub.parse()) {
        if (r->items.size() < 3 || r->items[0] != "message") continue;
        const std::string& key = r->items[2];
        uint64_t user = 0;
        if (key.rfind(prefix, 0) != 0 ||
            std::sscanf(key.c_str() + prefix.size(), "%" SCNu64, &user) != 1 ||
            user < cfg.user_base || user - cfg.user_base >= n) {
          ++foreign;
          continue;
        }
        const uint64_t k = user - cfg.user_base;
        if (!silenced[k] || t < silence_at) {
          ++unexpected;
          continue;
        }
        if (expired[k]) continue;
        expired[k] = 1;
        ++detected;
        const double d = (static_cast<double>(t) - static_cast<double>(last_set_us[k])) / 1000.0 -
                         cfg.timeout_s * 1000.0;
        delays_ms.push_back(d);
      }
    }
    const double el = static_cast<double>(now - t0) / 1e6;
    if (el >= next_progress) {
      std::fprintf(stderr, "[%5.1fs] redis expiry: refreshes %" PRIu64 ", expired %" PRIu64
                   "/%" PRIu64 " silenced, unexpected %" PRIu64 "\n",
                   el, refreshes, detected, silenced_count, unexpected);
      next_progress += 1.0;
    }
  }
  if (errors > 0) die(std::to_string(errors) + " SETs failed");
  std::vector<double> sorted = delays_ms;
  std::sort(sorted.begin(), sorted.end());
  auto q = [&](double p) {
    if (sorted.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size()))) - 1;
    return sorted[std::min(i, sorted.size() - 1)];
  };
  Json j;
  j["mode"] = "expiry";
  j["keys"] = n;
  j["interval_s"] = cfg.interval_s;
  j["timeout_s"] = cfg.timeout_s;
  j["active_expire_effort"] = cfg.expire_effort;
  j["silenced"] = silenced_count;
  j["expired"] = detected;
  j["missing"] = silenced_count - detected;
  j["unexpected"] = unexpected;
  j["delay_ms"] = {{"count", sorted.size()}, {"p50", q(0.5)},  {"p90", q(0.9)},
                   {"p99", q(0.99)},         {"max", sorted.empty() ? 0.0 : sorted.back()},
                   {"min", sorted.empty() ? 0.0 : sorted.front()}};
  if (!cfg.delays_out.empty()) {
    std::ofstream out(cfg.delays_out);
    for (double d : delays_ms) out << d << "\n";
  }
  std::fprintf(stderr,
               "redis expiry: %" PRIu64 "/%" PRIu64 " silenced keys expired; beyond the %u s "
               "EX: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
               detected, silenced_count, cfg.timeout_s, q(0.5), q(0.99),
               sorted.empty() ? 0.0 : sorted.back());
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"redis_bench: presence in Redis the common way (SET key status EX timeout per "
               "heartbeat, keyspace expired events), for bench/e2e/run.sh",
               "redis_bench"};
  app.add_option("--mode", cfg.mode, "memory, throughput or expiry")->capture_default_str();
  app.add_option("--host", cfg.host, "Redis IPv4 address")->capture_default_str();
  app.add_option("--port", cfg.port, "Redis port")->capture_default_str();
  app.add_option("--keys", cfg.keys, "sessions (keys presence:{user}:1)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  app.add_option("--user-base", cfg.user_base, "first user id")->capture_default_str();
  app.add_option("--timeout-s", cfg.timeout_s, "EX of every SET (the presence timeout)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  app.add_option("--pipeline", cfg.pipeline, "commands per pipelined batch")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--connections", cfg.connections, "throughput: connections")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--duration", cfg.duration_s, "throughput: seconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--interval-s", cfg.interval_s, "expiry: refresh period of every key, s")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--churn-fraction", cfg.churn_fraction, "expiry: share of keys that go silent")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--expire-effort", cfg.expire_effort,
                 "expiry: Redis active-expire-effort (1, its default, to 10)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10u));
  app.add_option("--seed", cfg.seed, "churn choice (as presence-loadgen --seed)")
      ->capture_default_str();
  app.add_option("--redis-pid", cfg.redis_pid, "sample redis-server's CPU and RSS from /proc");
  app.add_option("--json", cfg.json_out, "write the result as JSON to FILE");
  app.add_option("--delays-out", cfg.delays_out, "expiry: one delay (ms) per line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  Json j;
  if (cfg.mode == "memory") {
    j = run_memory(cfg);
  } else if (cfg.mode == "throughput") {
    j = run_throughput(cfg);
  } else if (cfg.mode == "expiry") {
    j = run_expiry(cfg);
  } else {
    std::fprintf(stderr, "redis_bench: --mode must be memory, throughput or expiry\n");
    return 2;
  }
  if (!cfg.json_out.empty()) {
    std::ofstream out(cfg.json_out);
    out << j.dump(2) << "\n";
  }
  if (cfg.mode == "expiry" && j["missing"].get<uint64_t>() > 0) return 1;
  return 0;
}
