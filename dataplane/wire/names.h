// names.h: the text names of the protocol's enums, as the control API, the
// event stream and the tools print and accept them.
//
// Owns: the one mapping between wire::Status / wire::ReconnectReason and
// their lower-case names ("available", "drain", ...), both ways.
// Concurrency: constexpr functions; thread-safe.
#pragma once

#include <string_view>

#include "dataplane/wire/protocol.h"

namespace presenced::wire {

constexpr std::string_view status_name(Status s) {
  switch (s) {
    case Status::kAvailable:
      return "available";
    case Status::kAway:
      return "away";
    case Status::kBusy:
      return "busy";
    case Status::kInvisible:
      return "invisible";
  }
  return "invalid";
}

constexpr std::string_view reconnect_reason_name(ReconnectReason r) {
  switch (r) {
    case ReconnectReason::kDrain:
      return "drain";
    case ReconnectReason::kOperator:
      return "operator";
    case ReconnectReason::kRebalance:
      return "rebalance";
    case ReconnectReason::kOverload:
      return "overload";
  }
  return "unknown";
}

// The inverse of status_name; false for any other text.
constexpr bool parse_status(std::string_view text, Status& out) {
  for (Status s : {Status::kAvailable, Status::kAway, Status::kBusy, Status::kInvisible}) {
    if (text == status_name(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

// The inverse of reconnect_reason_name; false for any other text.
constexpr bool parse_reconnect_reason(std::string_view text, ReconnectReason& out) {
  for (ReconnectReason r : {ReconnectReason::kDrain, ReconnectReason::kOperator,
                            ReconnectReason::kRebalance, ReconnectReason::kOverload}) {
    if (text == reconnect_reason_name(r)) {
      out = r;
      return true;
    }
  }
  return false;
}

}  // namespace presenced::wire
