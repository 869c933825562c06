// Unit tests of the "rrl" section of meridiand's configuration: defaults, every key, ranges, the
// allow list (canonical, duplicates, bad prefixes), and errors that name the JSON path.
#include <gtest/gtest.h>

#include <string>

#include "config/daemon_config.h"

namespace meridian::config {
namespace {

Result<DaemonConfig> parse(const std::string& rrl) {
  const std::string text = R"({"listen": ["127.0.0.1:53"], "zones": [])" +
                           (rrl.empty() ? std::string() : ", \"rrl\": " + rrl) + "}";
  return parse_daemon_config(text, "test.json", "/etc/meridian");
}

TEST(RrlConfig, OffByDefault) {
  auto c = parse("");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->rrl, RrlSettings{});
  EXPECT_EQ(c->rrl.responses_per_second, 0u);
  EXPECT_EQ(c->rrl.slip, 2u);
  EXPECT_EQ(c->rrl.ipv4_prefix_length, 24u);
  EXPECT_EQ(c->rrl.ipv6_prefix_length, 56u);
  EXPECT_TRUE(c->rrl.allow.empty());
  auto empty = parse("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->rrl, RrlSettings{});
}

TEST(RrlConfig, EveryKey) {
  auto c = parse(R"({"responses_per_second": 5, "burst": 20, "slip": 3, "ipv4_prefix_length": 22,
                    "ipv6_prefix_length": 48, "table_size": 4096,
                    "allow": ["198.18.0.0/15", "fd00:18::/64", "127.0.0.1/32"]})");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->rrl.responses_per_second, 5u);
  EXPECT_EQ(c->rrl.burst, 20u);
  EXPECT_EQ(c->rrl.slip, 3u);
  EXPECT_EQ(c->rrl.ipv4_prefix_length, 22u);
  EXPECT_EQ(c->rrl.ipv6_prefix_length, 48u);
  EXPECT_EQ(c->rrl.table_size, 4096u);
  EXPECT_EQ(c->rrl.allow,
            (std::vector<std::string>{"198.18.0.0/15", "fd00:18::/64", "127.0.0.1/32"}));
}

TEST(RrlConfig, ErrorsNameThePlace) {
  const struct {
    const char* rrl;
    const char* where;
    const char* what;
  } rows[] = {
      {R"([])", "test.json: /rrl", "must be an object"},
      {R"({"rate": 5})", "test.json: /rrl/rate", "unknown key"},
      {R"({"responses_per_second": -1})", "test.json: /rrl/responses_per_second", "integer"},
      {R"({"responses_per_second": 1000001})", "test.json: /rrl/responses_per_second",
       "must be an integer 0..1000000 (got 1000001)"},
      {R"({"slip": 11})", "test.json: /rrl/slip", "must be an integer 0..10 (got 11)"},
      {R"({"slip": "2"})", "test.json: /rrl/slip", "integer"},
      {R"({"ipv4_prefix_length": 33})", "test.json: /rrl/ipv4_prefix_length",
       "must be an integer 1..32 (got 33)"},
      {R"({"ipv6_prefix_length": 0})", "test.json: /rrl/ipv6_prefix_length",
       "must be an integer 1..128 (got 0)"},
      {R"({"table_size": 10})", "test.json: /rrl/table_size",
       "must be an integer 1024..16777216 (got 10)"},
      {R"({"allow": "198.18.0.0/15"})", "test.json: /rrl/allow", "array"},
      {R"({"allow": ["198.18.0.0"]})", "test.json: /rrl/allow/0", "ADDRESS/LENGTH"},
      {R"({"allow": ["198.18.0.1/15"]})", "test.json: /rrl/allow/0", "bits set past"},
      {R"({"allow": ["example.com/8"]})", "test.json: /rrl/allow/0", "not an IPv4 or IPv6"},
      {R"({"allow": [5]})", "test.json: /rrl/allow/0", "string"},
      {R"({"allow": ["198.18.0.0/15", "198.18.0.0/15"]})", "test.json: /rrl/allow/1",
       "duplicate prefix 198.18.0.0/15 (also /rrl/allow/0)"},
      {R"({"allow": ["fd00:18::/64", "FD00:18:0::/64"]})", "test.json: /rrl/allow/1",
       "duplicate prefix fd00:18::/64"},
  };
  for (const auto& r : rows) {
    auto c = parse(r.rrl);
    ASSERT_FALSE(c.ok()) << r.rrl;
    EXPECT_EQ(c.error().where, r.where) << r.rrl;
    EXPECT_NE(c.error().what.find(r.what), std::string::npos) << r.rrl << ": " << c.error().what;
  }
}

}  // namespace
}  // namespace meridian::config
