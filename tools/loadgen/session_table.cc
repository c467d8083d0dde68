#include "tools/loadgen/session_table.h"

#include <cstdlib>
#include <new>
#include <type_traits>
#include <vector>

#include "dataplane/auth/siphash_batch.h"

namespace presenced::loadgen {

static_assert(std::is_trivially_destructible_v<client::Session>,
              "SessionTable frees sessions without running destructors");
static_assert(std::is_copy_assignable_v<client::Session>);

void SessionTable::Free::operator()(void* p) const {
  std::free(p);
}

std::unique_ptr<SessionTable> SessionTable::create(const Layout& layout,
                                                   const auth::MasterKey& master,
                                                   uint32_t token_expiry, wire::Status status,
                                                   std::string* error) {
  std::unique_ptr<SessionTable> t(new SessionTable(layout));
  const uint64_t n = layout.sessions;
  void* raw = std::aligned_alloc(alignof(client::Session),
                                 ((n * sizeof(client::Session) + 63) / 64) * 64);
  t->sessions_storage_.reset(static_cast<client::Session*>(raw));
  t->sessions_ = static_cast<client::Session*>(raw);
  t->sent_us_.reset(new (std::nothrow) uint32_t[n]());
  t->armed_ms_.reset(new (std::nothrow) uint32_t[n]);
  t->flags_.reset(new (std::nothrow) uint8_t[n]());
  t->route_.reset(new (std::nothrow) uint8_t[n]());
  if (raw == nullptr || !t->sent_us_ || !t->armed_ms_ || !t->flags_ || !t->route_) {
    if (error != nullptr) {
      *error = "cannot allocate " + std::to_string(n * kBytesPerSession >> 20) + " MiB for " +
               std::to_string(n) + " sessions";
    }
    return nullptr;
  }
  for (uint64_t i = 0; i < n; ++i) t->armed_ms_[i] = kUnarmed;
  t->fill(0, n, master, token_expiry, status, /*construct=*/true);
  return t;
}

void SessionTable::fill(uint64_t begin, uint64_t end, const auth::MasterKey& master,
                        uint32_t token_expiry, wire::Status status, bool construct) {
  constexpr std::size_t kBatch = 1024;
  std::vector<uint8_t> msgs(kBatch * wire::kKeyInputSize);
  std::vector<const uint8_t*> ptrs(kBatch);
  std::vector<auth::SessionKey> keys(kBatch);
  for (uint64_t i = begin; i < end; i += kBatch) {
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(kBatch, end - i));
    for (std::size_t j = 0; j < n; ++j) {
      uint8_t* m = msgs.data() + j * wire::kKeyInputSize;
      auth::build_key_input(user_of(i + j), device_of(i + j), token_expiry, m);
      ptrs[j] = m;
    }
    auth::siphash128_batch(master, ptrs.data(), wire::kKeyInputSize, n, keys.data());
    for (std::size_t j = 0; j < n; ++j) {
      const client::SessionCredentials c{user_of(i + j), device_of(i + j), token_expiry, keys[j]};
      if (construct) {
        new (&sessions_[i + j]) client::Session(c, status);
      } else {
        sessions_[i + j] = client::Session(c, status);
      }
    }
  }
}

void SessionTable::reset_range(uint64_t begin, uint64_t end, const auth::MasterKey& master,
                               uint32_t token_expiry, wire::Status status) {
  fill(begin, end, master, token_expiry, status, /*construct=*/false);
}

}  // namespace presenced::loadgen
