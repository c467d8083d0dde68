// socket_factory.h: creates the portable recvmmsg/sendmmsg backend (the
// fallback on any Linux, and the baseline benchmarks compare against).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataplane/io/io_backend.h"

namespace presenced::io {

std::vector<std::unique_ptr<IoBackend>> create_socket_backends(const BackendOptions& options,
                                                               std::string* error);

}  // namespace presenced::io
