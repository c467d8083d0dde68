#include "dataplane/auth/session_key.h"

#include <cstdio>
#include <cstdlib>

#include <sodium.h>

#include "dataplane/common/byte_order.h"

namespace presenced::auth {

static_assert(crypto_shorthash_siphash24_KEYBYTES == 16);
static_assert(crypto_shorthash_siphash24_BYTES == 8);
static_assert(crypto_shorthash_siphashx24_BYTES == 16);

void ensure_sodium_initialized() {
  // sodium_init is itself thread-safe and idempotent (returns 1 when done).
  if (sodium_init() < 0) {
    std::fputs("presenced: libsodium failed to initialise\n", stderr);
    std::abort();
  }
}

void build_key_input(uint64_t user_id, uint32_t device_id, uint32_t token_expiry,
                     uint8_t out[wire::kKeyInputSize]) {
  out[0] = 'P';
  out[1] = 'H';
  out[2] = 'K';
  out[3] = '1';
  store_be<uint64_t>(out + 4, user_id);
  store_be<uint32_t>(out + 12, device_id);
  store_be<uint32_t>(out + 16, token_expiry);
}

SessionKey derive_session_key(const MasterKey& master, uint64_t user_id, uint32_t device_id,
                              uint32_t token_expiry) {
  uint8_t msg[wire::kKeyInputSize];
  build_key_input(user_id, device_id, token_expiry, msg);
  SessionKey k;
  crypto_shorthash_siphashx24(k.bytes.data(), msg, sizeof msg, master.bytes.data());
  return k;
}

uint64_t compute_mac(const SessionKey& key, const uint8_t* msg, std::size_t len) {
  uint8_t out[8];
  crypto_shorthash_siphash24(out, msg, len, key.bytes.data());
  return load_le64(out);
}

void sign_packet(const SessionKey& key, uint8_t* packet, std::size_t size) {
  const uint64_t mac = compute_mac(key, packet, size - wire::kMacSize);
  store_le64(packet + size - wire::kMacSize, mac);
}

bool verify_packet(const SessionKey& key, const uint8_t* packet, std::size_t size) {
  const uint64_t mac = compute_mac(key, packet, size - wire::kMacSize);
  return tags_equal(mac, load_le64(packet + size - wire::kMacSize));
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool parse_master_key_hex(std::string_view text, MasterKey& out) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string to_hex(const uint8_t* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return s;
}

std::string master_key_to_hex(const MasterKey& key) {
  return to_hex(key.bytes.data(), key.bytes.size());
}

}  // namespace presenced::auth
