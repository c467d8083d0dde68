// Tests of client/endpoint.h: parsing, formatting and RECONNECT targets.
#include "client/endpoint.h"

#include <gtest/gtest.h>

namespace presenced::client {
namespace {

using wire::TargetFamily;

TEST(EndpointTest, ParsesIpv4WithAndWithoutPort) {
  Endpoint e;
  ASSERT_TRUE(parse_endpoint("127.0.0.1:7461", 7460, e));
  EXPECT_EQ(e.family, TargetFamily::kIpv4);
  EXPECT_EQ(e.port, 7461);
  EXPECT_EQ(e.address[0], 127);
  EXPECT_EQ(e.address[3], 1);
  EXPECT_EQ(e.address[4], 0);
  ASSERT_TRUE(parse_endpoint("10.1.2.3", 7460, e));
  EXPECT_EQ(e.port, 7460);
  EXPECT_EQ(to_string(e), "10.1.2.3:7460");
}

TEST(EndpointTest, ParsesIpv6Forms) {
  Endpoint e;
  ASSERT_TRUE(parse_endpoint("[::1]:7460", 1, e));
  EXPECT_EQ(e.family, TargetFamily::kIpv6);
  EXPECT_EQ(e.port, 7460);
  EXPECT_EQ(e.address[15], 1);
  EXPECT_EQ(to_string(e), "[::1]:7460");
  ASSERT_TRUE(parse_endpoint("[2001:db8::5]", 9, e));
  EXPECT_EQ(e.port, 9);
  EXPECT_EQ(to_string(e), "[2001:db8::5]:9");
  ASSERT_TRUE(parse_endpoint("fe80::2", 9, e));
  EXPECT_EQ(e.family, TargetFamily::kIpv6);
}

TEST(EndpointTest, RejectsMalformed) {
  Endpoint e;
  for (const char* bad :
       {"", ":7460", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:12x", "[::1",
        "[::1]7460", "[::1]:", "256.0.0.1:1", "[127.0.0.1]:5", "host.example:7460", "1.2.3.4:-1"}) {
    EXPECT_FALSE(parse_endpoint(bad, 7460, e)) << bad;
  }
}

TEST(EndpointTest, RedirectSameServerKeepsCurrent) {
  Endpoint cur;
  ASSERT_TRUE(parse_endpoint("192.0.2.1:7460", 7460, cur));
  Endpoint target;
  target.family = TargetFamily::kSameServer;
  target.port = 9999;  // ignored: same server
  EXPECT_EQ(apply_redirect(cur, target), cur);
}

TEST(EndpointTest, RedirectPortZeroMeansSamePort) {
  Endpoint cur;
  ASSERT_TRUE(parse_endpoint("192.0.2.1:7461", 7460, cur));
  Endpoint target;
  target.family = TargetFamily::kIpv4;
  target.address = {198, 51, 100, 7, 0xff, 0xff};  // bytes past 4 are not used
  target.port = 0;
  const Endpoint next = apply_redirect(cur, target);
  EXPECT_EQ(to_string(next), "198.51.100.7:7461");
  target.port = 8000;
  EXPECT_EQ(to_string(apply_redirect(cur, target)), "198.51.100.7:8000");
}

TEST(EndpointTest, RedirectAcrossFamilies) {
  Endpoint cur;
  ASSERT_TRUE(parse_endpoint("192.0.2.1:7460", 7460, cur));
  Endpoint v6;
  ASSERT_TRUE(parse_endpoint("[2001:db8::1]:0", 7460, v6) == false);  // port 0 is not an address
  ASSERT_TRUE(parse_endpoint("[2001:db8::1]", 7460, v6));
  v6.port = 0;
  EXPECT_EQ(to_string(apply_redirect(cur, v6)), "[2001:db8::1]:7460");
}

}  // namespace
}  // namespace presenced::client
