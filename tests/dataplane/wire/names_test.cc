// names_test.cc: the text names of Status and ReconnectReason (wire/names.h).
#include "dataplane/wire/names.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace presenced::wire {
namespace {

TEST(NamesTest, StatusNamesRoundTripAndAreDistinct) {
  std::set<std::string> seen;
  for (uint8_t v = 0; v <= kMaxStatus; ++v) {
    const auto s = static_cast<Status>(v);
    const std::string_view name = status_name(s);
    EXPECT_TRUE(seen.insert(std::string(name)).second) << name;
    Status back = Status::kInvisible;
    ASSERT_TRUE(parse_status(name, back)) << name;
    EXPECT_EQ(back, s);
  }
  EXPECT_EQ(status_name(Status::kBusy), "busy");
  Status out = Status::kAway;
  EXPECT_FALSE(parse_status("Busy", out));
  EXPECT_FALSE(parse_status("", out));
  EXPECT_FALSE(parse_status("invalid", out));
  EXPECT_EQ(out, Status::kAway);
}

TEST(NamesTest, ReconnectReasonNamesRoundTrip) {
  std::set<std::string> seen;
  for (uint8_t v = 1; v <= 4; ++v) {
    const auto r = static_cast<ReconnectReason>(v);
    const std::string_view name = reconnect_reason_name(r);
    EXPECT_TRUE(seen.insert(std::string(name)).second) << name;
    ReconnectReason back = ReconnectReason::kDrain;
    ASSERT_TRUE(parse_reconnect_reason(name, back)) << name;
    EXPECT_EQ(back, r);
  }
  EXPECT_EQ(reconnect_reason_name(ReconnectReason::kOverload), "overload");
  ReconnectReason out = ReconnectReason::kDrain;
  EXPECT_FALSE(parse_reconnect_reason("unknown", out));
  EXPECT_EQ(reconnect_reason_name(static_cast<ReconnectReason>(9)), "unknown");
}

}  // namespace
}  // namespace presenced::wire
