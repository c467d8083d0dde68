// siphash_benchmark.cc: batched SipHash-2-4 (siphash_batch.h) against
// libsodium, at the heartbeat hot path's shapes: 128-bit session-key
// derivation over 20 bytes, 64-bit MACs over 32 bytes, 32 messages a batch.
//
// Counters: hashes/s (rate) and ns/hash (the inverted rate, printed in
// seconds with an SI prefix, e.g. "7.5n" = 7.5 ns). Run a release build:
//   build/bench/siphash_benchmark --benchmark_repetitions=5
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>
#include <sodium.h>

#include "dataplane/auth/siphash_batch.h"

namespace presenced::auth {
namespace {

constexpr std::size_t kBatch = 32;

// kBatch random messages of `len` bytes at unrelated (distinct) addresses,
// plus random per-message session keys and a master key.
struct Inputs {
  explicit Inputs(std::size_t len) : storage(kBatch * (len + 8)) {
    std::mt19937_64 rng(len);
    for (auto& b : storage) b = static_cast<uint8_t>(rng());
    for (std::size_t i = 0; i < kBatch; ++i) ptrs[i] = storage.data() + i * (len + 8) + i % 8;
    for (auto& k : keys) {
      for (auto& b : k.bytes) b = static_cast<uint8_t>(rng());
    }
    for (auto& b : master.bytes) b = static_cast<uint8_t>(rng());
  }
  std::vector<uint8_t> storage;
  std::array<const uint8_t*, kBatch> ptrs{};
  std::array<SessionKey, kBatch> keys{};
  MasterKey master;
};

void set_counters(benchmark::State& state) {
  const double hashes = static_cast<double>(state.iterations() * kBatch);
  state.counters["hashes/s"] = benchmark::Counter(hashes, benchmark::Counter::kIsRate);
  state.counters["ns/hash"] =
      benchmark::Counter(hashes, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

bool skip_if_unavailable(benchmark::State& state, SipHashPath path) {
  if (siphash_path_available(path)) return false;
  state.SkipWithError("path not available on this CPU");
  return true;
}

// --- 128-bit derivation, len 20 -------------------------------------------

void BM_Derive128_Len20_Libsodium(benchmark::State& state) {
  ensure_sodium_initialized();
  Inputs in(20);
  std::array<SessionKey, kBatch> out{};
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      crypto_shorthash_siphashx24(out[i].bytes.data(), in.ptrs[i], 20, in.master.bytes.data());
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

void BM_Derive128_Len20(benchmark::State& state, SipHashPath path) {
  if (skip_if_unavailable(state, path)) return;
  Inputs in(20);
  std::array<SessionKey, kBatch> out{};
  for (auto _ : state) {
    siphash128_batch(in.master, in.ptrs.data(), 20, kBatch, out.data(), path);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

// --- 64-bit MAC, len 32 -----------------------------------------------------

void BM_Mac64_Len32_Libsodium(benchmark::State& state) {
  ensure_sodium_initialized();
  Inputs in(32);
  std::array<uint64_t, kBatch> out{};
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      uint8_t mac[crypto_shorthash_siphash24_BYTES];
      crypto_shorthash_siphash24(mac, in.ptrs[i], 32, in.keys[i].bytes.data());
      std::memcpy(&out[i], mac, sizeof mac);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

void BM_Mac64_Len32(benchmark::State& state, SipHashPath path) {
  if (skip_if_unavailable(state, path)) return;
  Inputs in(32);
  std::array<uint64_t, kBatch> out{};
  for (auto _ : state) {
    siphash64_batch(in.keys.data(), in.ptrs.data(), 32, kBatch, out.data(), path);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

BENCHMARK(BM_Derive128_Len20_Libsodium);
BENCHMARK_CAPTURE(BM_Derive128_Len20, scalar, SipHashPath::kScalar);
BENCHMARK_CAPTURE(BM_Derive128_Len20, avx2, SipHashPath::kAvx2);
BENCHMARK(BM_Mac64_Len32_Libsodium);
BENCHMARK_CAPTURE(BM_Mac64_Len32, scalar, SipHashPath::kScalar);
BENCHMARK_CAPTURE(BM_Mac64_Len32, avx2, SipHashPath::kAvx2);

}  // namespace
}  // namespace presenced::auth

BENCHMARK_MAIN();
