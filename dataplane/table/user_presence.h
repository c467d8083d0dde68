// user_presence.h: how the sessions of one user make up the user's presence.
//
// Owns: the presence model of PROTOCOL.md, as a pure fold over sessions:
// a user is ONLINE when at least one ONLINE session has a status other than
// INVISIBLE; its status is the highest of those sessions' statuses in the
// order BUSY > AVAILABLE > AWAY. Concurrency: value types only.
#pragma once

#include "dataplane/wire/protocol.h"

namespace presenced::table {

struct UserPresence {
  bool online = false;
  wire::Status status = wire::Status::kAway;  // meaningful only when online

  friend bool operator==(const UserPresence&, const UserPresence&) = default;
};

// Rank used for precedence; INVISIBLE ranks below everything and never
// makes a user online.
constexpr int status_rank(wire::Status s) {
  switch (s) {
    case wire::Status::kBusy:
      return 3;
    case wire::Status::kAvailable:
      return 2;
    case wire::Status::kAway:
      return 1;
    case wire::Status::kInvisible:
      return 0;
  }
  return 0;
}

class UserPresenceFold {
 public:
  void add(bool session_online, wire::Status s) {
    if (!session_online || s == wire::Status::kInvisible) return;
    if (!p_.online || status_rank(s) > status_rank(p_.status)) p_.status = s;
    p_.online = true;
  }
  UserPresence result() const { return p_; }

 private:
  UserPresence p_;
};

}  // namespace presenced::table
