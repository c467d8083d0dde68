#include "dataplane/table/user_presence.h"

#include <gtest/gtest.h>

namespace presenced::table {
namespace {

using wire::Status;

UserPresence fold(std::initializer_list<std::pair<bool, Status>> sessions) {
  UserPresenceFold f;
  for (const auto& [online, status] : sessions) f.add(online, status);
  return f.result();
}

TEST(UserPresenceTest, NoSessionsIsOffline) {
  EXPECT_FALSE(fold({}).online);
}

TEST(UserPresenceTest, TwoDevicesEitherOnlineMakesUserOnline) {
  EXPECT_TRUE(fold({{true, Status::kAway}, {false, Status::kBusy}}).online);
  EXPECT_EQ(fold({{true, Status::kAway}, {false, Status::kBusy}}).status, Status::kAway);
  EXPECT_FALSE(fold({{false, Status::kAway}, {false, Status::kBusy}}).online);
}

TEST(UserPresenceTest, InvisibleHides) {
  EXPECT_FALSE(fold({{true, Status::kInvisible}}).online);
  EXPECT_FALSE(fold({{true, Status::kInvisible}, {false, Status::kAvailable}}).online);
  const UserPresence p = fold({{true, Status::kInvisible}, {true, Status::kAway}});
  EXPECT_TRUE(p.online);
  EXPECT_EQ(p.status, Status::kAway);
}

TEST(UserPresenceTest, StatusPrecedenceBusyOverAvailableOverAway) {
  EXPECT_EQ(fold({{true, Status::kAway}, {true, Status::kAvailable}}).status, Status::kAvailable);
  EXPECT_EQ(fold({{true, Status::kAvailable}, {true, Status::kAway}}).status, Status::kAvailable);
  EXPECT_EQ(fold({{true, Status::kAvailable}, {true, Status::kBusy}, {true, Status::kAway}}).status,
            Status::kBusy);
  EXPECT_EQ(fold({{true, Status::kBusy}, {true, Status::kAvailable}}).status, Status::kBusy);
}

}  // namespace
}  // namespace presenced::table
