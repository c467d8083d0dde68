// mapped_region.h: one anonymous memory mapping, allocated once.
//
// Owns: the mapping (unmapped by the destructor). Tries explicit hugepages
// (MAP_HUGETLB) when asked and the size warrants it, falls back to normal
// pages with transparent-hugepage advice. `prefault` backs every page at
// creation so the data plane never takes a page fault later; without it the
// kernel backs pages on first touch (used for sparse side arrays).
// Concurrency: immutable after construction.
#pragma once

#include <cstddef>
#include <string>

namespace presenced::table {

class MappedRegion {
 public:
  enum class Backing { kNone, kHugeTlb, kTransparentHuge, kNormal };

  MappedRegion() = default;
  ~MappedRegion();
  MappedRegion(MappedRegion&& o) noexcept;
  MappedRegion& operator=(MappedRegion&& o) noexcept;
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  // Returns false and sets `error` (naming the size) when the mapping fails.
  bool map(std::size_t bytes, bool prefault, bool try_hugetlb, std::string* error);

  void* data() const { return ptr_; }
  std::size_t size() const { return bytes_; }
  Backing backing() const { return backing_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  Backing backing_ = Backing::kNone;
};

const char* backing_name(MappedRegion::Backing b);

}  // namespace presenced::table
