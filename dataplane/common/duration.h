// duration.h: parses the durations operators type on command lines and in
// config files ("2s", "500ms", "1.5m", or a bare number in a default unit).
//
// Owns: the one duration syntax of presenced's flags, TOML keys and tools.
// Concurrency: a pure function; thread-safe. Not for hot paths (it may
// allocate and uses exceptions internally).
#pragma once

#include <cstdint>
#include <string>

namespace presenced {

// Accepts a non-negative decimal number followed by "ms", "s", "m" or "min",
// or by nothing (then `default_unit_ms` is the unit). False for anything
// else, negative or non-finite values, or more than 10^15 ms.
bool parse_duration_ms(const std::string& text, uint64_t default_unit_ms, uint64_t& ms);

}  // namespace presenced
