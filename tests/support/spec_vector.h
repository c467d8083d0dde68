// spec_vector.h: the test vector of PROTOCOL.md, shared by several tests.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/auth/session_key.h"

namespace presenced::testing {

inline auth::MasterKey spec_master_key() {
  auth::MasterKey k;
  for (uint8_t i = 0; i < 16; ++i) k.bytes[i] = i;
  return k;
}

inline constexpr uint64_t kSpecUser = 0x0123456789abcdefULL;
inline constexpr uint32_t kSpecDevice = 7;
inline constexpr uint32_t kSpecSeq = 42;
inline constexpr uint32_t kSpecExpiry = 1893456000;
inline constexpr std::string_view kSpecSessionKeyHex = "44ef04a576d0e7b0789b5fba9183e715";
inline constexpr std::string_view kSpecHeartbeatHex =
    "504801010123456789abcdef000000070000002a70dbd8800101001e00000000f96ccbe9a65a7725";
inline constexpr std::string_view kSpecAckHex =
    "504801020123456789abcdef000000070000002a70dbd880deadbeef002d00000ad0231c6de99970";

}  // namespace presenced::testing
