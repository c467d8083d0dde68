#include "dataplane/table/presence_table.h"

#include <cmath>
#include <cstring>

#include <sys/random.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define PRESENCED_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PRESENCED_TSAN 1
#endif
#endif

namespace presenced::table {
namespace {

// Spins a home core allows a data core to hold a slot before skipping it.
constexpr int kHomeClaimSpins = 4096;
// Slots the clock cursor inspects per insert when the shard is at capacity.
constexpr uint32_t kEvictScanLimit = 1024;

uint64_t random_seed() {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
    s = reinterpret_cast<uintptr_t>(&s) * 0x9e3779b97f4a7c15ULL;
  }
  return s | 1;
}

}  // namespace

uint32_t PresenceTable::match_tags(const std::atomic<uint8_t>* group_tags, uint8_t tag) {
#if defined(__SSE2__) && !defined(PRESENCED_TSAN)
  // Tags are only changed by the home core; a racing load sees the old or the
  // new byte, and every candidate is confirmed on the slot itself.
  const __m128i t = _mm_load_si128(reinterpret_cast<const __m128i*>(group_tags));
  const uint32_t match = static_cast<uint32_t>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(t, _mm_set1_epi8(static_cast<char>(tag)))));
  const uint32_t empty =
      static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(t, _mm_setzero_si128())));
  return match | empty << 16;
#else
  uint32_t match = 0;
  uint32_t empty = 0;
  for (uint32_t i = 0; i < kGroupSize; ++i) {
    const uint8_t v = group_tags[i].load(std::memory_order_acquire);
    match |= static_cast<uint32_t>(v == tag) << i;
    empty |= static_cast<uint32_t>(v == kTagEmpty) << i;
  }
  return match | empty << 16;
#endif
}

std::unique_ptr<PresenceTable> PresenceTable::create(const Options& o, std::string* error) {
  auto fail = [&](const std::string& msg) -> std::unique_ptr<PresenceTable> {
    if (error != nullptr) *error = msg;
    return nullptr;
  };
  if (o.max_sessions < 1 || o.max_sessions > kMaxSessionsLimit) {
    return fail("max_sessions must be in [1, " + std::to_string(kMaxSessionsLimit) + "]");
  }
  if (o.shards < 1 || o.shards > 4096) return fail("shards must be in [1, 4096]");
  if (!(o.max_load > 0.1 && o.max_load <= 0.95)) return fail("max_load must be in (0.1, 0.95]");

  std::unique_ptr<PresenceTable> t(new PresenceTable());
  t->seed_ = o.hash_seed != 0 ? o.hash_seed : random_seed();
  t->max_sessions_ = o.max_sessions;
  t->shard_count_ = o.shards;

  // Per-shard capacity: an even split plus slack for hash imbalance between
  // shards (a few standard deviations), so one shard does not fill early.
  const uint64_t even = (o.max_sessions + o.shards - 1) / o.shards;
  const uint64_t slack =
      o.shards == 1 ? 0 : static_cast<uint64_t>(4.0 * std::sqrt(static_cast<double>(even))) + 16;
  const uint64_t capacity = even + slack;
  const uint64_t slots_needed =
      static_cast<uint64_t>(std::ceil(static_cast<double>(capacity) / o.max_load));
  const uint64_t groups = (slots_needed + kGroupSize - 1) / kGroupSize;
  const uint64_t slots = groups * kGroupSize;
  if (slots * o.shards >= kNoSlot) return fail("table too large for 32-bit slot indices");
  t->slots_per_shard_ = static_cast<uint32_t>(slots);

  for (uint32_t i = 0; i < o.shards; ++i) {
    auto s = std::make_unique<Shard>();
    s->index = i;
    s->base = i * t->slots_per_shard_;
    s->slot_count = t->slots_per_shard_;
    s->group_count = static_cast<uint32_t>(groups);
    s->capacity = static_cast<uint32_t>(capacity);
    std::string err;
    if (!s->slots_region.map(slots * sizeof(SessionSlot), o.prefault, o.try_hugetlb, &err) ||
        !s->tags_region.map(slots, o.prefault, o.try_hugetlb, &err) ||
        !s->v6_region.map(slots * sizeof(V6Addr), /*prefault=*/false, /*try_hugetlb=*/false,
                          &err)) {
      return fail("presence table shard " + std::to_string(i) + ": " + err);
    }
    // Anonymous mappings are zero-filled: every tag EMPTY, every word 0.
    s->slots = static_cast<SessionSlot*>(s->slots_region.data());
    s->tags = static_cast<std::atomic<uint8_t>*>(s->tags_region.data());
    s->v6 = static_cast<V6Addr*>(s->v6_region.data());
    t->shards_.push_back(std::move(s));
  }
  return t;
}

uint32_t PresenceTable::find_in_shard(const Shard& s, const UserHash& u, uint64_t user,
                                      uint32_t device) const {
  uint32_t g = u.group;
  for (uint32_t step = 0; step < s.group_count; ++step) {
    const uint32_t mask = match_tags(s.tags + static_cast<std::size_t>(g) * kGroupSize, u.tag);
    uint32_t m = mask & 0xffff;
    while (m != 0) {
      const uint32_t i = static_cast<uint32_t>(__builtin_ctz(m));
      m &= m - 1;
      if (s.slots[g * kGroupSize + i].has_key(user, device)) return s.base + g * kGroupSize + i;
    }
    if ((mask >> 16) != 0) return kNoSlot;
    if (++g == s.group_count) g = 0;
  }
  return kNoSlot;
}

uint32_t PresenceTable::find(const UserHash& u, uint64_t user, uint32_t device) const {
  return find_in_shard(*shards_[u.shard], u, user, device);
}

uint32_t PresenceTable::evict_one(Shard& s) {
  for (uint32_t n = 0; n < kEvictScanLimit; ++n) {
    const uint32_t i = s.evict_cursor;
    if (++s.evict_cursor == s.slot_count) s.evict_cursor = 0;
    if ((s.tags[i].load(std::memory_order_relaxed) & 0x80) == 0) continue;
    SessionSlot& slot = s.slots[i];
    if (!SlotState{slot.word.load(std::memory_order_relaxed)}.evictable()) continue;
    uint32_t before = 0;
    if (!try_claim(slot, before, kHomeClaimSpins)) continue;
    if (!SlotState{before}.evictable()) {
      release_unchanged(slot, before);
      continue;
    }
    // If the group still has an EMPTY, no probe path runs through it, so the
    // slot can become EMPTY again; otherwise it must stay a DELETED marker.
    const uint32_t group = i / kGroupSize;
    const bool group_has_empty =
        (match_tags(s.tags + static_cast<std::size_t>(group) * kGroupSize, 0xff) >> 16) != 0;
    s.tags[i].store(group_has_empty ? kTagEmpty : kTagDeleted, std::memory_order_release);
    release_modified(slot, before, 0);
    s.counters.used.sub();
    if (!group_has_empty) s.counters.deleted.add();
    s.counters.evictions.add();
    return i;
  }
  return kNoSlot;
}

uint32_t PresenceTable::insert_claimed(const UserHash& u, uint64_t user, uint32_t device,
                                       uint32_t& word_before, InsertOutcome& outcome) {
  Shard& s = *shards_[u.shard];
  const bool at_capacity = s.counters.used.get() >= s.capacity;
  // One walk of the probe path: the first free (EMPTY/DELETED) slot, and at
  // capacity the first evictable tombstone.
  uint32_t g = u.group;
  uint32_t free_slot = kNoSlot;
  for (uint32_t step = 0; step < s.group_count && free_slot == kNoSlot; ++step) {
    for (uint32_t i = 0; i < kGroupSize; ++i) {
      const uint32_t idx = g * kGroupSize + i;
      const uint8_t tag = s.tags[idx].load(std::memory_order_relaxed);
      if (tag == kTagEmpty || tag == kTagDeleted) {
        if (!at_capacity) {
          free_slot = idx;
          break;
        }
        continue;
      }
      if (!at_capacity) continue;
      SessionSlot& slot = s.slots[idx];
      if (!SlotState{slot.word.load(std::memory_order_relaxed)}.evictable()) continue;
      uint32_t before = 0;
      if (!try_claim(slot, before, kHomeClaimSpins)) continue;
      if (!SlotState{before}.evictable()) {
        release_unchanged(slot, before);
        continue;
      }
      // Reuse the tombstone in place: it lies on this key's probe path.
      slot.set_user(user);
      slot.device.store(device, std::memory_order_relaxed);
      s.tags[idx].store(u.tag, std::memory_order_release);
      s.counters.tombstone_reuses.add();
      s.counters.inserts.add();
      word_before = before;
      outcome = InsertOutcome::kReusedTombstone;
      return s.base + idx;
    }
    if (free_slot == kNoSlot &&
        (match_tags(s.tags + static_cast<std::size_t>(g) * kGroupSize, 0xff) >> 16) != 0) {
      break;  // end of the probe path
    }
    if (++g == s.group_count) g = 0;
  }

  if (at_capacity) {
    if (evict_one(s) == kNoSlot) {
      s.counters.full_rejects.add();
      outcome = InsertOutcome::kFull;
      return kNoSlot;
    }
    // Now below capacity: the path has a free slot (EMPTY or the freed one).
    return insert_claimed(u, user, device, word_before, outcome);
  }
  if (free_slot == kNoSlot) {  // cannot happen below max_load < 1
    s.counters.full_rejects.add();
    outcome = InsertOutcome::kFull;
    return kNoSlot;
  }
  SessionSlot& slot = s.slots[free_slot];
  uint32_t before = 0;
  // A data core may briefly hold a DELETED slot it matched before deletion.
  while (!try_claim(slot, before, kHomeClaimSpins)) {
  }
  slot.set_user(user);
  slot.device.store(device, std::memory_order_relaxed);
  if (s.tags[free_slot].load(std::memory_order_relaxed) == kTagDeleted) s.counters.deleted.sub();
  s.tags[free_slot].store(u.tag, std::memory_order_release);
  s.counters.used.add();
  s.counters.inserts.add();
  word_before = before;
  outcome = InsertOutcome::kInserted;
  return s.base + free_slot;
}

bool PresenceTable::read(uint32_t global, SessionView& out) const {
  const Shard& s = *shards_[global / slots_per_shard_];
  const uint32_t i = global % slots_per_shard_;
  const SessionSlot& slot = s.slots[i];
  for (;;) {
    if ((s.tags[i].load(std::memory_order_acquire) & 0x80) == 0) return false;
    const uint32_t w1 = slot.word.load(std::memory_order_acquire);  // R1
    if ((w1 & slot_bits::kWriting) != 0) {
      cpu_relax();
      continue;
    }
    out.slot = global;
    out.user = slot.user();  // R2
    out.device = slot.device.load(std::memory_order_relaxed);
    out.seq = slot.seq.load(std::memory_order_relaxed);
    out.token_expiry = slot.token_expiry.load(std::memory_order_relaxed);
    out.last_seen_ms = slot.last_seen.load(std::memory_order_relaxed);
    const uint32_t pi = slot.port_interval.load(std::memory_order_relaxed);
    out.interval_s = static_cast<uint16_t>(pi);
    out.addr = NetAddr{};
    out.addr.port = static_cast<uint16_t>(pi >> 16);
    if ((w1 & slot_bits::kIpv6) != 0) {
      out.addr.family = 6;
      for (int k = 0; k < 4; ++k) {
        const uint32_t w = s.v6[i].w[k].load(std::memory_order_relaxed);
        std::memcpy(out.addr.ip.data() + 4 * k, &w, 4);
      }
    } else {
      out.addr.family = 4;
      const uint32_t a = slot.addr.load(std::memory_order_relaxed);
      std::memcpy(out.addr.ip.data(), &a, 4);
    }
    std::atomic_thread_fence(std::memory_order_acquire);  // R3
    if (slot.word.load(std::memory_order_relaxed) == w1) {
      out.state = SlotState{w1};
      return true;
    }
  }
}

std::size_t PresenceTable::read_user(uint64_t user, SessionView* out, std::size_t max) const {
  const UserHash u = hash_user(user);
  const Shard& s = *shards_[u.shard];
  std::size_t n = 0;
  uint32_t g = u.group;
  for (uint32_t step = 0; step < s.group_count && n < max; ++step) {
    const uint32_t mask = match_tags(s.tags + static_cast<std::size_t>(g) * kGroupSize, u.tag);
    uint32_t m = mask & 0xffff;
    while (m != 0 && n < max) {
      const uint32_t i = static_cast<uint32_t>(__builtin_ctz(m));
      m &= m - 1;
      SessionView v;
      if (read(s.base + g * kGroupSize + i, v) && v.user == user) out[n++] = v;
    }
    if ((mask >> 16) != 0) break;
    if (++g == s.group_count) g = 0;
  }
  return n;
}

std::size_t PresenceTable::resident_bytes() const {
  std::size_t n = 0;
  for (const auto& s : shards_) n += s->slots_region.size() + s->tags_region.size();
  return n;
}

std::size_t PresenceTable::reserved_v6_bytes() const {
  std::size_t n = 0;
  for (const auto& s : shards_) n += s->v6_region.size();
  return n;
}

const char* PresenceTable::backing() const {
  return shards_.empty() ? "none" : backing_name(shards_[0]->slots_region.backing());
}

}  // namespace presenced::table
