// presencectl's building blocks (tools/ctl): the SSE parser, endpoint
// parsing, tables and the human renderings (which must never throw, even
// on JSON of an unexpected shape).
#include <gtest/gtest.h>

#include "tools/ctl/client.h"
#include "tools/ctl/format.h"
#include "tools/ctl/sse_parser.h"

namespace presenced::ctl {
namespace {

std::vector<SseEvent> parse_all(const std::vector<std::string>& pieces) {
  SseParser p;
  std::vector<SseEvent> out;
  for (const std::string& piece : pieces) {
    p.feed(piece, [&](const SseEvent& e) { out.push_back(e); });
  }
  return out;
}

TEST(SseParserTest, EventsIdsCommentsAndResets) {
  const auto ev =
      parse_all({"retry: 1000\n: hello\n\nid: 1\nevent: online\ndata: {\"a\":1}\n\n"
                 ":keepalive\n\nevent: reset\ndata: {\"reason\":\"backlog\"}\n\n"});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].id, "1");
  EXPECT_EQ(ev[0].type, "online");
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
  EXPECT_EQ(ev[1].type, "reset");
  EXPECT_FALSE(ev[1].id.has_value());
}

TEST(SseParserTest, PiecesSplitAnywhereAndAnyLineEnding) {
  const std::string text = "id: 7\r\nevent: status\r\ndata: x\r\ndata: y\r\n\r\nid:8\rdata:z\r\r";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    const auto ev = parse_all({text.substr(0, cut), text.substr(cut)});
    ASSERT_EQ(ev.size(), 2u) << cut;
    EXPECT_EQ(ev[0].id, "7");
    EXPECT_EQ(ev[0].type, "status");
    EXPECT_EQ(ev[0].data, "x\ny");
    EXPECT_EQ(ev[1].id, "8");
    EXPECT_EQ(ev[1].type, "message");
    EXPECT_EQ(ev[1].data, "z");
  }
  // Byte by byte.
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(parse_all(bytes).size(), 2u);
}

TEST(SseParserTest, NoDataNoEvent) {
  EXPECT_TRUE(parse_all({"id: 3\nevent: online\n\n"}).empty());
  EXPECT_TRUE(parse_all({"data: incomplete\n"}).empty());
}

TEST(EndpointTest, Forms) {
  Endpoint e;
  std::string error;
  ASSERT_TRUE(parse_endpoint("127.0.0.1:7461", e, &error)) << error;
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 7461);
  ASSERT_TRUE(parse_endpoint("[::1]:80", e, &error));
  EXPECT_EQ(e.host, "::1");
  ASSERT_TRUE(parse_endpoint("http://localhost:8080/", e, &error));
  EXPECT_EQ(e.host, "localhost");
  EXPECT_EQ(e.port, 8080);
  for (const char* bad :
       {"", "7461", ":7461", "host:", "host:0", "host:65536", "::1:80", "host:80x", "[::1:80"}) {
    EXPECT_FALSE(parse_endpoint(bad, e, &error)) << bad;
  }
}

TEST(TableTest, AlignsColumns) {
  Table t({"NAME", "COUNT"}, {false, true});
  t.add({"a", "1"});
  t.add({"long-name", "12345"});
  EXPECT_EQ(t.render(),
            "NAME       COUNT\n"
            "a              1\n"
            "long-name  12345\n");
}

TEST(FormatTest, TimesDurationsCounts) {
  EXPECT_EQ(format_time_ms(1'800'000'000'123), "2027-01-15T08:00:00.123Z");
  EXPECT_EQ(format_time_ms(0), "-");
  EXPECT_EQ(format_duration_ms(1500), "1.5s");
  EXPECT_EQ(format_duration_ms(83'000), "1m23s");
  EXPECT_EQ(format_duration_ms(3'600'000 * 2 + 60'000 * 5), "2h05m");
  EXPECT_EQ(format_duration_ms(86'400'000ULL * 3), "3d00h");
  EXPECT_EQ(format_count(42), "42");
  EXPECT_EQ(format_count(12'345), "12.3k");
  EXPECT_EQ(format_count(12'345'678), "12.3M");
}

TEST(FormatTest, RenderingsTolerateAnyJson) {
  for (const char* text : {"{}", "[]", "null", "42", "\"x\"", R"({"cores":5,"total":[1]})",
                           R"({"devices":{"a":1},"online":"yes","last_seen_ms":"x"})",
                           R"({"drain":7,"stream":[],"cores":[1,2,{"core":"x"}]})"}) {
    const Json j = Json::parse(text);
    EXPECT_NO_THROW(render_status(j)) << text;
    EXPECT_NO_THROW(render_top(j, &j, 1.0)) << text;
    EXPECT_NO_THROW(render_user(j, 0)) << text;
    EXPECT_NO_THROW(render_users({1, 2}, j, 0)) << text;
    EXPECT_NO_THROW(render_config(j)) << text;
    EXPECT_NO_THROW(render_drain(j)) << text;
    EXPECT_NO_THROW(render_event("1", "online", j)) << text;
    EXPECT_NO_THROW(render_reset(j)) << text;
  }
}

TEST(FormatTest, UsersInRequestOrderWithUnknowns) {
  const Json found = Json::parse(
      R"([{"user":5,"online":true,"status":"busy","last_seen_ms":1800000000000,"devices":[{}]}])");
  const std::string text = render_users({7, 5}, found, 1'800'000'001'000);
  const auto unknown = text.find("unknown");
  const auto busy = text.find("busy");
  ASSERT_NE(unknown, std::string::npos) << text;
  ASSERT_NE(busy, std::string::npos) << text;
  EXPECT_LT(unknown, busy) << text;
  EXPECT_NE(text.find("1.0s ago"), std::string::npos) << text;
}

}  // namespace
}  // namespace presenced::ctl
