// key_file.h: the master key on disk.
//
// Owns: reading a key file (32 hex characters, optionally followed by a
// newline) and creating one (random, mode 0600, never overwriting).
// Concurrency: plain functions; creation is atomic (O_EXCL), so two
// processes racing for the same state directory end up with one key.
#pragma once

#include <string>

#include "dataplane/auth/session_key.h"

namespace presenced::control {

// False with `error` naming the path and the problem.
bool load_master_key(const std::string& path, auth::MasterKey& out, std::string* error);

// Writes a new random key to `path` with mode 0600; fails if it exists.
bool create_master_key(const std::string& path, auth::MasterKey& out, std::string* error);

// The key under `state_dir` (created with mode 0700 if missing): loads
// state_dir/master.key, or creates it once. `path_out` receives its path,
// `created` whether it was new.
bool load_or_create_state_key(const std::string& state_dir, auth::MasterKey& out,
                              std::string& path_out, bool& created, std::string* error);

}  // namespace presenced::control
