// session_key.h: session-key derivation and packet MACs (reference path).
//
// Owns: the authentication rules of PROTOCOL.md, computed with libsodium:
//   k   = SipHash-2-4-128(master_key, "PHK1" || user_id || device_id || token_expiry)
//   mac = SipHash-2-4-64(k, every byte before the mac field)
// These functions are the reference the batched SIMD code (siphash_batch.h)
// is differentially tested against, and the fallback on any CPU.
//
// Concurrency: pure functions (libsodium's shorthash is stateless); callers
// must have called sodium_init() once (ensure_sodium_initialized()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/wire/protocol.h"

namespace presenced::auth {

// 16 secret bytes shared with the login service.
struct MasterKey {
  std::array<uint8_t, 16> bytes{};
  friend bool operator==(const MasterKey&, const MasterKey&) = default;
};

// Per (user, device, token_expiry) key; the client gets it from login.
struct SessionKey {
  std::array<uint8_t, 16> bytes{};
  friend bool operator==(const SessionKey&, const SessionKey&) = default;
};

// Idempotent, thread-safe; aborts if libsodium cannot initialise.
void ensure_sodium_initialized();

// Writes the 20-byte derivation message "PHK1" || user || device || expiry.
void build_key_input(uint64_t user_id, uint32_t device_id, uint32_t token_expiry,
                     uint8_t out[wire::kKeyInputSize]);

SessionKey derive_session_key(const MasterKey& master, uint64_t user_id, uint32_t device_id,
                              uint32_t token_expiry);

// SipHash-2-4-64 of `len` bytes under `key`, as a little-endian integer
// (the byte order libsodium writes, and the order codec.h reads MACs in).
uint64_t compute_mac(const SessionKey& key, const uint8_t* msg, std::size_t len);

// Constant-time equality of two tags (no data-dependent branch).
inline bool tags_equal(uint64_t a, uint64_t b) {
  const uint64_t d = a ^ b;
  // (d | -d) has its top bit set iff d != 0.
  return ((d | (0 - d)) >> 63) == 0;
}

// Computes the MAC over packet[0 .. size-8) and writes it to the last 8 bytes.
void sign_packet(const SessionKey& key, uint8_t* packet, std::size_t size);
// Recomputes the MAC and compares it in constant time with the packet's own.
bool verify_packet(const SessionKey& key, const uint8_t* packet, std::size_t size);

// Master key files hold 32 hex characters (optionally followed by a newline).
// Returns false for any other content.
bool parse_master_key_hex(std::string_view text, MasterKey& out);
std::string master_key_to_hex(const MasterKey& key);
std::string to_hex(const uint8_t* bytes, std::size_t n);

}  // namespace presenced::auth
