// core_command.h: what the control plane asks a data core to do.
//
// Owns: the command record carried by each core's command ring (an SPSC
// ring: the control plane produces, the core consumes between bursts, so a
// data core never takes a lock). Concurrency: a value type.
#pragma once

#include <cstdint>

#include "dataplane/engine/engine_config.h"

namespace presenced::loop {

struct CoreCommand {
  enum class Kind : uint8_t {
    kSetConfig = 1,  // replace the engine configuration
  };
  Kind kind = Kind::kSetConfig;
  uint64_t id = 0;  // echoed in the core's `applied_command` counter
  engine::EngineConfig config;
};

}  // namespace presenced::loop
