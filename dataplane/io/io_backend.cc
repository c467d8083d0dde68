#include "dataplane/io/io_backend.h"

#include "dataplane/io/socket/socket_factory.h"
#if PRESENCED_HAVE_URING
#include "dataplane/io/uring/uring_factory.h"
#endif
#if PRESENCED_HAVE_DPDK
#include "dataplane/io/dpdk/dpdk_factory.h"
#endif

namespace presenced::io {

const char* backend_name(BackendKind k) {
  switch (k) {
    case BackendKind::kSocket:
      return "socket";
    case BackendKind::kUring:
      return "uring";
    case BackendKind::kDpdk:
      return "dpdk";
  }
  return "invalid";
}

bool parse_backend_kind(const std::string& s, BackendKind& out) {
  for (BackendKind k : {BackendKind::kSocket, BackendKind::kUring, BackendKind::kDpdk}) {
    if (s == backend_name(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

bool backend_available(BackendKind k, [[maybe_unused]] std::string* why_not) {
  switch (k) {
    case BackendKind::kSocket:
      return true;
    case BackendKind::kUring:
#if PRESENCED_HAVE_URING
      return true;
#else
      if (why_not != nullptr) *why_not = PRESENCED_URING_OFF_REASON;
      return false;
#endif
    case BackendKind::kDpdk:
#if PRESENCED_HAVE_DPDK
      return true;
#else
      if (why_not != nullptr) *why_not = PRESENCED_DPDK_OFF_REASON;
      return false;
#endif
  }
  return false;
}

std::vector<std::unique_ptr<IoBackend>> create_backends(const BackendOptions& options,
                                                        std::string* error) {
  std::string why;
  if (!backend_available(options.kind, &why)) {
    if (error != nullptr) {
      *error = std::string("the ") + backend_name(options.kind) +
               " backend is not in this build: " + why;
    }
    return {};
  }
  switch (options.kind) {
    case BackendKind::kSocket:
      return create_socket_backends(options, error);
#if PRESENCED_HAVE_URING
    case BackendKind::kUring:
      return create_uring_backends(options, error);
#endif
#if PRESENCED_HAVE_DPDK
    case BackendKind::kDpdk:
      return create_dpdk_backends(options, error);
#endif
    default:
      break;
  }
  return {};
}

}  // namespace presenced::io
