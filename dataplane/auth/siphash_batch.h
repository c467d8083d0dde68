// siphash_batch.h: many independent SipHash-2-4 computations at once.
//
// Owns: the batched SipHash-2-4 used on the heartbeat hot path (session-key
// derivation under the master key, MAC verification and ACK/RECONNECT signing
// under session keys) and the choice of the implementation that runs it:
//   kLibsodium  one libsodium call per message (the reference, session_key.h)
//   kScalar     portable SipHash-2-4 of our own, any CPU
//   kAvx2       4 messages per __m256i, two vectors interleaved (x86-64 only,
//               chosen at run time with __builtin_cpu_supports("avx2"))
// Every path produces exactly libsodium's bytes; the differential tests in
// tests/dataplane/auth/siphash_batch_test.cc hold them to it.
//
// Concurrency: pure functions of their arguments, thread-safe. They do not
// allocate, throw or lock. best_siphash_path() detects the CPU once (a
// function-local static) and then only reads the cached answer.
//
// Memory: exactly `len` bytes are read from each message, never more, so a
// message may end at the last byte of a mapping. `out` is written for
// indices [0, n) only. msgs/keys/out may be null when n == 0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/auth/session_key.h"

namespace presenced::auth {

enum class SipHashPath : uint8_t { kLibsodium, kScalar, kAvx2 };

// Fastest path this CPU can run: kAvx2 if it has AVX2, else kScalar.
// Detected on the first call, cached afterwards.
SipHashPath best_siphash_path();

// Whether `p` can run on this CPU (kLibsodium and kScalar always can).
bool siphash_path_available(SipHashPath p);

// "libsodium", "scalar", "avx2".
const char* siphash_path_name(SipHashPath p);

// out[i] = SipHash-2-4-64(keys[i], msgs[i][0 .. len)), as the little-endian
// integer of libsodium's 8 output bytes (identical to auth::compute_mac).
// Any n >= 0 and len >= 0. Requesting kAvx2 on a CPU without AVX2 runs the
// scalar path instead (same result, never an illegal instruction).
void siphash64_batch(const SessionKey* keys, const uint8_t* const* msgs, std::size_t len,
                     std::size_t n, uint64_t* out, SipHashPath path = best_siphash_path());

// out[i] = SipHash-2-4-128(key, msgs[i][0 .. len)), the same 16 bytes as
// libsodium's crypto_shorthash_siphashx24 (so a derived SessionKey).
void siphash128_batch(const MasterKey& key, const uint8_t* const* msgs, std::size_t len,
                      std::size_t n, SessionKey* out, SipHashPath path = best_siphash_path());

namespace detail {
// The AVX2 kernels (siphash_avx2.cc). Defined only on x86; callers must have
// checked siphash_path_available(SipHashPath::kAvx2). Same contract as above.
#if defined(__x86_64__) || defined(__i386__)
void siphash64_batch_avx2(const SessionKey* keys, const uint8_t* const* msgs, std::size_t len,
                          std::size_t n, uint64_t* out);
void siphash128_batch_avx2(const MasterKey& key, const uint8_t* const* msgs, std::size_t len,
                           std::size_t n, SessionKey* out);
#endif
}  // namespace detail

}  // namespace presenced::auth
