// sim_world.h: the deterministic simulation driver.
//
// Owns one simulated world: the REAL server (a PresenceTable, EngineShared
// and one real Engine per simulated data core, as in engine_harness.h), many
// REAL client::Session state machines with the default Policy, the login
// service that issues their tokens, the network between them (sim_network.h),
// the clocks, the event queue (sim_event_queue.h) and the ground truth
// (sim_truth.h). Nothing of the protocol is re-implemented here: packets are
// the bytes Session and Engine produce, and the only things simulated are
// time, the wire, the kernel's sockets and the apps around the sessions.
//
// Clocks. Simulated time t is in milliseconds and only moves forward. The
// server's monotonic clock is t + 1 s + a jump offset (jump_server_mono),
// the wall clock is 2027-01-15 + t + a jump offset (jump_wall; clients, the
// login service and the server all read it), the clients' monotonic clocks
// are t + 1 s and never jump.
//
// One simulated millisecond (step):
//   1. scenario actions filed with at() for this ms run;
//   2. the events of this ms run in filing order: client wake-ups
//      (Session::on_wake), datagrams reaching the server host (into the
//      socket buffer of the core SO_REUSEPORT picks, dropped when full),
//      datagrams reaching a client address (Session::on_packet if the NAT
//      still maps that port to the client), login replies (Session::renew);
//   3. every core that is not stalled drains its socket buffer in bursts of
//      `burst` datagrams, up to rx_per_ms, each burst one Engine::process()
//      call, or calls Engine::tick() when it got nothing (cores idle on a
//      quiet millisecond run at least every tick_ms); replies enter the
//      network, events go to the checker;
//   4. the after_cores hook runs.
// A client's sends enter the network at once, arriving >= 1 ms later.
//
// Randomness: every draw comes from the world's seed (sim_random.h).
// Concurrency: none; one thread drives everything.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "client/policy.h"
#include "client/session.h"
#include "dataplane/engine/engine.h"
#include "dataplane/table/presence_table.h"
#include "tests/sim/sim_event_queue.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_random.h"
#include "tests/sim/sim_truth.h"

namespace presenced::sim {

inline constexpr int64_t kWallStartMs = 1'800'000'000'000;  // 2027-01-15
inline constexpr uint64_t kMonoOriginMs = 1000;             // t = 0 on the monotonic clocks

struct WorldOptions {
  uint64_t seed = 1;
  uint32_t clients = 1000;
  uint32_t cores = 2;
  uint32_t shards = 8;
  uint64_t table_sessions = 0;        // 0: clients + 25% + 1024
  engine::EngineConfig config;        // the server defaults
  client::Policy policy;              // the client defaults
  LinkModel up;                       // client -> server
  LinkModel down;                     // server -> client
  uint32_t socket_buffer = 1u << 20;  // datagrams per core socket
  uint32_t burst = 32;                // datagrams per process() call (the core loop's)
  uint32_t rx_per_ms = 4096;          // datagrams a core handles per simulated ms
  bool autostart = true;              // start every client in [start_at, +spread)
  uint32_t start_at_ms = 0;
  uint32_t start_spread_ms = 30'000;
  uint32_t token_lifetime_s = 86'400;
  uint32_t login_latency_ms = 50;  // + uniform[0, jitter]
  uint32_t login_jitter_ms = 200;
  uint64_t first_user = 1'000'000;  // client i is user first_user + i, device 1
};

struct ClientCounters {
  std::array<uint64_t, 10> actions{};  // by client::Action
  std::array<uint64_t, client::kPacketResultCount> results{};
  uint64_t sends = 0;
  uint64_t renewals = 0;       // tokens renewed through the login service
  uint64_t epoch_changes = 0;  // ACKs that showed a new server epoch
  uint64_t overload_reconnects = 0;

  uint64_t action(client::Action a) const { return actions[static_cast<std::size_t>(a)]; }
  uint64_t result(client::PacketResult r) const { return results[static_cast<std::size_t>(r)]; }
};

struct NetCounters {
  uint64_t to_stopped = 0;   // datagrams for a client that was stopped
  uint64_t nat_dropped = 0;  // datagrams for a port the client's NAT no longer maps
  uint64_t socket_dropped = 0;
  uint64_t delivered_up = 0;
  uint64_t delivered_down = 0;
  uint64_t core_calls = 0;
};

struct WorldHooks {
  // After each process() call on a socket burst (the datagrams are valid
  // until the hook returns).
  std::function<void(uint32_t core, std::span<const engine::RxDatagram>)> after_process;
  // After a client sent a datagram (from `src`).
  std::function<void(uint32_t client, const client::Output&, const NetAddr& src)> on_send;
  // After a client handled a server datagram.
  std::function<void(uint32_t client, client::PacketResult, const client::PacketInfo&)>
      on_client_packet;
  // Every event, after the checker saw it.
  std::function<void(const engine::PresenceEvent&, uint64_t t)> on_event;
  // End of every simulated millisecond.
  std::function<void(uint64_t t)> after_cores;
};

class World {
 public:
  explicit World(const WorldOptions& options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // ---- time ----
  uint64_t now_ms() const { return queue_.now_ms(); }
  void run_until(uint64_t t_ms);
  void run_for(uint64_t ms) { run_until(now_ms() + ms); }
  // Runs `action` at the start of simulated ms t (>= now).
  void at(uint64_t t_ms, std::function<void()> action);

  engine::Clock engine_clock() const;
  client::Now client_now() const;
  int64_t wall_ms() const {
    return kWallStartMs + static_cast<int64_t>(now_ms()) + wall_offset_ms_;
  }
  // The wall clock of the whole world (clients, login service, server) steps.
  void jump_wall(int64_t delta_ms) { wall_offset_ms_ += delta_ms; }
  // The server's monotonic clock steps forward (clients' clocks do not).
  void jump_server_mono(uint64_t delta_ms) { mono_offset_ms_ += delta_ms; }
  uint64_t engine_ms() const { return now_ms() + kMonoOriginMs + mono_offset_ms_; }

  // ---- clients ----
  uint32_t clients() const { return static_cast<uint32_t>(clients_.size()); }
  uint64_t user_of(uint32_t i) const { return options_.first_user + i; }
  // Starts (or restarts, as a new app instance with a fresh token) client i.
  void start_client(uint32_t i);
  // Stops client i silently (the app dies: no BYE, nothing more is sent).
  void stop_client(uint32_t i);
  // NAT rebinding: client i's packets leave from a new port from now on;
  // the old mapping is gone (datagrams to it are dropped).
  void rebind(uint32_t i);
  // The app changes client i's status (Session::set_status).
  void set_status(uint32_t i, wire::Status status);
  NetAddr address_of(uint32_t i) const { return client_address(i, clients_[i].port); }
  bool alive(uint32_t i) const { return clients_[i].alive; }
  const client::Session& session(uint32_t i) const { return clients_[i].session; }
  // The session key client i uses now (for building forgeries that differ
  // only in the MAC, or for tests).
  auth::SessionKey key_of(uint32_t i) const;

  // ---- server ----
  uint32_t cores() const { return options_.cores; }
  engine::Engine& engine(uint32_t core) { return *engines_[core]; }
  engine::EngineShared& shared() { return *shared_; }
  table::PresenceTable& table() { return *table_; }
  const engine::EngineConfig& config() const { return options_.config; }
  // Core `core` is not called for the next `duration_ms` (its socket
  // buffer keeps filling).
  void stall_core(uint32_t core, uint64_t duration_ms);
  bool stalled(uint32_t core) const { return now_ms() < stalled_until_[core]; }
  // A new server process: fresh table and engines with `epoch`; sockets
  // are emptied (the datagrams queued in the old process are lost).
  void restart_server(uint32_t epoch);
  // This server's counters summed over cores (and over earlier processes
  // for total_server_stats).
  engine::CoreStatsSnapshot server_stats() const;
  engine::CoreStatsSnapshot total_server_stats() const;
  wheel::TimingWheel::Stats wheel_stats(uint32_t core) const {
    return engines_[core]->wheel_stats();
  }
  uint32_t core_of(const NetAddr& src) const { return reuseport_core(src, options_.cores, salt_); }
  // One extra call of core `core` in this millisecond: process(burst), or
  // tick() when the burst is empty. Replies and events are dispatched as
  // usual and also copied to the optional outputs.
  void call_core(uint32_t core, std::span<const engine::RxDatagram> burst,
                 std::vector<engine::TxDatagram>* replies_out = nullptr,
                 std::vector<engine::PresenceEvent>* events_out = nullptr);
  // Every session in the table, in slot order (PresenceTable::read).
  std::vector<table::SessionView> table_snapshot() const;

  // ---- observation ----
  Truth& truth() { return truth_; }
  const Truth& truth() const { return truth_; }
  WorldHooks& hooks() { return hooks_; }
  const ClientCounters& client_counters() const { return cc_; }
  const NetCounters& net_counters() const { return nc_; }
  const Link& up_link() const { return up_; }
  const Link& down_link() const { return down_; }
  Link& up_link() { return up_; }
  Link& down_link() { return down_; }
  const SocketBuffer& socket(uint32_t core) const { return sockets_[core]; }
  Random& world_random() { return world_rnd_; }
  uint64_t events_run() const { return events_run_; }
  // "up=.. down=.. lost=.. resend=.. dead=.. events=.."
  std::string traffic_summary() const;

 private:
  struct SimClient {
    client::Session session;
    uint64_t wake_at = kNeverMs;  // the wake event filed (simulated ms)
    uint16_t port = 0;
    bool alive = false;
  };

  void build_server(uint32_t epoch);
  void step();
  void handle(const SimEvent& e);
  void deliver_to_client(uint32_t packet);
  void client_output(uint32_t i, const client::Output& out);
  void refile_wake(uint32_t i);
  void login(uint32_t i);
  void run_core(uint32_t core);
  void engine_call(uint32_t core, std::span<const engine::RxDatagram> burst,
                   std::vector<engine::TxDatagram>* replies_out,
                   std::vector<engine::PresenceEvent>* events_out);
  client::SessionCredentials credentials(uint32_t i, uint32_t expiry) const;

  WorldOptions options_;
  uint64_t salt_;
  Random world_rnd_;
  Random client_rnd_;
  Link up_;
  Link down_;
  client::Env env_;
  EventQueue queue_;
  PacketPool pool_;
  std::vector<SimClient> clients_;
  std::vector<SocketBuffer> sockets_;
  std::vector<uint64_t> stalled_until_;
  std::multimap<uint64_t, std::function<void()>> actions_;
  Truth truth_;
  WorldHooks hooks_;
  ClientCounters cc_;
  NetCounters nc_;
  int64_t wall_offset_ms_ = 0;
  uint64_t mono_offset_ms_ = 0;
  uint64_t events_run_ = 0;
  bool traffic_this_ms_ = false;

  // The server.
  std::unique_ptr<table::PresenceTable> table_;
  std::unique_ptr<engine::EngineShared> shared_;
  std::vector<std::unique_ptr<engine::Engine>> engines_;
  engine::CoreStatsSnapshot past_stats_;
  std::vector<engine::TxDatagram> reply_buf_;
  std::vector<engine::PresenceEvent> event_buf_;
  std::vector<engine::RxDatagram> rx_buf_;
  std::vector<std::array<uint8_t, wire::kMaxPacketSize>> rx_bytes_;
};

// Field-by-field equality of two table reads, including the slot's state
// word (and so its seqlock counter: a slot nobody wrote reads the same).
inline bool same_view(const table::SessionView& a, const table::SessionView& b) {
  return a.slot == b.slot && a.user == b.user && a.device == b.device && a.seq == b.seq &&
         a.token_expiry == b.token_expiry && a.last_seen_ms == b.last_seen_ms &&
         a.interval_s == b.interval_s && a.addr == b.addr && a.state.word == b.state.word;
}

// Allocation probe: while an engine call runs, g_engine_call is true, and a
// test binary that links sim_alloc_probe.cc counts every operator new made
// meanwhile in g_engine_allocations (the engine allocates nothing after
// construction; the storm scenario holds it to that).
extern bool g_engine_call;
extern uint64_t g_engine_allocations;

// CPU seconds this process has used (user + system).
double cpu_seconds();
// Resident set size of this process, bytes.
uint64_t rss_bytes();

}  // namespace presenced::sim
