// policy.h: the tunables of the client heartbeat state machine.
//
// Owns: the Policy value (timeouts, retry and backoff bounds, redirect jitter,
// adaptive-interval steps) and its validation. One Policy is shared by every
// Session of a process and passed to each call by reference, so a session
// stores none of it.
//
// Concurrency: a plain value. Sessions only read it; do not change a Policy
// while another thread drives sessions with it.
#pragma once

#include <cstdint>
#include <string_view>

namespace presenced::client {

struct Policy {
  // Heartbeat interval until the first accepted ACK advises one
  // (next_interval_s). The server's advice then takes over (PROTOCOL.md
  // "Adopt next_interval_s from every ACK").
  uint32_t default_interval_ms = 30000;

  // No ACK within this time after a heartbeat: resend (new seq).
  uint32_t ack_timeout_ms = 5000;
  // Resends per round before the connection is declared dead. A round thus
  // sends at most retries + 1 heartbeats. Also bounds BYE resends.
  uint8_t retries = 3;

  // Reconnect after a dead connection: wait uniform[0, min(cap, base * 2^n))
  // ms ("full jitter"), n = 0 for the first reconnect attempt, +1 per failed
  // attempt, reset by an accepted ACK.
  // The cap stays well below the server's timeout (3 x 30 s + 2 s by
  // default): on a lossy path where only the ACKs are lost the server still
  // hears every attempt, and a longer cap let gaps between single-heartbeat
  // attempts outgrow the timeout. The deterministic simulation measured, at
  // 20% loss each way over 100,000 client-hours: cap 60 s -> 59 false
  // offlines, 15 s -> 1, 8 s -> 0 (tests/sim/sim_loss_test.cc). Herds are
  // the server's to spread (admission rate, RECONNECT delays).
  uint32_t backoff_base_ms = 1000;
  uint32_t backoff_cap_ms = 8000;

  // RECONNECT: wait delay_ms + uniform[0, J] ms before the FIRST heartbeat,
  // J = min(delay_ms * redirect_jitter_percent / 100, redirect_jitter_max_ms).
  // The server already spreads a fleet over its window; this only breaks up
  // clients that received the same delay in the same millisecond.
  uint32_t redirect_jitter_percent = 10;
  uint32_t redirect_jitter_max_ms = 5000;

  // The token counts as expired this many seconds before token_expiry
  // (clock-skew margin). 0: valid while unix_now <= token_expiry, exactly the
  // server's rule 3 ("token_expiry before the server's wall clock").
  uint32_t token_margin_s = 0;

  // Adaptive ("smart") heartbeat, off by default. The server's advised
  // next_interval_s stays the upper bound; within it the client starts at
  // adaptive_start_ms and probes adaptive_step_ms longer after each round
  // that survived (acknowledged on its first attempt), falls back to the last
  // good interval when a probe fails, and never goes below adaptive_min_ms.
  // Needs an AdaptiveIntervalStore in the Env; without one this is ignored.
  bool adaptive = false;
  uint32_t adaptive_start_ms = 30000;
  uint32_t adaptive_step_ms = 30000;
  uint32_t adaptive_min_ms = 10000;
};

// Returns an empty view if `p` is usable, otherwise the name of the first bad
// field ("ack_timeout_ms must be > 0", ...). Configuration errors should stop
// start-up with this message.
std::string_view validate(const Policy& p);

}  // namespace presenced::client
