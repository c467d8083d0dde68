// reconnect_directive.h: where, when and why a session is told to
// reconnect (the content of a RECONNECT packet besides its header).
//
// Owns: the value type and its scope. Concurrency: a value type, copied
// into each core through its command ring.
#pragma once

#include <cstdint>

#include "dataplane/common/net_addr.h"
#include "dataplane/wire/protocol.h"

namespace presenced::engine {

struct ReconnectDirective {
  NetAddr target;          // family 0: reconnect to the same server (port 0: same port)
  uint32_t spread_ms = 0;  // each session waits uniform[0, spread_ms]
  wire::ReconnectReason reason = wire::ReconnectReason::kOperator;
};

enum class ReconnectScope : uint8_t {
  kDevice = 0,  // one session (user, device)
  kUser = 1,    // every session of a user
  kAll = 2,     // every session
};

}  // namespace presenced::engine
