// engine_benchmark.cc: the whole per-core pipeline (Engine::process) on
// bursts of 32 valid heartbeats for existing sessions, at 1 M and 10 M
// sessions, plus parse+verify per packet with libsodium versus the batched
// SipHash. Every heartbeat is authenticated and answered with a signed ACK,
// as in production. Run a release build:
//   build/bench/engine_benchmark --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include <benchmark/benchmark.h>

#include "dataplane/auth/siphash_batch.h"
#include "dataplane/engine/engine.h"
#include "dataplane/wire/codec.h"

namespace presenced::engine {
namespace {

constexpr std::size_t kBurst = 32;
constexpr uint32_t kExpiry = 2'000'000'000;

auth::MasterKey master() {
  auth::MasterKey k;
  for (uint8_t i = 0; i < 16; ++i) k.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  return k;
}

// `rounds` signed heartbeats per session (seq 1..rounds), each round in a
// random session order, laid out round after round.
std::vector<uint8_t> make_packets(uint64_t sessions, uint32_t rounds) {
  std::vector<uint8_t> out(sessions * rounds * wire::kHeartbeatSize);
  std::vector<uint32_t> order(sessions);
  for (uint32_t i = 0; i < sessions; ++i) order[i] = i;
  std::mt19937_64 rng(7);
  const auth::MasterKey mk = master();
  std::vector<const uint8_t*> inputs(kBurst);
  uint8_t key_in[kBurst][wire::kKeyInputSize];
  auth::SessionKey keys[kBurst];
  uint64_t macs[kBurst];
  for (uint32_t r = 0; r < rounds; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    for (uint64_t base = 0; base < sessions; base += kBurst) {
      const std::size_t n = std::min<uint64_t>(kBurst, sessions - base);
      const uint8_t* msgs[kBurst];
      for (std::size_t k = 0; k < n; ++k) {
        const uint64_t user = order[base + k] + 1;
        auth::build_key_input(user, 1, kExpiry, key_in[k]);
        inputs[k] = key_in[k];
      }
      auth::siphash128_batch(mk, inputs.data(), wire::kKeyInputSize, n, keys);
      for (std::size_t k = 0; k < n; ++k) {
        uint8_t* p = out.data() + ((r * sessions) + base + k) * wire::kHeartbeatSize;
        wire::ClientPacket c;
        c.h = {wire::PacketType::kHeartbeat, order[base + k] + 1ULL, 1, r + 1, kExpiry};
        c.interval_s = 30;
        wire::build_client_packet(c, std::span<uint8_t, wire::kHeartbeatSize>(p, 40));
        msgs[k] = p;
      }
      auth::siphash64_batch(keys, msgs, 32, n, macs);
      for (std::size_t k = 0; k < n; ++k) {
        wire::write_mac(const_cast<uint8_t*>(msgs[k]), wire::kHeartbeatSize, macs[k]);
      }
    }
  }
  return out;
}

struct Server {
  std::unique_ptr<table::PresenceTable> table;
  std::unique_ptr<EngineShared> shared;
  std::unique_ptr<Engine> engine;
  std::vector<uint8_t> packets;  // rounds after the first
  uint64_t sessions = 0;
  std::vector<TxDatagram> reply_buf = std::vector<TxDatagram>(4 * kBurst);
  std::vector<PresenceEvent> event_buf = std::vector<PresenceEvent>(1 << 16);
  Clock now{1'000'000'000, 1'800'000'000'000};

  void run(const uint8_t* data, std::size_t n) {
    RxDatagram rx[kBurst];
    for (std::size_t k = 0; k < n; ++k) {
      rx[k].data = data + k * wire::kHeartbeatSize;
      rx[k].len = wire::kHeartbeatSize;
      rx[k].src = NetAddr::v4_bytes(10, 1, static_cast<uint8_t>(k), 1, 5000);
    }
    ReplyBatch replies{reply_buf.data(), static_cast<uint32_t>(reply_buf.size()), 0};
    EventBatch events{event_buf.data(), static_cast<uint32_t>(event_buf.size()), 0};
    engine->process({rx, n}, now, replies, events);
  }
};

// Builds a server, brings every session online with round 1 (not timed).
std::unique_ptr<Server> make_server(uint64_t sessions, uint32_t rounds, EngineConfig cfg) {
  auto s = std::make_unique<Server>();
  s->sessions = sessions;
  table::PresenceTable::Options t;
  t.max_sessions = sessions;
  std::string err;
  s->table = table::PresenceTable::create(t, &err);
  if (!s->table) throw std::runtime_error(err);
  EngineShared::Options so;
  so.master_key = master();
  s->shared = std::make_unique<EngineShared>(*s->table, so);
  s->engine = std::make_unique<Engine>(*s->shared, 0, cfg);
  std::vector<uint8_t> all = make_packets(sessions, rounds + 1);
  for (uint64_t off = 0; off < sessions; off += kBurst) {
    s->run(all.data() + off * wire::kHeartbeatSize, std::min<uint64_t>(kBurst, sessions - off));
  }
  if (s->shared->sessions_online() != sessions) throw std::runtime_error("setup failed");
  s->packets.assign(all.begin() + static_cast<std::ptrdiff_t>(sessions * wire::kHeartbeatSize),
                    all.end());
  return s;
}

Server& server(uint64_t sessions, uint32_t rounds) {
  static std::unique_ptr<Server> cached;
  if (cached && cached->sessions == sessions) return *cached;
  cached.reset();
  EngineConfig cfg;
  cfg.heartbeat_budget = 0;
  cfg.admission_rate = 0;  // setup brings every session online at one instant
  cached = make_server(sessions, rounds, cfg);
  return *cached;
}

void BM_EngineBurst32(benchmark::State& state) {
  const uint64_t sessions = static_cast<uint64_t>(state.range(0));
  const uint32_t rounds = static_cast<uint32_t>(state.range(1));
  Server& s = server(sessions, rounds);
  const uint64_t total = s.packets.size() / wire::kHeartbeatSize;
  uint64_t pos = 0;
  const uint64_t acks_before = s.shared->stats(0).acks_sent.get();
  for (auto _ : state) {
    if (pos + kBurst > total) {
      state.SkipWithError("ran out of pre-signed packets: lower the iteration count");
      break;
    }
    s.run(s.packets.data() + pos * wire::kHeartbeatSize, kBurst);
    pos += kBurst;
  }
  const uint64_t acks = s.shared->stats(0).acks_sent.get() - acks_before;
  if (acks != pos) state.SkipWithError("not every heartbeat was acknowledged");
  // Consumed packets cannot be replayed; drop the server for the next run.
  s.packets.erase(s.packets.begin(),
                  s.packets.begin() + static_cast<std::ptrdiff_t>(pos * wire::kHeartbeatSize));
  state.counters["packets/s"] =
      benchmark::Counter(static_cast<double>(pos), benchmark::Counter::kIsRate);
  state.counters["ns/packet"] = benchmark::Counter(
      static_cast<double>(pos), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Parse + derive + verify of 32 packets: libsodium one call at a time versus
// the batched path the engine uses.
void BM_ParseVerify(benchmark::State& state) {
  const bool batched = state.range(0) != 0;
  const std::vector<uint8_t> pkts = make_packets(kBurst, 1);
  const auth::MasterKey mk = master();
  uint64_t ok = 0;
  for (auto _ : state) {
    wire::ClientPacket p[kBurst];
    if (!batched) {
      for (std::size_t k = 0; k < kBurst; ++k) {
        const uint8_t* d = pkts.data() + k * 40;
        if (wire::parse_client_packet({d, 40}, p[k]) != wire::DropReason::kNone) continue;
        const auth::SessionKey key =
            auth::derive_session_key(mk, p[k].h.user_id, p[k].h.device_id, p[k].h.token_expiry);
        ok += auth::verify_packet(key, d, 40);
      }
    } else {
      uint8_t in[kBurst][wire::kKeyInputSize];
      const uint8_t* msgs[kBurst];
      auth::SessionKey keys[kBurst];
      uint64_t macs[kBurst];
      for (std::size_t k = 0; k < kBurst; ++k) {
        const uint8_t* d = pkts.data() + k * 40;
        wire::parse_client_packet({d, 40}, p[k]);
        auth::build_key_input(p[k].h.user_id, p[k].h.device_id, p[k].h.token_expiry, in[k]);
        msgs[k] = in[k];
      }
      auth::siphash128_batch(mk, msgs, wire::kKeyInputSize, kBurst, keys);
      for (std::size_t k = 0; k < kBurst; ++k) msgs[k] = pkts.data() + k * 40;
      auth::siphash64_batch(keys, msgs, 32, kBurst, macs);
      for (std::size_t k = 0; k < kBurst; ++k) ok += auth::tags_equal(macs[k], p[k].mac);
    }
  }
  if (ok != state.iterations() * kBurst) state.SkipWithError("a packet failed to verify");
  state.counters["packets/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBurst),
                                                   benchmark::Counter::kIsRate);
  state.SetLabel(batched ? auth::siphash_path_name(auth::best_siphash_path()) : "libsodium");
}

// Half of every burst is a flood from one source (203.0.113.7): heartbeats
// of real users with a wrong MAC. Valid heartbeats/s with the per-source
// limiter on (the default budget: the source is dropped before MAC work
// once over it) versus off (every forged packet costs a key derivation and
// a MAC). Compare with BM_EngineBurst32/10000 (no flood) in the same run.
void BM_EngineFloodHalf(benchmark::State& state) {
  constexpr uint64_t kSessions = 10'000;
  constexpr std::size_t kValid = kBurst / 2;
  const bool limiter = state.range(0) != 0;
  EngineConfig cfg;
  cfg.heartbeat_budget = 0;
  cfg.admission_rate = 0;  // setup brings every session online at one instant
  cfg.source_invalid_budget = limiter ? EngineConfig{}.source_invalid_budget : 0;
  const uint32_t rounds = 170;
  std::unique_ptr<Server> s = make_server(kSessions, rounds, cfg);
  // Forged copies of round-1 packets (any user, a flipped MAC bit).
  std::vector<uint8_t> forged(s->packets.begin(),
                              s->packets.begin() + 1024 * wire::kHeartbeatSize);
  for (std::size_t k = 0; k < 1024; ++k) forged[k * wire::kHeartbeatSize + 39] ^= 0x5a;
  const uint64_t total = s->packets.size() / wire::kHeartbeatSize;
  uint64_t pos = 0;
  uint64_t forged_pos = 0;
  const uint64_t acks_before = s->shared->stats(0).acks_sent.get();
  RxDatagram rx[kBurst];
  for (auto _ : state) {
    if (pos + kValid > total) {
      state.SkipWithError("ran out of pre-signed packets: lower the iteration count");
      break;
    }
    for (std::size_t k = 0; k < kBurst; ++k) {
      if (k % 2 == 0) {
        rx[k].data = s->packets.data() + (pos++) * wire::kHeartbeatSize;
        rx[k].src = NetAddr::v4_bytes(10, 1, static_cast<uint8_t>(k), 1, 5000);
      } else {
        rx[k].data = forged.data() + (forged_pos++ % 1024) * wire::kHeartbeatSize;
        rx[k].src = NetAddr::v4_bytes(203, 0, 113, 7, 6000);
      }
      rx[k].len = wire::kHeartbeatSize;
    }
    ReplyBatch replies{s->reply_buf.data(), static_cast<uint32_t>(s->reply_buf.size()), 0};
    EventBatch events{s->event_buf.data(), static_cast<uint32_t>(s->event_buf.size()), 0};
    s->engine->process({rx, kBurst}, s->now, replies, events);
  }
  const uint64_t acks = s->shared->stats(0).acks_sent.get() - acks_before;
  if (acks != pos) state.SkipWithError("a valid heartbeat went unanswered during the flood");
  state.counters["valid/s"] =
      benchmark::Counter(static_cast<double>(pos), benchmark::Counter::kIsRate);
  state.counters["packets/s"] =
      benchmark::Counter(static_cast<double>(2 * pos), benchmark::Counter::kIsRate);
  state.SetLabel(limiter ? "limiter on" : "limiter off");
}

BENCHMARK(BM_ParseVerify)->Arg(0)->Arg(1);
BENCHMARK(BM_EngineFloodHalf)->Arg(1)->Arg(0)->Iterations(100'000)->Repetitions(1);
// {sessions, pre-signed rounds}; the iteration count stays below what the
// rounds provide (sessions x rounds / 32 bursts).
// 10 k sessions: the table stays in cache, showing the compute-bound cost.
BENCHMARK(BM_EngineBurst32)->Args({10'000, 320})->Iterations(100'000)->Repetitions(1);
BENCHMARK(BM_EngineBurst32)->Args({1'000'000, 4})->Iterations(100'000)->Repetitions(1);
BENCHMARK(BM_EngineBurst32)->Args({10'000'000, 1})->Iterations(300'000)->Repetitions(1);

}  // namespace
}  // namespace presenced::engine

BENCHMARK_MAIN();
