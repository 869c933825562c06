// Tests of the period reader shared by master-file TTLs and SOA timers: units, limits, and the
// one difference between the two callers (a unit straight after a unit).
#include "dns/period.h"

#include <gtest/gtest.h>

namespace meridian::dns {
namespace {

uint32_t seconds_of(std::string_view text, bool unit_needs_number = true) {
  uint32_t seconds = 0;
  EXPECT_EQ(parse_period_seconds(text, unit_needs_number, &seconds), PeriodStatus::kOk) << text;
  return seconds;
}

TEST(PeriodTest, SecondsAndUnits) {
  EXPECT_EQ(seconds_of("0"), 0u);
  EXPECT_EQ(seconds_of("3600"), 3600u);
  EXPECT_EQ(seconds_of("1h30m"), 5400u);
  EXPECT_EQ(seconds_of("2D"), 172800u);
  EXPECT_EQ(seconds_of("1w1s"), 604801u);
  EXPECT_EQ(seconds_of("4294967295"), 4294967295u);
}

TEST(PeriodTest, TooLargeAndBad) {
  uint32_t seconds = 0;
  EXPECT_EQ(parse_period_seconds("4294967296", true, &seconds), PeriodStatus::kTooLarge);
  EXPECT_EQ(parse_period_seconds("7102w", true, &seconds), PeriodStatus::kTooLarge);
  EXPECT_EQ(parse_period_seconds("1x", true, &seconds), PeriodStatus::kBad);
  EXPECT_EQ(parse_period_seconds("-1", false, &seconds), PeriodStatus::kBad);
}

TEST(PeriodTest, UnitAfterUnitOnlyWhenAllowed) {
  uint32_t seconds = 0;
  EXPECT_EQ(parse_period_seconds("1hm", true, &seconds), PeriodStatus::kBad);
  EXPECT_EQ(parse_period_seconds("h", true, &seconds), PeriodStatus::kBad);
  EXPECT_EQ(seconds_of("1hm", false), 3600u);
}

}  // namespace
}  // namespace meridian::dns
