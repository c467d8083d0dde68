// Tests of client/rng.h.
#include "client/rng.h"

#include <vector>

#include <gtest/gtest.h>

namespace presenced::client {
namespace {

TEST(RngTest, SameSeedSameSequence) {
  Rng a{123}, b{123}, c{124};
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(RngTest, ZeroSeedIsUsable) {
  Rng r{0};
  EXPECT_NE(r.next(), r.next());
}

TEST(RngTest, BelowStaysInRangeAndCoversIt) {
  Rng r{9};
  EXPECT_EQ(r.below(0), 0u);
  EXPECT_EQ(r.below(1), 0u);
  std::vector<int> hist(10, 0);
  for (int i = 0; i < 10000; ++i) {
    const uint32_t v = r.below(10);
    ASSERT_LT(v, 10u);
    ++hist[v];
  }
  for (int h : hist) EXPECT_NEAR(h, 1000, 150);
  for (int i = 0; i < 1000; ++i) ASSERT_LT(r.below(UINT32_MAX), UINT32_MAX);
}

}  // namespace
}  // namespace presenced::client
