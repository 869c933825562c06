// Tests of the shared "ADDRESS/LENGTH" reader: the facts it finds for good and bad text, which
// the config file and the policy tables turn into their own errors.
#include "common/prefix_text.h"

#include <gtest/gtest.h>

namespace meridian {
namespace {

TEST(PrefixTextTest, ReadsBothFamiliesAndPrintsCanonically) {
  const PrefixText v4 = read_prefix_text("198.18.0.0/15");
  ASSERT_TRUE(v4.has_slash && v4.address_ok && v4.length);
  EXPECT_FALSE(v4.ipv6);
  EXPECT_EQ(*v4.length, 15u);
  EXPECT_FALSE(v4.bits_past_length());
  EXPECT_EQ(v4.to_string(), "198.18.0.0/15");
  const PrefixText v6 = read_prefix_text("FD00:18:0::/48");
  ASSERT_TRUE(v6.address_ok && v6.length);
  EXPECT_TRUE(v6.ipv6);
  EXPECT_EQ(v6.to_string(), "fd00:18::/48");
}

TEST(PrefixTextTest, SaysWhatIsWrong) {
  EXPECT_FALSE(read_prefix_text("198.18.0.0").has_slash);
  const PrefixText bad_address = read_prefix_text("198.18.0/15");
  EXPECT_TRUE(bad_address.has_slash);
  EXPECT_FALSE(bad_address.address_ok);
  EXPECT_TRUE(bad_address.length.has_value());
  for (const char* length : {"198.18.0.0/", "198.18.0.0/x", "198.18.0.0/-0", "198.18.0.0/15 "}) {
    const PrefixText p = read_prefix_text(length);
    EXPECT_TRUE(p.address_ok) << length;
    EXPECT_FALSE(p.length.has_value()) << length;
  }
  EXPECT_TRUE(read_prefix_text("198.18.0.1/24").bits_past_length());
  EXPECT_TRUE(read_prefix_text("fd00:18::1/127").bits_past_length());
  EXPECT_FALSE(read_prefix_text("fd00:18::1/128").bits_past_length());
}

}  // namespace
}  // namespace meridian
