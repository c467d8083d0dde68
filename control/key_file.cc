#include "control/key_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <sys/random.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

namespace presenced::control {

bool load_master_key(const std::string& path, auth::MasterKey& out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error != nullptr)
      *error = "cannot read master key file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (!auth::parse_master_key_hex(ss.str(), out)) {
    if (error != nullptr) {
      *error = "master key file " + path + " must hold exactly 32 hex characters (16 bytes)";
    }
    return false;
  }
  return true;
}

bool create_master_key(const std::string& path, auth::MasterKey& out, std::string* error) {
  if (getrandom(out.bytes.data(), out.bytes.size(), 0) != static_cast<ssize_t>(out.bytes.size())) {
    if (error != nullptr) *error = std::string("getrandom: ") + std::strerror(errno);
    return false;
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (error != nullptr) *error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  const std::string text = auth::master_key_to_hex(out) + "\n";
  const bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    if (error != nullptr) *error = "cannot write " + path + ": " + std::strerror(errno);
    unlink(path.c_str());
  }
  return ok;
}

bool load_or_create_state_key(const std::string& state_dir, auth::MasterKey& out,
                              std::string& path_out, bool& created, std::string* error) {
  if (mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    if (error != nullptr) {
      *error = "cannot create state directory " + state_dir + ": " + std::strerror(errno);
    }
    return false;
  }
  path_out = state_dir + "/master.key";
  created = false;
  if (access(path_out.c_str(), F_OK) == 0) return load_master_key(path_out, out, error);
  if (create_master_key(path_out, out, error)) {
    created = true;
    return true;
  }
  // Lost a race with another process creating it: use theirs.
  if (errno == EEXIST) return load_master_key(path_out, out, error);
  return false;
}

}  // namespace presenced::control
