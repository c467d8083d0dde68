// dpdk_bench.cc: heartbeats per second per server core, through the DPDK
// backend and, for comparison, through the kernel backends on loopback.
// bench/dpdk/run.sh runs it; results go to docs/BENCHMARKS.md ("DPDK").
//
// A load generator on one CPU keeps a server core on another CPU busy with
// valid, freshly signed heartbeats (every packet a new seq, MAC computed in
// AVX2 batches) for N sessions, and counts the ACKs that come back
// (every 1024th is parsed and its MAC verified). Phases: warm-up (one
// heartbeat per session, in order: creates every session), then
// --seconds of heartbeats to random sessions; the rates are over that
// window.
//
// Modes:
//   ring   one process: the presenced server (control::Server, --backend
//          dpdk, busy polling) on --server-cpu, its port one end of a pair
//          of net_ring ports wired back to back; the generator on the other
//          end, on --cpu. Reports the server's own counters too.
//   memif  the generator alone, on a net_memif client port (--dpdk-args),
//          talking to a presenced daemon whose port is the memif server.
//   udp    the generator alone, as a kernel UDP client (sendmmsg/recvmmsg on
//          one connected socket, at most --window heartbeats unanswered) to
//          a presenced daemon at --target (uring or socket backend).
// The sessions' keys come from --master-key-file (the daemon's key), or a
// fixed test key in ring mode.
//
// Output: one JSON object on stdout, e.g.
//   {"mode":"ring","sessions":1000000,"seconds":5,"sent_pps":...,
//    "acked_pps":...,"server_rx_pps":...,"server_ack_pps":...,"bad_acks":0,
//    "warmup_s":...}
// Exit 0, or 1 when the run failed (no ACKs, a bad ACK, set-up errors).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "control/server.h"
#include "dataplane/auth/session_key.h"
#include "dataplane/auth/siphash_batch.h"
#include "dataplane/common/byte_order.h"
#include "dataplane/io/dpdk/dpdk_eal.h"
#include "dataplane/io/dpdk/dpdk_test_port.h"
#include "dataplane/io/dpdk/frame.h"
#include "dataplane/loop/core_loop.h"
#include "dataplane/table/presence_table.h"
#include "dataplane/wire/codec.h"

namespace presenced::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kBurst = 32;
constexpr uint64_t kUserBase = 1'000'000;
constexpr uint16_t kServerPort = 7460;
constexpr std::size_t kFrameLen = 14 + 20 + 8 + wire::kHeartbeatSize;  // 82

struct Options {
  std::string mode = "ring";
  uint64_t sessions = 1'000'000;
  double seconds = 5;
  double warmup_limit_s = 300;
  int cpu = 0;
  int server_cpu = 1;
  std::string dpdk_args;
  std::string key_file;
  std::string target = "127.0.0.1:7460";
  uint32_t window = 1024;
  uint16_t port = 0;  // memif: the generator's DPDK port
  // New sessions per second in the warm-up (daemon modes): below the
  // engine's admission rate (200,000/s), which answers sessions beyond it
  // with RECONNECT(overload). Ring mode turns admission control off.
  double warmup_rate = 150'000;
  // Later runs against the same daemon: sessions exist, seqs continue above
  // this base.
  bool skip_warmup = false;
  uint32_t seq_base = 0;
  // The presenced daemon (memif, udp): its busiest thread's CPU time over
  // the window is the data core's.
  int server_pid = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "dpdk_bench: %s\n"
               "usage: dpdk_bench --mode ring|io|cost|memif|udp [--sessions N] [--seconds S] [--cpu C]\n"
               "  [--server-cpu C] [--dpdk-args \"EAL args\"] [--port N] [--master-key-file F]\n"
               "  [--target ADDR:PORT] [--window N] [--warmup-limit S] [--warmup-rate N]\n"
               "  [--skip-warmup --seq-base N] [--server-pid PID]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mode") {
      o.mode = value();
    } else if (a == "--sessions") {
      o.sessions = std::stoull(value());
    } else if (a == "--seconds") {
      o.seconds = std::stod(value());
    } else if (a == "--warmup-limit") {
      o.warmup_limit_s = std::stod(value());
    } else if (a == "--cpu") {
      o.cpu = std::stoi(value());
    } else if (a == "--server-cpu") {
      o.server_cpu = std::stoi(value());
    } else if (a == "--dpdk-args") {
      o.dpdk_args = value();
    } else if (a == "--master-key-file") {
      o.key_file = value();
    } else if (a == "--target") {
      o.target = value();
    } else if (a == "--window") {
      o.window = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--server-pid") {
      o.server_pid = std::stoi(value());
    } else if (a == "--skip-warmup") {
      o.skip_warmup = true;
    } else if (a == "--seq-base") {
      o.seq_base = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--warmup-rate") {
      o.warmup_rate = std::stod(value());
    } else if (a == "--port") {
      o.port = static_cast<uint16_t>(std::stoul(value()));
    } else {
      usage("unknown argument " + a);
    }
  }
  if (o.mode != "ring" && o.mode != "io" && o.mode != "cost" && o.mode != "memif" &&
      o.mode != "udp") {
    usage("bad --mode " + o.mode);
  }
  if (o.sessions == 0 || o.sessions > 100'000'000) usage("--sessions out of range");
  return o;
}

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds (user + system) of every thread of `pid`, by thread id.
std::vector<std::pair<int, double>> thread_cpu(int pid) {
  std::vector<std::pair<int, double>> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  const long hz = sysconf(_SC_CLK_TCK);
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      std::ifstream in(dir + "/" + e->d_name + "/stat");
      std::string line;
      std::getline(in, line);
      // Fields after the ")" of the command: state is field 3; utime 14, stime 15.
      const auto rp = line.rfind(')');
      if (rp == std::string::npos) continue;
      std::istringstream ss(line.substr(rp + 2));
      std::string f;
      double ut = 0;
      double st = 0;
      for (int field = 3; field <= 15 && ss >> f; ++field) {
        if (field == 14) ut = std::stod(f);
        if (field == 15) st = std::stod(f);
      }
      out.emplace_back(std::atoi(e->d_name), (ut + st) / static_cast<double>(hz));
    }
    closedir(d);
  }
  return out;
}

// The largest CPU time any thread of `pid` (but `exclude_tid`) gained
// between two thread_cpu() snapshots: the busy-polling data core.
double busiest_thread_delta(const std::vector<std::pair<int, double>>& a,
                            const std::vector<std::pair<int, double>>& b, int exclude_tid) {
  double best = 0;
  for (const auto& [tid, t1] : b) {
    if (tid == exclude_tid) continue;
    for (const auto& [tid0, t0] : a) {
      if (tid0 == tid) best = std::max(best, t1 - t0);
    }
  }
  return best;
}

struct Counts {
  uint64_t sent = 0;
  uint64_t replies = 0;     // every reply (ACK or RECONNECT)
  uint64_t acks = 0;        // ACKs among them
  uint64_t reconnects = 0;  // RECONNECTs (e.g. admission control)
  uint64_t bad = 0;         // sampled replies whose MAC or format is wrong
  uint64_t checked = 0;     // sampled replies
};

// The client side of N sessions: keys derived once, a seq per session.
class Fleet {
 public:
  Fleet(const auth::MasterKey& master, uint64_t n, uint32_t seq_base)
      : keys_(n), seq_(n, seq_base), admitted_(n, 0) {
    expiry_ = static_cast<uint32_t>(std::time(nullptr)) + 86400;
    uint8_t in[kBurst][wire::kKeyInputSize];
    const uint8_t* msgs[kBurst];
    for (uint64_t base = 0; base < n; base += kBurst) {
      const std::size_t m = std::min<uint64_t>(kBurst, n - base);
      for (std::size_t k = 0; k < m; ++k) {
        auth::build_key_input(kUserBase + base + k, 1, expiry_, in[k]);
        msgs[k] = in[k];
      }
      auth::siphash128_batch(master, msgs, wire::kKeyInputSize, m, &keys_[base]);
    }
  }

  uint64_t size() const { return keys_.size(); }
  // Sessions that got at least one ACK (the server admitted them).
  uint64_t admitted() const { return admitted_count_; }
  std::vector<uint64_t> not_admitted() const {
    std::vector<uint64_t> ids;
    for (uint64_t i = 0; i < admitted_.size(); ++i) {
      if (admitted_[i] == 0) ids.push_back(i);
    }
    return ids;
  }
  void mark_all_admitted() {
    std::fill(admitted_.begin(), admitted_.end(), 1);
    admitted_count_ = admitted_.size();
  }

  // Random sessions miss the caches: fetch a burst's state one burst early.
  void prefetch(uint64_t i) const {
    __builtin_prefetch(&seq_[i], 1, 3);
    __builtin_prefetch(&keys_[i], 0, 3);
  }

  // Writes signed heartbeats for sessions `ids` into `payloads` (40 bytes
  // each, a fresh seq per packet).
  void heartbeats(const uint64_t* ids, std::size_t n, uint8_t* const* payloads) {
    auth::SessionKey keys[kBurst];
    const uint8_t* msgs[kBurst];
    uint64_t macs[kBurst];
    for (std::size_t k = 0; k < n; ++k) {
      const uint64_t i = ids[k];
      wire::ClientPacket p;
      p.h = {wire::PacketType::kHeartbeat, kUserBase + i, 1, ++seq_[i], expiry_};
      p.status = wire::Status::kAvailable;
      p.flags = 0;
      p.interval_s = 30;
      wire::build_client_packet(p, std::span<uint8_t, wire::kHeartbeatSize>(payloads[k], 40));
      keys[k] = keys_[i];
      msgs[k] = payloads[k];
    }
    auth::siphash64_batch(keys, msgs, wire::kOffClientMac, n, macs);
    for (std::size_t k = 0; k < n; ++k) wire::write_mac(payloads[k], wire::kHeartbeatSize, macs[k]);
  }

  // Counts one reply (its type byte) and, for every 1024th, checks its
  // format and MAC.
  void count_reply(const uint8_t* d, std::size_t len, Counts& c) {
    const bool ack = len == wire::kAckSize && d[wire::kOffType] == 2;
    const bool reconnect = len == wire::kReconnectSize && d[wire::kOffType] == 4;
    if (ack) {
      const uint64_t i = load_be<uint64_t>(d + wire::kOffUserId) - kUserBase;
      if (i < admitted_.size() && admitted_[i] == 0) {
        admitted_[i] = 1;
        ++admitted_count_;
      }
    }
    c.acks += ack ? 1 : 0;
    c.reconnects += reconnect ? 1 : 0;
    if ((c.replies++ & 1023) != 0) return;
    ++c.checked;
    if (!ack && !reconnect) {
      ++c.bad;
      return;
    }
    if (ack) {
      wire::AckPacket a;
      if (wire::parse_ack({d, len}, a) != wire::DropReason::kNone) {
        ++c.bad;
        return;
      }
    }
    const uint64_t user = load_be<uint64_t>(d + wire::kOffUserId);
    const uint64_t i = user - kUserBase;
    if (user < kUserBase || i >= keys_.size() || !auth::verify_packet(keys_[i], d, len)) ++c.bad;
  }

 private:
  std::vector<auth::SessionKey> keys_;
  std::vector<uint32_t> seq_;
  std::vector<uint8_t> admitted_;
  uint64_t admitted_count_ = 0;
  uint32_t expiry_ = 0;
};

// Session ids: in order (warm-up), then pseudo-random (xorshift).
class Picker {
 public:
  explicit Picker(uint64_t n) : n_(n) {}
  // In order: 0..n-1, or the ids of use_list() when set.
  uint64_t sequential() {
    if (!list_.empty()) return list_[list_pos_++ % list_.size()];
    return next_seq_++ % n_;
  }
  void use_list(std::vector<uint64_t> ids) {
    list_ = std::move(ids);
    list_pos_ = 0;
    primed_ = false;
  }
  uint64_t random() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    __extension__ using U128 = unsigned __int128;
    return static_cast<uint64_t>((static_cast<U128>(s_) * n_) >> 64);
  }
  // A burst of ids, chosen one burst ahead so their state can be
  // prefetched: fills `ids` with the previously chosen burst.
  void next_burst(bool sequential, const Fleet& fleet, uint64_t* ids, uint32_t n) {
    if (!primed_ || sequential != ahead_sequential_) {
      fill(sequential);
      primed_ = true;
    }
    std::memcpy(ids, ahead_, n * sizeof ids[0]);
    if (n < kBurst) {
      std::memmove(ahead_, ahead_ + n, (kBurst - n) * sizeof ahead_[0]);
      for (uint32_t k = kBurst - n; k < kBurst; ++k) ahead_[k] = pick(sequential);
    } else {
      fill(sequential);
    }
    for (uint32_t k = 0; k < kBurst; ++k) fleet.prefetch(ahead_[k]);
  }

 private:
  uint64_t pick(bool sequential) { return sequential ? this->sequential() : random(); }
  void fill(bool sequential) {
    for (uint32_t k = 0; k < kBurst; ++k) ahead_[k] = pick(sequential);
    ahead_sequential_ = sequential;
  }

  uint64_t n_;
  uint64_t next_seq_ = 0;
  uint64_t s_ = 0x9e3779b97f4a7c15ull;
  uint64_t ahead_[kBurst] = {};
  bool primed_ = false;
  bool ahead_sequential_ = false;
  std::vector<uint64_t> list_;
  uint64_t list_pos_ = 0;
};


// Ethernet + IPv4 + UDP headers of the generator's frames (the UDP source
// port and checksum are filled per frame).
struct FrameTemplate {
  uint8_t bytes[42];
  uint8_t src_ip[4] = {10, 1, 0, 2};
  uint8_t dst_ip[4] = {10, 1, 0, 1};

  FrameTemplate(const uint8_t* dst_mac, const uint8_t* src_mac) {
    std::memset(bytes, 0, sizeof bytes);
    std::memcpy(bytes, dst_mac, 6);
    std::memcpy(bytes + 6, src_mac, 6);
    store_be<uint16_t>(bytes + 12, 0x0800);
    uint8_t* ip = bytes + 14;
    ip[0] = 0x45;
    store_be<uint16_t>(ip + 2, 20 + 8 + wire::kHeartbeatSize);
    store_be<uint16_t>(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 17;
    std::memcpy(ip + 12, src_ip, 4);
    std::memcpy(ip + 16, dst_ip, 4);
    const uint16_t c = static_cast<uint16_t>(~io::dpdk::csum_fold(io::dpdk::csum_add(ip, 20, 0)));
    std::memcpy(ip + 10, &c, 2);
    uint8_t* udp = ip + 20;
    store_be<uint16_t>(udp + 2, kServerPort);
    store_be<uint16_t>(udp + 4, 8 + wire::kHeartbeatSize);
    pseudo_ = io::dpdk::udp_pseudo_sum(true, src_ip, dst_ip, 8 + wire::kHeartbeatSize);
    fixed_ = pseudo_ + __builtin_bswap16(kServerPort) +
             __builtin_bswap16(static_cast<uint16_t>(8 + wire::kHeartbeatSize));
  }

  // Headers for session `i`, then the UDP checksum over the payload already
  // at frame + 42 (summed from the port value and the payload, not read
  // back from the header bytes just stored).
  void finish(uint8_t* f, uint64_t i) const {
    const uint16_t port = static_cast<uint16_t>(1024 + i % 60000);
    std::memcpy(f, bytes, sizeof bytes);
    store_be<uint16_t>(f + 34, port);
    const uint64_t sum = fixed_ + __builtin_bswap16(port) +
                         io::dpdk::csum_add(f + 42, wire::kHeartbeatSize, 0);
    uint16_t c = static_cast<uint16_t>(~io::dpdk::csum_fold(sum));
    if (c == 0) c = 0xffff;
    std::memcpy(f + 40, &c, 2);
  }

 private:
  uint64_t pseudo_ = 0;
  uint64_t fixed_ = 0;  // pseudo-header + destination port + UDP length
};

// Generator over a DPDK frame port (ring or memif modes).
class FrameGenerator {
 public:
  FrameGenerator(io::dpdk::FramePort& port, Fleet& fleet, const uint8_t* dst_mac)
      : port_(port), fleet_(fleet), picker_(fleet.size()), tmpl_(dst_mac, own_mac(port)) {}

  // One burst out (sequential or random sessions), then the ACKs in.
  void step(bool sequential, Counts& c) {
    send_burst(sequential, c);
    drain(c);
  }

  void send_burst(bool sequential, Counts& c) {
    uint8_t* frames[kBurst];
    const uint32_t n = port_.alloc(frames, kBurst);
    if (n != 0) {
      uint64_t ids[kBurst];
      uint8_t* payloads[kBurst];
      picker_.next_burst(sequential, fleet_, ids, n);
      for (uint32_t k = 0; k < n; ++k) payloads[k] = frames[k] + 42;
      fleet_.heartbeats(ids, n, payloads);
      uint16_t lens[kBurst];
      for (uint32_t k = 0; k < n; ++k) {
        tmpl_.finish(frames[k], ids[k]);
        lens[k] = kFrameLen;
      }
      c.sent += port_.send(lens, n);
    }
  }

  Picker& picker() { return picker_; }

  void drain(Counts& c) {
    const uint8_t* r[64];
    uint32_t lens[64];
    const uint32_t m = port_.receive(r, lens, 64);
    for (uint32_t k = 0; k < m; ++k) {
      // Ethernet + IPv4 (no options: ours) + UDP, then the payload.
      fleet_.count_reply(r[k] + 42, lens[k] >= 42 ? lens[k] - 42 : 0, c);
    }
  }

 private:
  static const uint8_t* own_mac(io::dpdk::FramePort& p) {
    static uint8_t mac[6];
    p.mac(mac);
    if (std::all_of(mac, mac + 6, [](uint8_t b) { return b == 0; })) mac[0] = 0x02, mac[5] = 0x02;
    return mac;
  }

  io::dpdk::FramePort& port_;
  Fleet& fleet_;
  Picker picker_;
  FrameTemplate tmpl_;
};

struct Result {
  double warmup_s = 0;
  double window_s = 0;
  Counts warm;
  Counts run;
  double server_rx_pps = -1;
  double server_ack_pps = -1;
  double server_cpu_s = -1;  // the data core thread's CPU time in the window
};

// Drains until every sent heartbeat is answered, no ACK came for a second,
// or the warm-up limit.
template <typename DrainFn>
void wait_for_replies(const Options& o, Clock::time_point start, DrainFn drain, Counts& c) {
  auto progress = Clock::now();
  while (c.replies < c.sent && since(start) < o.warmup_limit_s && since(progress) < 1.0) {
    const uint64_t before = c.replies;
    drain(c);
    if (c.replies != before) progress = Clock::now();
  }
}

template <typename StepFn, typename DrainFn>
bool run_phases(const Options& o, uint64_t sessions, Fleet& fleet, Picker& picker, StepFn step,
                DrainFn drain, Result& r) {
  // Warm-up: one heartbeat per session, in order, paced below the
  // engine's admission rate (a token bucket 1,000 sessions deep, so a
  // generator that was descheduled does not catch up in one lump). Sessions
  // the server still refused (RECONNECT: a lump on its side) are sent again,
  // a few passes at most.
  const auto w0 = Clock::now();
  if (o.skip_warmup) {
    r.warm.sent = r.warm.replies = r.warm.acks = sessions;
    fleet.mark_all_admitted();
  }
  for (int pass = 0; pass < 6 && fleet.admitted() < sessions && since(w0) < o.warmup_limit_s;
       ++pass) {
    uint64_t todo = sessions;
    if (pass > 0) {
      std::vector<uint64_t> ids = fleet.not_admitted();
      todo = ids.size();
      picker.use_list(std::move(ids));
    }
    double tokens = 0;
    auto last = Clock::now();
    uint64_t sent = 0;
    while (sent < todo && since(w0) < o.warmup_limit_s) {
      const auto now = Clock::now();
      tokens = std::min(1000.0, tokens + o.warmup_rate * std::chrono::duration<double>(now - last).count());
      last = now;
      if (tokens >= kBurst) {
        const uint64_t before = r.warm.sent;
        step(true, r.warm);
        sent += r.warm.sent - before;
        tokens -= static_cast<double>(r.warm.sent - before);
      } else {
        drain(r.warm);
      }
    }
    wait_for_replies(o, w0, drain, r.warm);
  }
  picker.use_list({});
  r.warmup_s = since(w0);
  if (fleet.admitted() < sessions) {
    std::fprintf(stderr,
                 "dpdk_bench: warm-up: %" PRIu64 " of %" PRIu64 " sessions admitted (%" PRIu64
                 " ACKs, %" PRIu64 " RECONNECTs, %" PRIu64 " sent)\n",
                 fleet.admitted(), sessions, r.warm.acks, r.warm.reconnects, r.warm.sent);
    return false;
  }
  // Measurement window: random sessions.
  const auto cpu0 = o.server_pid > 0 ? thread_cpu(o.server_pid) : decltype(thread_cpu(0)){};
  const auto t0 = Clock::now();
  while (since(t0) < o.seconds) {
    for (int i = 0; i < 64; ++i) step(false, r.run);
  }
  r.window_s = since(t0);
  if (o.server_pid > 0) r.server_cpu_s = busiest_thread_delta(cpu0, thread_cpu(o.server_pid), 0);
  return true;
}

void print(const Options& o, const std::string& backend, const Result& r) {
  std::printf(
      "{\"mode\":\"%s\",\"backend\":\"%s\",\"sessions\":%" PRIu64
      ",\"seconds\":%.3f,\"warmup_s\":%.3f,\"sent_pps\":%.0f,\"acked_pps\":%.0f,"
      "\"server_rx_pps\":%.0f,\"server_ack_pps\":%.0f,\"server_cpu_s\":%.3f,"
      "\"acked_per_server_cpu_s\":%.0f,\"reconnects\":%" PRIu64
      ",\"checked_replies\":%" PRIu64 ",\"bad_replies\":%" PRIu64 "}\n",
      o.mode.c_str(), backend.c_str(), o.sessions, r.window_s, r.warmup_s,
      static_cast<double>(r.run.sent) / r.window_s, static_cast<double>(r.run.acks) / r.window_s,
      r.server_rx_pps, r.server_ack_pps, r.server_cpu_s,
      r.server_cpu_s > 0 ? static_cast<double>(r.run.acks) / r.server_cpu_s : -1.0,
      r.warm.reconnects + r.run.reconnects,
      r.warm.checked + r.run.checked, r.warm.bad + r.run.bad);
  std::fflush(stdout);
}

auth::MasterKey load_key(const Options& o) {
  auth::MasterKey k;
  if (o.key_file.empty()) {
    for (uint8_t i = 0; i < 16; ++i) k.bytes[i] = i;
    return k;
  }
  std::ifstream in(o.key_file);
  std::string text;
  std::getline(in, text);
  if (!auth::parse_master_key_hex(text, k)) usage("bad --master-key-file " + o.key_file);
  return k;
}

// --dpdk-args, or (in-process modes) an EAL on ordinary memory with its own
// --file-prefix, whose runtime directory is removed at exit (after the
// EAL's own atexit cleanup, which is registered later).
std::string eal_args(const Options& o, int megabytes) {
  if (!o.dpdk_args.empty()) return o.dpdk_args;
  static std::string dir;
  const std::string prefix = "pd-bench-" + std::to_string(getpid());
  dir = "/var/run/dpdk/" + prefix;
  std::atexit([] {
    if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
    }
  });
  return "--no-huge --no-pci -m " + std::to_string(megabytes) + " --file-prefix " + prefix;
}

int run_ring(const Options& o) {
  std::string err;
  const std::string args = eal_args(o, 4096);
  if (!io::dpdk::ensure_eal(args, &err)) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return 1;
  }
  auto pair = io::dpdk::RingPort::create_pair("bench", 4096, &err);
  if (!pair) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return 1;
  }
  const auth::MasterKey key = load_key(o);
  control::ServerConfig cfg;
  cfg.backend = io::BackendKind::kDpdk;
  cfg.listen = NetAddr::v4_bytes(0, 0, 0, 0, kServerPort);
  cfg.cores = {o.server_cpu};
  cfg.max_sessions = o.sessions + o.sessions / 8 + 1024;
  cfg.busy_poll = true;
  cfg.engine.admission_rate = 0;  // the warm-up creates sessions as fast as it can
  cfg.dpdk_args = args;
  cfg.dpdk_port = pair->port_id();
  cfg.dpdk_ips = {NetAddr::v4_bytes(10, 1, 0, 1, 0)};
  cfg.dpdk_ip_prefixes = {24};
  cfg.dpdk_exception = "off";
  auto server = control::Server::create(cfg, key, &err);
  if (!server) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return 1;
  }
  auto port = io::dpdk::FramePort::attach(pair->peer_port_id(), 4096, &err);
  if (!port) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return 1;
  }
  server->start();
  pin(o.cpu);
  Fleet fleet(key, o.sessions, o.seq_base);
  const uint8_t server_mac[6] = {0, 0, 0, 0, 0, 0};  // net_ring's
  FrameGenerator gen(*port, fleet, server_mac);
  Result r;
  auto step = [&](bool seq, Counts& c) { gen.step(seq, c); };
  auto drain = [&](Counts& c) { gen.drain(c); };
  // Warm-up, then read the server's counters around the window.
  io::BackendStats io0;
  engine::CoreStatsSnapshot e0;
  bool ok = true;
  {
    const auto w0 = Clock::now();
    while (r.warm.sent < o.sessions && since(w0) < o.warmup_limit_s) step(true, r.warm);
    wait_for_replies(o, w0, drain, r.warm);
    r.warmup_s = since(w0);
    ok = r.warm.acks >= o.sessions * 99 / 100;
    io0 = server->backend_stats(0);
    e0 = server->core_stats(0);
    const auto cpu0 = thread_cpu(getpid());
    const auto t0 = Clock::now();
    while (ok && since(t0) < o.seconds) {
      for (int i = 0; i < 64; ++i) step(false, r.run);
    }
    r.window_s = since(t0);
    r.server_cpu_s = busiest_thread_delta(cpu0, thread_cpu(getpid()), gettid());
  }
  const io::BackendStats io1 = server->backend_stats(0);
  const engine::CoreStatsSnapshot e1 = server->core_stats(0);
  r.server_rx_pps = static_cast<double>(io1.rx_datagrams - io0.rx_datagrams) / r.window_s;
  r.server_ack_pps = static_cast<double>(e1.acks_sent - e0.acks_sent) / r.window_s;
  server->stop();
  for (int i = 0; i < 1000; ++i) gen.drain(r.run);
  port.reset();
  server.reset();
  if (!ok) {
    std::fprintf(stderr, "dpdk_bench: warm-up got %" PRIu64 " ACKs for %" PRIu64 " sessions\n",
                 r.warm.acks, o.sessions);
    return 1;
  }
  print(o, "dpdk-ring", r);
  return r.run.acks == 0 || r.warm.bad + r.run.bad != 0 ? 1 : 0;
}

// The DPDK backend without a server: EAL, two net_ring ports wired back to
// back, presenced's DPDK backend (one core's queue pair) on one and the
// generator's FramePort on the other. Members are destroyed port first,
// then the backend, then the ring pair; close() does the same after
// discarding what is still queued.
struct BackendRig {
  std::unique_ptr<io::dpdk::RingPort> pair;
  std::vector<std::unique_ptr<io::IoBackend>> backends;
  std::unique_ptr<io::dpdk::FramePort> port;

  void close() {
    pair->discard_tx();
    port.reset();
    backends.clear();
  }
};

// False (the error printed) when a step fails.
bool open_backend_rig(const Options& o, BackendRig& rig) {
  std::string err;
  const std::string args = eal_args(o, 2048);
  if (!io::dpdk::ensure_eal(args, &err)) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return false;
  }
  rig.pair = io::dpdk::RingPort::create_pair("bench", 4096, &err);
  if (!rig.pair) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return false;
  }
  io::BackendOptions bo;
  bo.kind = io::BackendKind::kDpdk;
  bo.listen = NetAddr::v4_bytes(0, 0, 0, 0, kServerPort);
  bo.dpdk_args = args;
  bo.dpdk_port = rig.pair->port_id();
  bo.dpdk_addresses = {NetAddr::v4_bytes(10, 1, 0, 1, 0)};
  bo.dpdk_exception = "off";
  rig.backends = io::create_backends(bo, &err);
  if (rig.backends.empty()) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return false;
  }
  rig.port = io::dpdk::FramePort::attach(rig.pair->peer_port_id(), 4096, &err);
  if (!rig.port) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return false;
  }
  return true;
}

// The DPDK backend alone: a core thread runs receive -> echo each datagram
// back as its own "reply" (no engine, no crypto) -> send, and times the
// iterations that had work: the backend's cost per packet and its ceiling.
int run_io(const Options& o) {
  BackendRig rig;
  if (!open_backend_rig(o, rig)) return 1;
  auto& backends = rig.backends;
  auto& port = rig.port;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> busy_ns{0};
  std::atomic<uint64_t> packets{0};
  std::atomic<bool> measuring{false};
  std::thread core([&] {
    pin(o.server_cpu);
    io::IoBackend& b = *backends.front();
    std::vector<engine::RxDatagram> rx(kBurst);
    std::vector<engine::TxDatagram> tx(kBurst);
    uint64_t my_busy = 0;
    uint64_t my_packets = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const auto t0 = Clock::now();
      const uint32_t n = b.receive(rx.data(), kBurst);
      if (n == 0) continue;
      for (uint32_t i = 0; i < n; ++i) {
        tx[i].dst = rx[i].src;
        tx[i].local = rx[i].local;
        tx[i].l2_hint = rx[i].l2_hint;
        tx[i].len = rx[i].len;
        std::memcpy(tx[i].bytes, rx[i].data, rx[i].len);
      }
      b.send(tx.data(), n);
      if (measuring.load(std::memory_order_relaxed)) {
        my_busy += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             Clock::now() - t0)
                                             .count());
        my_packets += n;
      }
    }
    busy_ns.store(my_busy);
    packets.store(my_packets);
  });
  pin(o.cpu);
  const auth::MasterKey key = load_key(o);
  Fleet fleet(key, o.sessions, o.seq_base);
  const uint8_t server_mac[6] = {0, 0, 0, 0, 0, 0};
  FrameGenerator gen(*port, fleet, server_mac);
  Result r;
  measuring.store(true);
  const auto cpu0 = thread_cpu(getpid());
  const auto t0 = Clock::now();
  while (since(t0) < o.seconds) {
    for (int i = 0; i < 64; ++i) gen.step(false, r.run);
  }
  r.window_s = since(t0);
  r.server_cpu_s = busiest_thread_delta(cpu0, thread_cpu(getpid()), gettid());
  measuring.store(false);
  stop.store(true);
  core.join();
  for (int i = 0; i < 1000; ++i) gen.drain(r.run);
  rig.close();
  // Echoed heartbeats come back as "replies" of type HEARTBEAT: count them.
  const double ns_per_packet =
      packets.load() != 0 ? static_cast<double>(busy_ns.load()) / static_cast<double>(packets.load())
                          : -1.0;
  std::printf(
      "{\"mode\":\"io\",\"backend\":\"dpdk-ring-echo\",\"sessions\":%" PRIu64
      ",\"seconds\":%.3f,\"sent_pps\":%.0f,\"echoed_pps\":%.0f,\"server_cpu_s\":%.3f,"
      "\"busy_ns_per_packet\":%.1f,\"busy_pps_ceiling\":%.0f}\n",
      o.sessions, r.window_s, static_cast<double>(r.run.sent) / r.window_s,
      static_cast<double>(r.run.replies) / r.window_s, r.server_cpu_s, ns_per_packet,
      ns_per_packet > 0 ? 1e9 / ns_per_packet : -1.0);
  return r.run.replies == 0 ? 1 : 0;
}

// Per-packet CPU cost on one core, everything in one thread (no cache
// line crosses cores, as when a NIC writes frames into the cache): the
// generator makes a burst of 32 and puts it on the ring, the server side
// runs one core-loop iteration (receive -> engine -> send, or receive ->
// echo -> send for the backend alone), the generator takes the replies.
// Each part is timed per burst; medians over all bursts (a preemption hits
// a few bursts, not the median).
int run_cost(const Options& o) {
  std::string err;
  BackendRig rig;
  if (!open_backend_rig(o, rig)) return 1;
  auto& backends = rig.backends;
  auto& port = rig.port;
  pin(o.cpu);
  const auth::MasterKey key = load_key(o);
  table::PresenceTable::Options to;
  to.max_sessions = o.sessions + o.sessions / 8 + 1024;
  auto table = table::PresenceTable::create(to, &err);
  if (!table) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return 1;
  }
  engine::EngineShared::Options so;
  so.master_key = key;
  so.mono_base_ns = 0;
  engine::EngineShared shared(*table, so);
  engine::EngineConfig ec;
  ec.heartbeat_budget = 0;
  ec.admission_rate = 0;
  engine::Engine eng(shared, 0, ec);
  std::vector<engine::RxDatagram> rx(kBurst);
  std::vector<engine::TxDatagram> tx(4096);
  std::vector<engine::PresenceEvent> ev(1 << 16);
  io::IoBackend& b = *backends.front();

  Fleet fleet(key, o.sessions, o.seq_base);
  const uint8_t server_mac[6] = {0, 0, 0, 0, 0, 0};
  FrameGenerator gen(*port, fleet, server_mac);
  auto server_iteration = [&](bool echo) {
    const uint32_t n = b.receive(rx.data(), kBurst);
    engine::ReplyBatch replies{tx.data(), static_cast<uint32_t>(tx.size()), 0};
    engine::EventBatch events{ev.data(), static_cast<uint32_t>(ev.size()), 0};
    if (echo) {
      for (uint32_t i = 0; i < n; ++i) {
        engine::TxDatagram& t = replies.push();
        t.dst = rx[i].src;
        t.local = rx[i].local;
        t.l2_hint = rx[i].l2_hint;
        t.len = rx[i].len;
        std::memcpy(t.bytes, rx[i].data, rx[i].len);
      }
    } else {
      eng.process({rx.data(), n}, loop::CoreLoop::read_clock(), replies, events);
    }
    if (replies.size != 0) b.send(replies.data, replies.size);
    return n;
  };
  // Warm-up: every session created (in bursts, like the wire would).
  Counts warm;
  while (warm.sent < o.sessions) {
    gen.send_burst(true, warm);
    server_iteration(false);
    server_iteration(false);  // an empty receive flushes the replies
    gen.drain(warm);
  }
  if (warm.acks < o.sessions * 99 / 100) {
    std::fprintf(stderr, "dpdk_bench: cost warm-up: %" PRIu64 " ACKs\n", warm.acks);
    return 1;
  }
  auto median = [](std::vector<double>& v) {
    if (v.empty()) return -1.0;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  auto ns = [](Clock::time_point a, Clock::time_point b2) {
    return std::chrono::duration<double, std::nano>(b2 - a).count();
  };
  double gen_ns = 0;
  double server_ns[2] = {0, 0};
  Counts counts[2];
  for (int phase = 0; phase < 2; ++phase) {  // 0: full server, 1: backend only (echo)
    const bool echo = phase == 1;
    std::vector<double> g;
    std::vector<double> sv;
    Counts& c = counts[phase];
    const auto start = Clock::now();
    while (since(start) < o.seconds / 2) {
      const auto t0 = Clock::now();
      gen.send_burst(false, c);
      const auto t1 = Clock::now();
      const uint32_t n = server_iteration(echo);
      const uint32_t m = server_iteration(echo);  // drained queue: flushes the TX buffer
      const auto t2 = Clock::now();
      gen.drain(c);
      const auto t3 = Clock::now();
      if (n == kBurst && m == 0) {
        sv.push_back(ns(t1, t2) / kBurst);
        g.push_back((ns(t0, t1) + ns(t2, t3)) / kBurst);
      }
    }
    server_ns[phase] = median(sv);
    if (phase == 0) gen_ns = median(g);
  }
  rig.close();
  std::printf(
      "{\"mode\":\"cost\",\"sessions\":%" PRIu64
      ",\"server_ns_per_packet\":%.1f,\"backend_ns_per_packet\":%.1f,"
      "\"generator_ns_per_packet\":%.1f,\"server_pps_ceiling\":%.0f,"
      "\"backend_pps_ceiling\":%.0f,\"acks\":%" PRIu64 ",\"bad_replies\":%" PRIu64 "}\n",
      o.sessions, server_ns[0], server_ns[1], gen_ns, 1e9 / server_ns[0], 1e9 / server_ns[1],
      counts[0].acks, counts[0].bad);
  return counts[0].acks == 0 || counts[0].bad != 0 ? 1 : 0;
}

int run_memif(const Options& o) {
  std::string err;
  if (!io::dpdk::ensure_eal(o.dpdk_args, &err)) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return 1;
  }
  auto port = io::dpdk::FramePort::attach(o.port, 4096, &err);
  if (!port) {
    std::fprintf(stderr, "dpdk_bench: %s\n", err.c_str());
    return 1;
  }
  pin(o.cpu);
  const auth::MasterKey key = load_key(o);
  Fleet fleet(key, o.sessions, o.seq_base);
  const uint8_t any_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  FrameGenerator gen(*port, fleet, any_mac);
  Result r;
  // The memif link comes up asynchronously: wait for the first ACK.
  Counts probe;
  const auto p0 = Clock::now();
  while (probe.replies == 0 && since(p0) < 30) {
    gen.step(true, probe);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    gen.drain(probe);
  }
  if (probe.replies == 0) {
    std::fprintf(stderr, "dpdk_bench: no reply over memif within 30 s\n");
    return 1;
  }
  const bool ok = run_phases(
      o, o.sessions, fleet, gen.picker(), [&](bool seq, Counts& c) { gen.step(seq, c); },
      [&](Counts& c) { gen.drain(c); }, r);
  if (!ok) return 1;
  print(o, "dpdk-memif", r);
  return r.run.acks == 0 || r.warm.bad + r.run.bad != 0 ? 1 : 0;
}

// Kernel UDP client: one connected socket, sendmmsg/recvmmsg.
int run_udp(const Options& o) {
  NetAddr target;
  if (!parse_net_addr(o.target, target) || target.family != 4) usage("bad --target " + o.target);
  pin(o.cpu);
  const auth::MasterKey key = load_key(o);
  Fleet fleet(key, o.sessions, o.seq_base);
  Picker picker(o.sessions);
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(target.port);
  std::memcpy(&sa.sin_addr, target.ip.data(), 4);
  // As root, past net.core.[rw]mem_max (the replies of a full window
  // must fit).
  const int buf = 16 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::perror("dpdk_bench: socket/connect");
    return 1;
  }
  uint8_t tx[kBurst][wire::kHeartbeatSize];
  uint8_t* payloads[kBurst];
  mmsghdr tmsg[kBurst];
  iovec tiov[kBurst];
  for (uint32_t k = 0; k < kBurst; ++k) {
    payloads[k] = tx[k];
    tiov[k] = {tx[k], wire::kHeartbeatSize};
    std::memset(&tmsg[k], 0, sizeof tmsg[k]);
    tmsg[k].msg_hdr.msg_iov = &tiov[k];
    tmsg[k].msg_hdr.msg_iovlen = 1;
  }
  constexpr uint32_t kRx = 64;
  uint8_t rx[kRx][64];
  mmsghdr rmsg[kRx];
  iovec riov[kRx];
  for (uint32_t k = 0; k < kRx; ++k) {
    riov[k] = {rx[k], sizeof rx[k]};
    std::memset(&rmsg[k], 0, sizeof rmsg[k]);
    rmsg[k].msg_hdr.msg_iov = &riov[k];
    rmsg[k].msg_hdr.msg_iovlen = 1;
  }
  // Flow control: at most --window heartbeats unanswered. The kernel may
  // drop datagrams (full socket buffers); after 20 ms without an ACK the
  // unanswered ones are written off so the window reopens.
  auto last_progress = Clock::now();
  int64_t written_off = 0;
  auto drain = [&](Counts& c) {
    const int got = recvmmsg(fd, rmsg, kRx, MSG_DONTWAIT, nullptr);
    if (got <= 0) {
      if (since(last_progress) > 0.02) {
        written_off = static_cast<int64_t>(c.sent - c.replies);
        last_progress = Clock::now();
      }
      return;
    }
    for (int k = 0; k < got; ++k) fleet.count_reply(rx[k], rmsg[k].msg_len, c);
    last_progress = Clock::now();
  };
  auto step = [&](bool sequential, Counts& c) {
    const int64_t outstanding =
        static_cast<int64_t>(c.sent) - static_cast<int64_t>(c.replies) - written_off;
    if (outstanding < static_cast<int64_t>(o.window)) {
      uint64_t ids[kBurst];
      picker.next_burst(sequential, fleet, ids, kBurst);
      fleet.heartbeats(ids, kBurst, payloads);
      const int n = sendmmsg(fd, tmsg, kBurst, 0);
      if (n > 0) c.sent += static_cast<uint64_t>(n);
    }
    drain(c);
  };
  Result r;
  const bool ok = run_phases(o, o.sessions, fleet, picker, step, drain, r);
  close(fd);
  if (!ok) return 1;
  print(o, "kernel-udp", r);
  return r.run.acks == 0 || r.warm.bad + r.run.bad != 0 ? 1 : 0;
}

}  // namespace
}  // namespace presenced::bench

int main(int argc, char** argv) {
  using namespace presenced::bench;
  presenced::auth::ensure_sodium_initialized();
  const Options o = parse(argc, argv);
  if (o.mode == "ring") return run_ring(o);
  if (o.mode == "memif") return run_memif(o);
  if (o.mode == "io") return run_io(o);
  if (o.mode == "cost") return run_cost(o);
  return run_udp(o);
}
