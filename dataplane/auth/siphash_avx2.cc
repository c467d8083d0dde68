// siphash_avx2.cc: the AVX2 SipHash-2-4 kernels behind siphash_batch.h.
//
// Owns: the SIMD layout below and nothing else (path selection, the scalar
// reference and the libsodium loop are in siphash_batch.cc).
// Concurrency: pure functions, thread-safe; no allocation, no locks.
//
// The project is built for baseline x86-64: only the functions here carry
// __attribute__((target("avx2"))), and siphash_batch.cc calls them only after
// __builtin_cpu_supports("avx2"). On other architectures this file is empty.
//
// SIMD layout. SipHash state is four 64-bit words v0..v3 per message. One
// __m256i holds the same word of four messages (lane l = message l of the
// group), so one SipRound on four messages is the scalar round with every
// operation replaced by its 4 x 64-bit vector form:
//
//            lane 0    lane 1    lane 2    lane 3
//   v0[g] = [v0(m0),   v0(m1),   v0(m2),   v0(m3)]     m_l = msgs[4g + l]
//   v1[g] = [v1(m0),   ...                      ]
//   ...
//
// A round is a chain of dependent add/rotate/xor steps, so a single group is
// latency bound. kGroups groups (8 messages) are processed together: their
// chains are independent and the out-of-order core overlaps them, which keeps
// the vector ports busy. AVX2 has no 64-bit rotate: rotl by 13/17/21 is
// shift | shift, rotl by 32 swaps the 32-bit halves (vpshufd) and rotl by 16
// is a byte shuffle (vpshufb).
//
// Messages are loaded one 8-byte word per lane (the four messages live at
// unrelated addresses): broadcast loads merged by blends, see load_word4.
// With two groups the loop is bound by vector ALU throughput (~20 uops per
// group per round), not by loads or latency. The final
// partial block is read as the 8 bytes ending at msg + len, shifted down,
// so no byte past len is ever touched.
#include "dataplane/auth/siphash_batch.h"

#if defined(__x86_64__) || defined(__i386__)

#include <cstring>

#include <immintrin.h>

#define PRESENCED_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline
#define PRESENCED_AVX2_NOINLINE __attribute__((target("avx2"), noinline))

namespace presenced::auth::detail {
namespace {

static_assert(sizeof(SessionKey) == 16 && sizeof(MasterKey) == 16);

constexpr std::size_t kLanes = 4;   // 64-bit lanes per __m256i
constexpr std::size_t kGroups = 2;  // independent vectors interleaved
constexpr std::size_t kWide = kLanes * kGroups;

// The state of kLanes * G messages: v0[g] holds word v0 of messages 4g..4g+3.
template <std::size_t G>
struct Lanes {
  __m256i v0[G], v1[G], v2[G], v3[G];
};

// ---------------------------------------------------------------------------
// Vector primitives.

template <int B>
PRESENCED_AVX2_INLINE __m256i rotl(__m256i x) {
  if constexpr (B == 32) {
    return _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1));  // swap 32-bit halves
  } else if constexpr (B == 16) {
    // Output byte i of each qword takes input byte (i + 6) % 8.
    const __m256i rot16 = _mm256_setr_epi8(6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13,  //
                                           6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13);
    return _mm256_shuffle_epi8(x, rot16);
  } else {
    return _mm256_or_si256(_mm256_slli_epi64(x, B), _mm256_srli_epi64(x, 64 - B));
  }
}

PRESENCED_AVX2_INLINE __m256i add(__m256i a, __m256i b) {
  return _mm256_add_epi64(a, b);
}
PRESENCED_AVX2_INLINE __m256i xor_(__m256i a, __m256i b) {
  return _mm256_xor_si256(a, b);
}
PRESENCED_AVX2_INLINE __m256i xor_all(__m256i a, __m256i b, __m256i c, __m256i d) {
  return xor_(xor_(a, b), xor_(c, d));
}

PRESENCED_AVX2_INLINE long long load64(const uint8_t* p) {
  long long v;
  std::memcpy(&v, p, sizeof v);  // x86 is little-endian: SipHash's word order
  return v;
}

// ---------------------------------------------------------------------------
// SipHash steps on all groups. The loops over g have constant trip counts and
// are fully unrolled; each statement is issued for every group before the
// next, so the groups' dependency chains interleave in program order too.

template <std::size_t G>
PRESENCED_AVX2_INLINE void sip_round(Lanes<G>& s) {
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) {
    s.v0[g] = add(s.v0[g], s.v1[g]);
    s.v2[g] = add(s.v2[g], s.v3[g]);
    s.v1[g] = rotl<13>(s.v1[g]);
    s.v3[g] = rotl<16>(s.v3[g]);
    s.v1[g] = xor_(s.v1[g], s.v0[g]);
    s.v3[g] = xor_(s.v3[g], s.v2[g]);
    s.v0[g] = rotl<32>(s.v0[g]);
    s.v2[g] = add(s.v2[g], s.v1[g]);
    s.v0[g] = add(s.v0[g], s.v3[g]);
    s.v1[g] = rotl<17>(s.v1[g]);
    s.v3[g] = rotl<21>(s.v3[g]);
    s.v1[g] = xor_(s.v1[g], s.v2[g]);
    s.v3[g] = xor_(s.v3[g], s.v0[g]);
    s.v2[g] = rotl<32>(s.v2[g]);
  }
}

template <std::size_t G>
PRESENCED_AVX2_INLINE void sip_compress(Lanes<G>& s, const __m256i (&m)[G]) {
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) s.v3[g] = xor_(s.v3[g], m[g]);
  sip_round(s);
  sip_round(s);
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) s.v0[g] = xor_(s.v0[g], m[g]);
}

// v0..v3 from per-lane keys (k0 = key bytes 0..7, k1 = bytes 8..15, LE).
template <std::size_t G>
PRESENCED_AVX2_INLINE void sip_init(Lanes<G>& s, std::size_t g, __m256i k0, __m256i k1, bool wide) {
  s.v0[g] = xor_(k0, _mm256_set1_epi64x(0x736f6d6570736575LL));
  s.v1[g] = xor_(k1, _mm256_set1_epi64x(0x646f72616e646f6dLL));
  s.v2[g] = xor_(k0, _mm256_set1_epi64x(0x6c7967656e657261LL));
  s.v3[g] = xor_(k1, _mm256_set1_epi64x(0x7465646279746573LL));
  if (wide) s.v1[g] = xor_(s.v1[g], _mm256_set1_epi64x(0xee));
}

// One 8-byte word at byte offset `off` of four messages, lane l from p[l].
// Each word is broadcast straight from memory (a pure load, no shuffle uop)
// and three dword blends (any vector ALU port) pick lane l from word l:
//   b0 = [w0 w0 w0 w0], b1 = [w1 ...]  ->  [w0 w1 . .] and [. . w2 w3]  ->  [w0 w1 w2 w3]
// This keeps the shuffle port free for the rotates (vpinsrq would use it).
PRESENCED_AVX2_INLINE __m256i load_word4(const uint8_t* const* p, std::size_t off) {
  const __m256i b0 = _mm256_set1_epi64x(load64(p[0] + off));
  const __m256i b1 = _mm256_set1_epi64x(load64(p[1] + off));
  const __m256i b2 = _mm256_set1_epi64x(load64(p[2] + off));
  const __m256i b3 = _mm256_set1_epi64x(load64(p[3] + off));
  const __m256i m01 = _mm256_blend_epi32(b0, b1, 0x0C);
  const __m256i m23 = _mm256_blend_epi32(b2, b3, 0xC0);
  return _mm256_blend_epi32(m01, m23, 0xF0);
}

// The last len % 8 bytes of a message shorter than 8 bytes, little-endian.
PRESENCED_AVX2_INLINE long long short_tail(const uint8_t* p, std::size_t len) {
  uint64_t t = 0;
  for (std::size_t i = 0; i < len; ++i) t |= uint64_t{p[i]} << (8 * i);
  return static_cast<long long>(t);
}

// SipHash's final block for four messages: tail bytes | len << 56.
PRESENCED_AVX2_INLINE __m256i last_block4(const uint8_t* const* p, std::size_t len) {
  const __m256i len_byte = _mm256_set1_epi64x(static_cast<long long>(uint64_t{len} << 56));
  const std::size_t rem = len & 7;
  if (rem == 0) return len_byte;
  if (len < 8) {
    return _mm256_or_si256(len_byte,
                           _mm256_set_epi64x(short_tail(p[3], len), short_tail(p[2], len),
                                             short_tail(p[1], len), short_tail(p[0], len)));
  }
  // The 8 bytes ending at p + len carry the tail in their top rem bytes.
  const __m256i w = load_word4(p, len - 8);
  const __m128i shift = _mm_cvtsi64_si128(static_cast<long long>(64 - 8 * rem));
  return _mm256_or_si256(len_byte, _mm256_srl_epi64(w, shift));
}

// Absorbs len bytes of msgs[0 .. 4G) (group g = msgs[4g .. 4g+4)).
template <std::size_t G>
PRESENCED_AVX2_INLINE void sip_absorb(Lanes<G>& s, const uint8_t* const* msgs, std::size_t len) {
  __m256i m[G];
  for (std::size_t off = 0; off + 8 <= len; off += 8) {
#pragma GCC unroll 8
    for (std::size_t g = 0; g < G; ++g) m[g] = load_word4(msgs + kLanes * g, off);
    sip_compress(s, m);
  }
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) m[g] = last_block4(msgs + kLanes * g, len);
  sip_compress(s, m);
}

// Four rounds after v2 ^= flag; returns v0 ^ v1 ^ v2 ^ v3 per group.
template <std::size_t G>
PRESENCED_AVX2_INLINE void sip_finalize(Lanes<G>& s, long long flag, __m256i (&h)[G]) {
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) s.v2[g] = xor_(s.v2[g], _mm256_set1_epi64x(flag));
  for (int r = 0; r < 4; ++r) sip_round(s);
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) h[g] = xor_all(s.v0[g], s.v1[g], s.v2[g], s.v3[g]);
}

// ---------------------------------------------------------------------------
// 64-bit output, one key per lane.

// Four consecutive SessionKeys (64 bytes) to k0 = [a0 b0 c0 d0], k1 = [a1 b1 c1 d1].
PRESENCED_AVX2_INLINE void load_keys4(const SessionKey* k, __m256i& k0, __m256i& k1) {
  const __m256i ab = _mm256_loadu_si256(static_cast<const __m256i*>(static_cast<const void*>(k)));
  const __m256i cd =
      _mm256_loadu_si256(static_cast<const __m256i*>(static_cast<const void*>(k + 2)));
  // unpack works inside 128-bit halves: [a0 c0 b0 d0]; the permute restores a b c d.
  k0 = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(ab, cd), _MM_SHUFFLE(3, 1, 2, 0));
  k1 = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(ab, cd), _MM_SHUFFLE(3, 1, 2, 0));
}

// Hashes exactly 4G messages; keys, msgs and out all hold 4G entries.
template <std::size_t G>
PRESENCED_AVX2_INLINE void hash64_lanes(const SessionKey* keys, const uint8_t* const* msgs,
                                        std::size_t len, uint64_t* out) {
  Lanes<G> s;
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) {
    __m256i k0, k1;
    load_keys4(keys + kLanes * g, k0, k1);
    sip_init(s, g, k0, k1, false);
  }
  sip_absorb(s, msgs, len);
  __m256i h[G];
  sip_finalize(s, 0xff, h);
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) {
    _mm256_storeu_si256(static_cast<__m256i*>(static_cast<void*>(out + kLanes * g)), h[g]);
  }
}

// Fewer than kWide messages: pad the lanes with copies of the last message
// (valid memory, results discarded) and keep only the first n outputs.
// Out of line and not specialised per length: it runs at most once a batch.
PRESENCED_AVX2_NOINLINE void hash64_rest(const SessionKey* keys, const uint8_t* const* msgs,
                                         std::size_t len, std::size_t n, uint64_t* out) {
  SessionKey k[kWide];
  const uint8_t* p[kWide];
  uint64_t h[kWide];
  for (std::size_t i = 0; i < kWide; ++i) {
    const std::size_t src = i < n ? i : n - 1;
    k[i] = keys[src];
    p[i] = msgs[src];
  }
  if (n <= kLanes) {
    hash64_lanes<1>(k, p, len, h);
  } else {
    hash64_lanes<kGroups>(k, p, len, h);
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = h[i];
}

PRESENCED_AVX2_INLINE void batch64(const SessionKey* keys, const uint8_t* const* msgs,
                                   std::size_t len, std::size_t n, uint64_t* out) {
  std::size_t i = 0;
  for (; i + kWide <= n; i += kWide) hash64_lanes<kGroups>(keys + i, msgs + i, len, out + i);
  if (i < n) hash64_rest(keys + i, msgs + i, len, n - i, out + i);
}

// The hot length gets its own constant-length copy (block loop unrolled).
PRESENCED_AVX2_NOINLINE void batch64_dispatch(const SessionKey* keys, const uint8_t* const* msgs,
                                              std::size_t len, std::size_t n, uint64_t* out) {
  switch (len) {
    case 32:
      return batch64(keys, msgs, 32, n, out);  // HEARTBEAT/ACK/BYE
    default:
      return batch64(keys, msgs, len, n, out);  // RECONNECT (52) is rare
  }
}

// ---------------------------------------------------------------------------
// 128-bit output, one key broadcast to all lanes.

// h0 = [a0 b0 c0 d0] (first output words), h1 = [a1 b1 c1 d1]: out[l] = a_l0 || a_l1.
PRESENCED_AVX2_INLINE void store128x4(__m256i h0, __m256i h1, SessionKey* out) {
  const __m256i ac = _mm256_unpacklo_epi64(h0, h1);  // [a0 a1 | c0 c1]
  const __m256i bd = _mm256_unpackhi_epi64(h0, h1);  // [b0 b1 | d0 d1]
  _mm256_storeu_si256(static_cast<__m256i*>(static_cast<void*>(out)),
                      _mm256_permute2x128_si256(ac, bd, 0x20));  // [a | b]
  _mm256_storeu_si256(static_cast<__m256i*>(static_cast<void*>(out + 2)),
                      _mm256_permute2x128_si256(ac, bd, 0x31));  // [c | d]
}

template <std::size_t G>
PRESENCED_AVX2_INLINE void hash128_lanes(__m256i k0, __m256i k1, const uint8_t* const* msgs,
                                         std::size_t len, SessionKey* out) {
  Lanes<G> s;
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) sip_init(s, g, k0, k1, true);
  sip_absorb(s, msgs, len);
  __m256i h0[G], h1[G];
  sip_finalize(s, 0xee, h0);
  // Second half: v1 ^= 0xdd, four more rounds.
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) s.v1[g] = xor_(s.v1[g], _mm256_set1_epi64x(0xdd));
  for (int r = 0; r < 4; ++r) sip_round(s);
#pragma GCC unroll 8
  for (std::size_t g = 0; g < G; ++g) {
    h1[g] = xor_all(s.v0[g], s.v1[g], s.v2[g], s.v3[g]);
    store128x4(h0[g], h1[g], out + kLanes * g);
  }
}

PRESENCED_AVX2_NOINLINE void hash128_rest(__m256i k0, __m256i k1, const uint8_t* const* msgs,
                                          std::size_t len, std::size_t n, SessionKey* out) {
  const uint8_t* p[kWide];
  SessionKey h[kWide];
  for (std::size_t i = 0; i < kWide; ++i) p[i] = msgs[i < n ? i : n - 1];
  if (n <= kLanes) {
    hash128_lanes<1>(k0, k1, p, len, h);
  } else {
    hash128_lanes<kGroups>(k0, k1, p, len, h);
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = h[i];
}

PRESENCED_AVX2_INLINE void batch128(const MasterKey& key, const uint8_t* const* msgs,
                                    std::size_t len, std::size_t n, SessionKey* out) {
  const __m256i k0 = _mm256_set1_epi64x(load64(key.bytes.data()));
  const __m256i k1 = _mm256_set1_epi64x(load64(key.bytes.data() + 8));
  std::size_t i = 0;
  for (; i + kWide <= n; i += kWide) hash128_lanes<kGroups>(k0, k1, msgs + i, len, out + i);
  if (i < n) hash128_rest(k0, k1, msgs + i, len, n - i, out + i);
}

PRESENCED_AVX2_NOINLINE void batch128_dispatch(const MasterKey& key, const uint8_t* const* msgs,
                                               std::size_t len, std::size_t n, SessionKey* out) {
  if (len == wire::kKeyInputSize) return batch128(key, msgs, wire::kKeyInputSize, n, out);
  batch128(key, msgs, len, n, out);
}

}  // namespace

// Plain (baseline-ISA) entry points: no AVX2 instruction runs before the
// target("avx2") function they call, so they are safe to declare anywhere.
void siphash64_batch_avx2(const SessionKey* keys, const uint8_t* const* msgs, std::size_t len,
                          std::size_t n, uint64_t* out) {
  batch64_dispatch(keys, msgs, len, n, out);
}

void siphash128_batch_avx2(const MasterKey& key, const uint8_t* const* msgs, std::size_t len,
                           std::size_t n, SessionKey* out) {
  batch128_dispatch(key, msgs, len, n, out);
}

}  // namespace presenced::auth::detail

#endif  // x86
