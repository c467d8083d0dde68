// core_command.h: what the control plane asks a data core to do.
//
// Owns: the command record carried by each core's command ring (an SPSC
// ring: the control plane produces, the core consumes between bursts, so a
// data core never takes a lock). Concurrency: a value type.
#pragma once

#include <cstdint>

#include "dataplane/engine/engine_config.h"
#include "dataplane/engine/reconnect_directive.h"

namespace presenced::loop {

struct CoreCommand {
  enum class Kind : uint8_t {
    kSetConfig = 1,      // replace the engine configuration
    kAddDirective = 2,   // remember a reconnect directive (every core)
    kMarkReconnect = 3,  // mark the matching sessions (their home cores)
    kStartDrain = 4,     // stop admitting, push RECONNECTs at `rate`
  };
  Kind kind = Kind::kSetConfig;
  uint64_t id = 0;              // echoed in the core's `last_command` counter once applied
  engine::EngineConfig config;  // kSetConfig
  // kAddDirective, kMarkReconnect, kStartDrain:
  engine::ReconnectScope scope = engine::ReconnectScope::kUser;
  uint64_t user = 0;
  uint32_t device = 0;
  uint32_t rate = 0;  // kStartDrain: pushes per second on this core (0: unpaced)
  engine::ReconnectDirective directive;
};

}  // namespace presenced::loop
