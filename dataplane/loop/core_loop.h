// core_loop.h: the loop one data core runs, top to bottom.
//
// Owns, for one core: the thread's body and its idle strategy. The core owns
// an Engine (its share of the work), an IoBackend instance (its socket or
// queue), its end of the event ring (to the control plane) and of the
// command ring (from the control plane). Every iteration:
//   1. read the clocks
//   2. receive a burst
//   3. run the engine on it (or only its home work when the burst is empty)
//   4. send the replies
//   5. drain control commands (config changes take effect here)
//   6. publish events to the event ring
//   7. idle: after `idle_polls` empty iterations, sleep in the backend until
//      traffic arrives or the sleep timer ends; the timer starts at 1 ms and
//      doubles while the core stays idle, up to one tick, so an idle core
//      costs almost nothing and a busy one never sleeps (--busy-poll: never
//      sleep at all)
// The loop never allocates, locks or logs per packet.
//
// Concurrency: run() executes on the core's own thread until `stop` becomes
// true; counters() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/common/counter.h"
#include "dataplane/common/spsc_ring.h"
#include "dataplane/engine/engine.h"
#include "dataplane/io/io_backend.h"
#include "dataplane/loop/core_command.h"

namespace presenced::loop {

struct LoopCounters {
  SingleWriterCounter iterations;
  SingleWriterCounter bursts;        // iterations that received something
  SingleWriterCounter sleeps;        // times the core slept in the backend
  SingleWriterCounter commands;      // commands applied
  SingleWriterCounter last_command;  // id of the last command applied
  SingleWriterCounter tx_dropped;    // replies the backend did not accept
};

class CoreLoop {
 public:
  struct Options {
    int cpu = -1;              // pin the thread to this CPU (-1: no pinning)
    bool busy_poll = false;    // never sleep
    uint32_t idle_polls = 64;  // empty iterations before sleeping
    uint32_t burst = 32;       // datagrams per receive
  };

  CoreLoop(engine::Engine& engine, io::IoBackend& backend,
           SpscRing<engine::PresenceEvent>& events_out, SpscRing<CoreCommand>& commands_in,
           const Options& options);

  // The thread body. Returns after `stop` is seen (within one sleep).
  void run(const std::atomic<bool>& stop);

  const LoopCounters& counters() const { return counters_; }

  // Clock readings as the engine wants them.
  static engine::Clock read_clock();

 private:
  void apply_commands(const engine::Clock& now);
  void publish(engine::EventBatch& events);

  engine::Engine& engine_;
  io::IoBackend& backend_;
  SpscRing<engine::PresenceEvent>& events_out_;
  SpscRing<CoreCommand>& commands_in_;
  const Options options_;
  LoopCounters counters_;
  std::vector<engine::RxDatagram> rx_;
  std::vector<engine::TxDatagram> tx_;
  std::vector<engine::PresenceEvent> event_buf_;
};

// Pins the calling thread to `cpu`; false (with errno) if the kernel refuses.
bool pin_current_thread(int cpu);

}  // namespace presenced::loop
