// drop_reason.h: why the server dropped a datagram without replying.
//
// Owns: the one enum that both the parser and the engine return, so each
// malformed or rejected case maps one to one onto a drop counter (and onto a
// Prometheus label via drop_reason_name()). Concurrency: constants only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace presenced::wire {

enum class DropReason : uint8_t {
  kNone = 0,  // not dropped

  // Rule 1: malformed (returned by the parser).
  kBadLength,       // not the exact size of its type (includes < 4 bytes)
  kBadMagic,        // bytes 0..1 are not "PH"
  kBadVersion,      // byte 2 is not 1
  kUnknownType,     // type not 1..4
  kWrongDirection,  // a server-to-client type (ACK, RECONNECT) sent to us
  kZeroUser,        // user_id 0
  kBadStatus,       // status above 3
  kReservedFlags,   // reserved flag bits set
  kBadFamily,       // RECONNECT family not 0/4/6 (client-side parser only)

  // Rules 2-4: authentication and replay (engine).
  kBadMac,        // SipHash tag mismatch
  kTokenExpired,  // token_expiry before the wall clock
  kReplay,        // seq not above the highest accepted for this token
  kStaleToken,    // token_expiry older than the session's current token

  // Capacity and policy (engine).
  kTableFull,      // new session, no free slot and no evictable tombstone
  kBackpressure,   // cross-core queue to the session's home core full
  kContended,      // another core held the session record too long
  kDraining,       // new session while the server drains
  kSourceLimited,  // source prefix over its invalid-packet budget

  kCount
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);

// Stable snake_case name, used as the `reason` label in metrics and status.
constexpr std::string_view drop_reason_name(DropReason r) {
  switch (r) {
    case DropReason::kNone:
      return "none";
    case DropReason::kBadLength:
      return "bad_length";
    case DropReason::kBadMagic:
      return "bad_magic";
    case DropReason::kBadVersion:
      return "bad_version";
    case DropReason::kUnknownType:
      return "unknown_type";
    case DropReason::kWrongDirection:
      return "wrong_direction";
    case DropReason::kZeroUser:
      return "zero_user";
    case DropReason::kBadStatus:
      return "bad_status";
    case DropReason::kReservedFlags:
      return "reserved_flags";
    case DropReason::kBadFamily:
      return "bad_family";
    case DropReason::kBadMac:
      return "bad_mac";
    case DropReason::kTokenExpired:
      return "token_expired";
    case DropReason::kReplay:
      return "replay";
    case DropReason::kStaleToken:
      return "stale_token";
    case DropReason::kTableFull:
      return "table_full";
    case DropReason::kBackpressure:
      return "backpressure";
    case DropReason::kContended:
      return "contended";
    case DropReason::kDraining:
      return "draining";
    case DropReason::kSourceLimited:
      return "source_limited";
    case DropReason::kCount:
      break;
  }
  return "invalid";
}

}  // namespace presenced::wire
