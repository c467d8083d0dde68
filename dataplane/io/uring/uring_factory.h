// uring_factory.h: creates the io_uring backend (one ring and one
// SO_REUSEPORT socket per core, multishot recvmsg into a registered
// provided-buffer ring). Exposes no liburing type.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataplane/io/io_backend.h"

namespace presenced::io {

std::vector<std::unique_ptr<IoBackend>> create_uring_backends(const BackendOptions& options,
                                                              std::string* error);

}  // namespace presenced::io
