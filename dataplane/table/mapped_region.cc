#include "dataplane/table/mapped_region.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include <sys/mman.h>

#include <unistd.h>

namespace presenced::table {
namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

constexpr std::size_t kHugePage = 2u << 20;

std::size_t round_up(std::size_t n, std::size_t to) {
  return (n + to - 1) / to * to;
}

void touch_pages(void* p, std::size_t bytes) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  auto* c = static_cast<volatile char*>(p);
  for (std::size_t off = 0; off < bytes; off += page) c[off] = 0;
}

}  // namespace

MappedRegion::~MappedRegion() {
  if (ptr_ != nullptr) munmap(ptr_, bytes_);
}

MappedRegion::MappedRegion(MappedRegion&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)),
      bytes_(std::exchange(o.bytes_, 0)),
      backing_(std::exchange(o.backing_, Backing::kNone)) {}

MappedRegion& MappedRegion::operator=(MappedRegion&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) munmap(ptr_, bytes_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    backing_ = std::exchange(o.backing_, Backing::kNone);
  }
  return *this;
}

bool MappedRegion::map(std::size_t bytes, bool prefault, bool try_hugetlb, std::string* error) {
  if (bytes == 0) bytes = 1;
  if (try_hugetlb && bytes >= kHugePage) {
    const std::size_t len = round_up(bytes, kHugePage);
    void* p =
        mmap(nullptr, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (prefault ? MAP_POPULATE : 0), -1, 0);
    if (p != MAP_FAILED) {
      ptr_ = p;
      bytes_ = len;
      backing_ = Backing::kHugeTlb;
      return true;
    }
  }
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t len = round_up(bytes, page);
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | (prefault ? 0 : MAP_NORESERVE), -1, 0);
  if (p == MAP_FAILED) {
    if (error != nullptr) {
      *error = "cannot map " + std::to_string(len) + " bytes: " + std::strerror(errno);
    }
    return false;
  }
  ptr_ = p;
  bytes_ = len;
  backing_ = Backing::kNormal;
  if (len >= kHugePage && madvise(p, len, MADV_HUGEPAGE) == 0) {
    backing_ = Backing::kTransparentHuge;
  }
  if (prefault && madvise(p, len, MADV_POPULATE_WRITE) != 0) touch_pages(p, len);
  return true;
}

const char* backing_name(MappedRegion::Backing b) {
  switch (b) {
    case MappedRegion::Backing::kHugeTlb:
      return "hugetlb";
    case MappedRegion::Backing::kTransparentHuge:
      return "thp";
    case MappedRegion::Backing::kNormal:
      return "4k";
    case MappedRegion::Backing::kNone:
      break;
  }
  return "none";
}

}  // namespace presenced::table
