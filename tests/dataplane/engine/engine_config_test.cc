#include "dataplane/engine/engine_config.h"

#include <gtest/gtest.h>

namespace presenced::engine {
namespace {

TEST(EngineConfigTest, DefaultsAreValidAndMatchTheSpec) {
  const EngineConfig c;
  EXPECT_FALSE(validate(c).has_value());
  EXPECT_EQ(c.interval_s, 30u);
  EXPECT_EQ(c.miss_limit, 3u);
  EXPECT_EQ(c.grace_ms, 2000u);
  EXPECT_EQ(c.linger_ms, 5000u);
  EXPECT_EQ(timeout_ms(c, 30), 92000u);
}

TEST(EngineConfigTest, ErrorsNameTheFieldAndRange) {
  auto bad = [](auto mutate) {
    EngineConfig c;
    mutate(c);
    return validate(c).value_or("");
  };
  EXPECT_NE(bad([](EngineConfig& c) { c.miss_limit = 0; }).find("miss_limit must be in [1, 10]"),
            std::string::npos);
  EXPECT_NE(bad([](EngineConfig& c) { c.interval_s = 5000; }).find("interval"), std::string::npos);
  EXPECT_NE(bad([](EngineConfig& c) { c.linger_ms = 70000; }).find("linger"), std::string::npos);
  EXPECT_NE(bad([](EngineConfig& c) { c.tick_ms = 0; }).find("tick"), std::string::npos);
  EXPECT_NE(bad([](EngineConfig& c) { c.grace_ms = 700000; }).find("grace"), std::string::npos);
  EXPECT_NE(bad([](EngineConfig& c) { c.min_interval_s = 100; }).find("min_interval"),
            std::string::npos);
  EXPECT_NE(bad([](EngineConfig& c) { c.interval_s = 5; }).find("interval"), std::string::npos);
}

TEST(EngineConfigTest, AdvisedIntervalStretchesWithLoadWithinBounds) {
  EngineConfig c;
  c.interval_s = 30;
  c.min_interval_s = 10;
  c.max_interval_s = 300;
  c.heartbeat_budget = 1000;
  EXPECT_EQ(advised_interval_s(c, 0), 30u);
  EXPECT_EQ(advised_interval_s(c, 30000), 30u);  // exactly at budget
  EXPECT_EQ(advised_interval_s(c, 30001), 31u);
  EXPECT_EQ(advised_interval_s(c, 100000), 100u);
  EXPECT_EQ(advised_interval_s(c, 10'000'000), 300u);  // capped
  c.heartbeat_budget = 0;
  EXPECT_EQ(advised_interval_s(c, 10'000'000), 30u);  // no budget
}

}  // namespace
}  // namespace presenced::engine
