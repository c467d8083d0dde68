// engine_fuzz.cc: libFuzzer target feeding the engine arbitrary bursts.
//
// Owns: a small persistent server (one table, two engines as two data cores,
// a fixed master key) that survives across inputs, and the decoding of an
// input into operations: raw datagrams from arbitrary sources, heartbeats
// and BYEs that the harness signs correctly (so the authenticated paths are
// reached too), and clock steps. After every burst it checks the promises
// of docs/SECURITY.md that hold for any input:
//   * every reply goes to a source that sent an authenticated packet;
//   * every reply is an ACK (40 bytes) or RECONNECT (60), i.e. at most 1.5x
//     the 40-byte request, and verifies with its session's key;
//   * nothing crashes, leaks or trips a sanitizer.
// Violations abort (libFuzzer saves the input).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

#include "dataplane/auth/session_key.h"
#include "dataplane/common/byte_order.h"
#include "dataplane/engine/engine.h"
#include "dataplane/wire/codec.h"

namespace {

using namespace presenced;

struct Server {
  Server() {
    table::PresenceTable::Options t;
    t.max_sessions = 512;
    t.shards = 2;
    t.hash_seed = 1;
    t.prefault = false;
    t.try_hugetlb = false;
    std::string err;
    table = table::PresenceTable::create(t, &err);
    engine::EngineShared::Options so;
    so.cores = 2;
    so.epoch = 0x1234;
    for (uint8_t i = 0; i < 16; ++i) so.master_key.bytes[i] = i;
    master = so.master_key;
    shared = std::make_unique<engine::EngineShared>(*table, so);
    engine::EngineConfig cfg;
    cfg.interval_s = 1;
    cfg.min_interval_s = 1;
    cfg.miss_limit = 1;
    cfg.grace_ms = 0;
    cfg.linger_ms = 100;
    cfg.admission_rate = 50;
    cfg.source_invalid_budget = 20;
    for (uint32_t c = 0; c < 2; ++c) {
      engines.push_back(std::make_unique<engine::Engine>(*shared, c, cfg));
    }
    replies.resize(4096);
    events.resize(1 << 14);
  }
  std::unique_ptr<table::PresenceTable> table;
  std::unique_ptr<engine::EngineShared> shared;
  std::vector<std::unique_ptr<engine::Engine>> engines;
  auth::MasterKey master;
  std::vector<engine::TxDatagram> replies;
  std::vector<engine::PresenceEvent> events;
  engine::Clock now{10'000'000'000ULL, 1'900'000'000'000LL};
  std::set<std::pair<uint32_t, uint16_t>> authenticated;  // (ipv4, port)
};

Server& server() {
  static Server* s = new Server();  // persistent across inputs
  return *s;
}

NetAddr source(uint8_t b) {
  return NetAddr::v4_bytes(10, 0, b >> 4, b & 15, 1000 + (b & 7));
}

void fail(const char* why) {
  std::fprintf(stderr, "engine_fuzz: %s\n", why);
  std::abort();
}

void check(Server& s, engine::ReplyBatch& r) {
  for (uint32_t i = 0; i < r.size; ++i) {
    const engine::TxDatagram& tx = r.data[i];
    if (tx.len != wire::kAckSize && tx.len != wire::kReconnectSize) fail("reply size");
    if (tx.len * 2 > wire::kHeartbeatSize * 3) fail("reply larger than 1.5x the request");
    if (s.authenticated.count({tx.dst.v4_network_order(), tx.dst.port}) == 0) {
      fail("reply to a source that never sent an authenticated packet");
    }
    wire::PacketType type;
    if (wire::peek_server_packet({tx.bytes, tx.len}, type) != wire::DropReason::kNone) {
      fail("reply does not parse");
    }
    const auto key =
        auth::derive_session_key(s.master, load_be<uint64_t>(tx.bytes + wire::kOffUserId),
                                 load_be<uint32_t>(tx.bytes + wire::kOffDeviceId),
                                 load_be<uint32_t>(tx.bytes + wire::kOffTokenExpiry));
    if (!auth::verify_packet(key, tx.bytes, tx.len)) fail("reply MAC does not verify");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Server& s = server();
  std::vector<std::vector<uint8_t>> storage;
  std::vector<engine::RxDatagram> burst;
  uint8_t core = 0;
  std::size_t i = 0;
  auto flush = [&] {
    engine::ReplyBatch r{s.replies.data(), static_cast<uint32_t>(s.replies.size()), 0};
    engine::EventBatch e{s.events.data(), static_cast<uint32_t>(s.events.size()), 0};
    s.engines[core]->process(burst, s.now, r, e);
    check(s, r);
    for (uint32_t c = 0; c < 2; ++c) {
      r.clear();
      e.clear();
      s.engines[c]->tick(s.now, r, e);
      check(s, r);
    }
    burst.clear();
    storage.clear();
  };
  while (i < size) {
    const uint8_t op = data[i++];
    switch (op % 5) {
      case 0: {  // raw datagram: len, bytes, source
        if (i + 2 > size) return 0;
        const std::size_t len = std::min<std::size_t>(data[i], size - i - 2);
        const uint8_t src = data[i + 1];
        storage.emplace_back(data + i + 2, data + i + 2 + len);
        i += 2 + len;
        engine::RxDatagram d;
        d.data = storage.back().data();
        d.len = static_cast<uint16_t>(len);
        d.src = source(src);
        burst.push_back(d);
        break;
      }
      case 1:
      case 2: {  // signed heartbeat (1) or BYE (2): user, device, seq, status/flags, source
        if (i + 6 > size) return 0;
        wire::ClientPacket p;
        p.h.type = op % 5 == 1 ? wire::PacketType::kHeartbeat : wire::PacketType::kBye;
        p.h.user_id = 1 + data[i] % 64;
        p.h.device_id = data[i + 1] % 4;
        p.h.seq = data[i + 2];
        p.h.token_expiry = 1'900'001'000 + (data[i + 3] & 1);
        p.status = static_cast<wire::Status>(data[i + 4] & 3);
        p.flags = data[i + 4] >> 7;
        p.epoch_seen = (data[i + 4] & 0x40) ? 0x999 : 0;
        const NetAddr src = source(data[i + 5]);
        i += 6;
        storage.emplace_back(wire::kHeartbeatSize);
        wire::build_client_packet(
            p, std::span<uint8_t, wire::kHeartbeatSize>(storage.back().data(), 40));
        const auto key =
            auth::derive_session_key(s.master, p.h.user_id, p.h.device_id, p.h.token_expiry);
        auth::sign_packet(key, storage.back().data(), 40);
        s.authenticated.insert({src.v4_network_order(), src.port});
        engine::RxDatagram d;
        d.data = storage.back().data();
        d.len = wire::kHeartbeatSize;
        d.src = src;
        burst.push_back(d);
        break;
      }
      case 3: {  // advance time by up to 4 s, then flush
        if (i + 2 > size) return 0;
        const uint64_t ms = (uint64_t{data[i]} << 4) | (data[i + 1] & 15);
        i += 2;
        flush();
        s.now.mono_ns += ms * 1'000'000;
        s.now.wall_ms += static_cast<int64_t>(ms);
        break;
      }
      case 4:  // switch core and flush
        flush();
        core = static_cast<uint8_t>(1 - core);
        break;
    }
    if (burst.size() >= 64) flush();
  }
  flush();
  return 0;
}
