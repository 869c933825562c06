// Tests of parse_json's nesting bound: the scan counts only brackets outside strings and
// comments, refuses the first level past the limit with its offset, and leaves every valid
// document within the limit to the parser.
#include "common/json_parse.h"

#include <string>

#include <gtest/gtest.h>

namespace meridian {
namespace {

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonParseTest, DepthAtTheLimitParsesOneMoreIsRefusedWithTheOffset) {
  auto at_limit = parse_json(nested(kMaxJsonDepth));
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().what;
  auto over = parse_json(nested(kMaxJsonDepth + 1));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().what, "JSON nested deeper than 64 levels (at byte 64)");
  // Millions deep is refused as fast as 65 deep: the scan stops at the first violation.
  EXPECT_FALSE(parse_json(nested(4000000)).ok());
  EXPECT_FALSE(parse_json(std::string(4000000, '{')).ok());
}

TEST(JsonParseTest, BracketsInStringsAndCommentsDoNotCount) {
  const std::string in_string = "[\"" + std::string(1000, '[') + "\\\"" + "\"]";
  auto s = parse_json(in_string);
  ASSERT_TRUE(s.ok()) << s.error().what;
  EXPECT_EQ((*s)[0].get<std::string>().size(), 1001u);
  const std::string in_comment =
      "// " + std::string(100, '{') + "\n/* " + std::string(100, '[') + " */ {\"a\": 1}";
  auto c = parse_json(in_comment, /*comments=*/true);
  ASSERT_TRUE(c.ok()) << c.error().what;
  EXPECT_EQ((*c)["a"], 1);
  EXPECT_FALSE(parse_json(in_comment, /*comments=*/false).ok());  // comments are not JSON
}

TEST(JsonParseTest, ParserErrorsAreCutShort) {
  auto e = parse_json("[\"" + std::string(100000, 'x'));  // an unterminated string
  ASSERT_FALSE(e.ok());
  EXPECT_LE(e.error().what.size(), 210u) << e.error().what;
  EXPECT_FALSE(parse_json("").ok());
  EXPECT_FALSE(parse_json("1e999").ok());
}

}  // namespace
}  // namespace meridian
