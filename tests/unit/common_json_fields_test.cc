// Tests of the shared JSON field readers: each rule's wording and the path it names, which the
// zone, health-check and config loaders (and the tests that compare their errors) rely on.
#include "common/json_fields.h"

#include <string>

#include <gtest/gtest.h>

namespace meridian {
namespace {

using nlohmann::json;

TEST(JsonFieldsTest, UnknownFieldNamesItsPath) {
  const json object = {{"Name", "a"}, {"Nmae", "b"}};
  auto s = reject_unknown_fields(object, "/Changes/0", {"Name", "Type"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().to_string(), "/Changes/0/Nmae: unknown field");
  EXPECT_TRUE(reject_unknown_fields(object, "", {"Name", "Nmae"}).ok());
}

TEST(JsonFieldsTest, StringAndBool) {
  EXPECT_EQ(*read_json_string(json("x"), "/a"), "x");
  EXPECT_EQ(read_json_string(json(1), "/a").error().to_string(), "/a: must be a string");
  EXPECT_TRUE(*read_json_bool(json(true), "/b"));
  EXPECT_EQ(read_json_bool(json("true"), "/b").error().to_string(), "/b: must be true or false");
}

TEST(JsonFieldsTest, IntegerInRange) {
  EXPECT_EQ(*read_json_integer(json(-99), "/Bias", -99, 99), -99);
  EXPECT_EQ(*read_json_integer(json(99), "/Bias", -99, 99), 99);
  for (const json& bad : {json(1.5), json("1"), json(nullptr)}) {
    auto v = read_json_integer(bad, "/Bias", -99, 99);
    ASSERT_FALSE(v.ok()) << bad.dump();
    EXPECT_EQ(v.error().to_string(), "/Bias: must be an integer -99..99");
  }
  // Out of range: the value is named too.
  EXPECT_EQ(read_json_integer(json(100), "/Bias", -99, 99).error().to_string(),
            "/Bias: must be an integer -99..99 (got 100)");
  EXPECT_EQ(read_json_integer(json(-100), "/Bias", -99, 99).error().to_string(),
            "/Bias: must be an integer -99..99 (got -100)");
  // A value past int64 (TTL 2^64-1) is refused for a range from 0.
  EXPECT_FALSE(read_json_integer(json(UINT64_MAX), "/TTL", 0, 2147483647).ok());
  // ... and where it would wrap into the range: 2^64-1 is not -1, 2^64-99 is not -99.
  EXPECT_FALSE(read_json_integer(json::parse("18446744073709551615"), "/Bias", -99, 99).ok());
  EXPECT_FALSE(read_json_integer(json::parse("18446744073709551517"), "/Bias", -99, 99).ok());
  EXPECT_EQ(*read_json_integer(json::parse("9223372036854775807"), "/N", 0, INT64_MAX), INT64_MAX);
}

}  // namespace
}  // namespace meridian
