#include "dataplane/loop/core_loop.h"

#include <algorithm>
#include <ctime>

#include <pthread.h>
#include <sched.h>

namespace presenced::loop {
namespace {

// Replies one iteration can produce: a burst, plus the home core's replies
// to sessions created for other cores (the engine stops at the room left).
constexpr uint32_t kReplyCapacity = 2048;
constexpr uint32_t kEventCapacity = 4096;

}  // namespace

bool pin_current_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

engine::Clock CoreLoop::read_clock() {
  timespec mono;
  timespec wall;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &wall);
  engine::Clock c;
  c.mono_ns =
      static_cast<uint64_t>(mono.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(mono.tv_nsec);
  c.wall_ms = static_cast<int64_t>(wall.tv_sec) * 1000 + wall.tv_nsec / 1'000'000;
  return c;
}

CoreLoop::CoreLoop(engine::Engine& engine, io::IoBackend& backend,
                   SpscRing<engine::PresenceEvent>& events_out, SpscRing<CoreCommand>& commands_in,
                   const Options& options)
    : engine_(engine),
      backend_(backend),
      events_out_(events_out),
      commands_in_(commands_in),
      options_(options),
      rx_(std::max<uint32_t>(1, options.burst)),
      tx_(kReplyCapacity),
      event_buf_(kEventCapacity) {}

void CoreLoop::apply_commands(const engine::Clock& now) {
  CoreCommand c;
  while (commands_in_.try_pop(c)) {
    switch (c.kind) {
      case CoreCommand::Kind::kSetConfig:
        engine_.set_config(c.config);
        break;
      case CoreCommand::Kind::kAddDirective:
        engine_.add_reconnect_directive(c.scope, c.user, c.device, c.directive, now);
        break;
      case CoreCommand::Kind::kMarkReconnect:
        engine_.mark_reconnect(c.scope, c.user, c.device);
        break;
      case CoreCommand::Kind::kStartDrain:
        engine_.start_drain(c.directive, c.rate, now);
        break;
    }
    counters_.commands.add();
    counters_.last_command.set(c.id);
  }
}

void CoreLoop::publish(engine::EventBatch& events) {
  // The batch was sized to the ring's free space: every push succeeds.
  for (uint32_t i = 0; i < events.size; ++i) events_out_.try_push(events.data[i]);
  events.clear();
}

void CoreLoop::run(const std::atomic<bool>& stop) {
  if (options_.cpu >= 0) pin_current_thread(options_.cpu);
  uint32_t idle = 0;
  uint32_t sleep_us = 1000;
  while (!stop.load(std::memory_order_relaxed)) {
    counters_.iterations.add();
    const engine::Clock now = read_clock();

    const uint32_t n = backend_.receive(rx_.data(), static_cast<uint32_t>(rx_.size()));

    engine::ReplyBatch replies{tx_.data(), static_cast<uint32_t>(tx_.size()), 0};
    const uint32_t event_room =
        static_cast<uint32_t>(std::min<std::size_t>(event_buf_.size(), events_out_.free_space()));
    engine::EventBatch events{event_buf_.data(), event_room, 0};
    if (n > 0) {
      counters_.bursts.add();
      engine_.process({rx_.data(), n}, now, replies, events);
    } else {
      engine_.tick(now, replies, events);
    }

    if (replies.size > 0) {
      const uint32_t sent = backend_.send(replies.data, replies.size);
      if (sent < replies.size) counters_.tx_dropped.add(replies.size - sent);
    }

    apply_commands(now);
    publish(events);

    if (n > 0 || replies.size > 0) {
      idle = 0;
      sleep_us = 1000;
      continue;
    }
    if (options_.busy_poll || ++idle < options_.idle_polls) continue;
    counters_.sleeps.add();
    backend_.wait(sleep_us);
    sleep_us = std::min(sleep_us * 2, engine_.config().tick_ms * 1000);
  }
}

}  // namespace presenced::loop
