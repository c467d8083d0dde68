// siphash_batch.cc: path selection, the libsodium loop and the portable
// scalar SipHash-2-4 (64- and 128-bit output). The AVX2 kernels live in
// siphash_avx2.cc. See siphash_batch.h for the contract.
#include "dataplane/auth/siphash_batch.h"

#include <bit>

#include <sodium.h>

#include "dataplane/common/byte_order.h"
#include "dataplane/common/compiler.h"

namespace presenced::auth {
namespace {

// ---------------------------------------------------------------------------
// Path detection.

bool detect_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's check also requires the OS to save YMM state (XGETBV), so a
  // "yes" here means AVX2 instructions really can run.
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

bool avx2_available() {
  static const bool has = detect_avx2();
  return has;
}

// ---------------------------------------------------------------------------
// Scalar SipHash-2-4 (Aumasson & Bernstein), written for clarity; the compiler
// keeps the four state words in registers and unrolls for constant lengths.

struct SipState {
  uint64_t v0, v1, v2, v3;
};

PRESENCED_ALWAYS_INLINE void sip_round(SipState& s) {
  s.v0 += s.v1;
  s.v1 = std::rotl(s.v1, 13);
  s.v1 ^= s.v0;
  s.v0 = std::rotl(s.v0, 32);
  s.v2 += s.v3;
  s.v3 = std::rotl(s.v3, 16);
  s.v3 ^= s.v2;
  s.v0 += s.v3;
  s.v3 = std::rotl(s.v3, 21);
  s.v3 ^= s.v0;
  s.v2 += s.v1;
  s.v1 = std::rotl(s.v1, 17);
  s.v1 ^= s.v2;
  s.v2 = std::rotl(s.v2, 32);
}

// "somepseudorandomlygeneratedbytes"; the 128-bit variant also flips 0xee
// into v1 at the start.
PRESENCED_ALWAYS_INLINE SipState sip_init(const uint8_t* key, bool wide) {
  const uint64_t k0 = load_le64(key);
  const uint64_t k1 = load_le64(key + 8);
  SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
             k1 ^ 0x7465646279746573ULL};
  if (wide) s.v1 ^= 0xee;
  return s;
}

// The final block: the len % 8 trailing bytes little-endian, len in the top
// byte. Reads only bytes inside [p, p + len).
PRESENCED_ALWAYS_INLINE uint64_t sip_last_block(const uint8_t* p, std::size_t len) {
  const std::size_t rem = len & 7;
  uint64_t tail = 0;
  if (rem != 0 && len >= 8) {
    // The 8 bytes ending at p + len hold the tail in their top `rem` bytes.
    tail = load_le64(p + len - 8) >> (64 - 8 * rem);
  } else {
    for (std::size_t i = 0; i < rem; ++i) tail |= uint64_t{p[len - rem + i]} << (8 * i);
  }
  return tail | uint64_t{len} << 56;
}

PRESENCED_ALWAYS_INLINE void sip_compress(SipState& s, uint64_t m) {
  s.v3 ^= m;
  sip_round(s);
  sip_round(s);
  s.v0 ^= m;
}

// Absorbs the whole message, including the final length block.
PRESENCED_ALWAYS_INLINE void sip_absorb(SipState& s, const uint8_t* p, std::size_t len) {
  const std::size_t blocks = len / 8;
  for (std::size_t j = 0; j < blocks; ++j) sip_compress(s, load_le64(p + 8 * j));
  sip_compress(s, sip_last_block(p, len));
}

PRESENCED_ALWAYS_INLINE uint64_t sip_finalize(SipState& s, uint64_t flag) {
  s.v2 ^= flag;
  for (int r = 0; r < 4; ++r) sip_round(s);
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

PRESENCED_ALWAYS_INLINE uint64_t sip64(const SessionKey& key, const uint8_t* p, std::size_t len) {
  SipState s = sip_init(key.bytes.data(), false);
  sip_absorb(s, p, len);
  return sip_finalize(s, 0xff);
}

// 128-bit output: the first half finalizes with v2 ^= 0xee, the second half
// continues from that state with v1 ^= 0xdd and four more rounds.
PRESENCED_ALWAYS_INLINE void sip128(const MasterKey& key, const uint8_t* p, std::size_t len,
                                    SessionKey& out) {
  SipState s = sip_init(key.bytes.data(), true);
  sip_absorb(s, p, len);
  store_le64(out.bytes.data(), sip_finalize(s, 0xee));
  s.v1 ^= 0xdd;
  for (int r = 0; r < 4; ++r) sip_round(s);
  store_le64(out.bytes.data() + 8, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
}

PRESENCED_ALWAYS_INLINE void scalar64_loop(const SessionKey* keys, const uint8_t* const* msgs,
                                           std::size_t len, std::size_t n, uint64_t* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = sip64(keys[i], msgs[i], len);
}

PRESENCED_ALWAYS_INLINE void scalar128_loop(const MasterKey& key, const uint8_t* const* msgs,
                                            std::size_t len, std::size_t n, SessionKey* out) {
  for (std::size_t i = 0; i < n; ++i) sip128(key, msgs[i], len, out[i]);
}

// The hot lengths get a copy compiled for their constant length (blocks and
// tail unrolled); every other length takes the generic loop.
void scalar64_batch(const SessionKey* keys, const uint8_t* const* msgs, std::size_t len,
                    std::size_t n, uint64_t* out) {
  switch (len) {
    case 32:
      return scalar64_loop(keys, msgs, 32, n, out);  // HEARTBEAT/ACK/BYE
    default:
      return scalar64_loop(keys, msgs, len, n, out);  // RECONNECT (52) is rare
  }
}

void scalar128_batch(const MasterKey& key, const uint8_t* const* msgs, std::size_t len,
                     std::size_t n, SessionKey* out) {
  if (len == wire::kKeyInputSize) return scalar128_loop(key, msgs, wire::kKeyInputSize, n, out);
  scalar128_loop(key, msgs, len, n, out);
}

}  // namespace

SipHashPath best_siphash_path() {
  static const SipHashPath best = avx2_available() ? SipHashPath::kAvx2 : SipHashPath::kScalar;
  return best;
}

bool siphash_path_available(SipHashPath p) {
  switch (p) {
    case SipHashPath::kLibsodium:
    case SipHashPath::kScalar:
      return true;
    case SipHashPath::kAvx2:
      return avx2_available();
  }
  return false;
}

const char* siphash_path_name(SipHashPath p) {
  switch (p) {
    case SipHashPath::kLibsodium:
      return "libsodium";
    case SipHashPath::kScalar:
      return "scalar";
    case SipHashPath::kAvx2:
      return "avx2";
  }
  return "unknown";
}

void siphash64_batch(const SessionKey* keys, const uint8_t* const* msgs, std::size_t len,
                     std::size_t n, uint64_t* out, SipHashPath path) {
  switch (path) {
    case SipHashPath::kLibsodium:
      for (std::size_t i = 0; i < n; ++i) out[i] = compute_mac(keys[i], msgs[i], len);
      return;
    case SipHashPath::kAvx2:
#if defined(__x86_64__) || defined(__i386__)
      if (PRESENCED_LIKELY(avx2_available())) {
        return detail::siphash64_batch_avx2(keys, msgs, len, n, out);
      }
#endif
      break;  // no AVX2 here: same answer from the scalar code
    case SipHashPath::kScalar:
      break;
  }
  scalar64_batch(keys, msgs, len, n, out);
}

void siphash128_batch(const MasterKey& key, const uint8_t* const* msgs, std::size_t len,
                      std::size_t n, SessionKey* out, SipHashPath path) {
  switch (path) {
    case SipHashPath::kLibsodium:
      for (std::size_t i = 0; i < n; ++i) {
        crypto_shorthash_siphashx24(out[i].bytes.data(), msgs[i], len, key.bytes.data());
      }
      return;
    case SipHashPath::kAvx2:
#if defined(__x86_64__) || defined(__i386__)
      if (PRESENCED_LIKELY(avx2_available())) {
        return detail::siphash128_batch_avx2(key, msgs, len, n, out);
      }
#endif
      break;
    case SipHashPath::kScalar:
      break;
  }
  scalar128_batch(key, msgs, len, n, out);
}

}  // namespace presenced::auth
