// Unit tests of the shared C decision in maps/meridian_rrl.h (the code the XDP program runs too):
// rate and burst, refill over time, slip 0/1/2/N, response classes, prefix aggregation at /24 and
// /56 and other lengths, and the configuration defaults. Table-driven: a row is a configuration,
// a sequence of (time, expected verdict) and why.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "meridian_rrl.h"

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kT0 = 1'000'000 * kMs;  // an arbitrary monotonic start (1000 s)

mdn_rrl_config make_config(uint32_t rate, uint32_t burst, uint32_t slip, uint32_t v4 = 24,
                           uint32_t v6 = 56) {
  mdn_rrl_config c;
  mdn_rrl_config_init(&c, rate, burst, slip, v4, v6);
  return c;
}

constexpr char S = 'S';  // send
constexpr char D = 'D';  // drop
constexpr char T = 'T';  // slip (TC=1)

char letter(mdn_rrl_verdict v) {
  return v == MDN_RRL_SEND ? S : v == MDN_RRL_DROP ? D : T;
}

struct Row {
  const char* why;
  uint32_t rate, burst, slip;
  std::vector<uint64_t> at_ms;  // event times after kT0
  std::string want;             // one letter per event
};

TEST(RrlDecide, Table) {
  const std::vector<Row> rows = {
      {"burst defaults to the rate: 3 at once, then limited (slip 0 drops)",
       3,
       0,
       0,
       {0, 0, 0, 0, 0},
       "SSSDD"},
      {"burst 1: one at once; the next after one interval (rate 10: 100 ms)",
       10,
       1,
       0,
       {0, 0, 50, 99, 100, 100, 200},
       "SDDDSDS"},
      {"burst larger than the rate", 2, 5, 0, {0, 0, 0, 0, 0, 0}, "SSSSSD"},
      {"refill: a quiet second restores the whole burst, not more",
       2,
       2,
       0,
       {0, 0, 0, 1000, 1000, 1000, 5000, 5000, 5000},
       "SSDSSDSSD"},
      {"half-refilled: 500 ms at rate 2 gives back one reply", 2, 2, 0, {0, 0, 500, 500}, "SSSD"},
      {"slip 1: every limited reply is TC=1", 1, 1, 1, {0, 0, 0, 0}, "STTT"},
      {"slip 2: every second limited reply is TC=1, the others dropped",
       1,
       1,
       2,
       {0, 0, 0, 0, 0, 0},
       "SDTDTD"},
      {"slip 3: every third", 1, 1, 3, {0, 0, 0, 0, 0, 0, 0, 0}, "SDDTDDTD"},
      {"limited replies do not delay recovery (no debt for dropped ones)",
       1,
       1,
       0,
       {0, 1, 2, 3, 999, 1000},
       "SDDDDS"},
      {"slip count carries across a refill", 1, 1, 2, {0, 0, 1000, 1000, 1000}, "SDSTD"},
      {"rate 0: off, everything sent", 0, 0, 0, {0, 0, 0, 0}, "SSSS"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.why);
    ASSERT_EQ(row.at_ms.size(), row.want.size());
    const mdn_rrl_config c = make_config(row.rate, row.burst, row.slip);
    mdn_rrl_bucket b{};
    std::string got;
    for (uint64_t ms : row.at_ms) got += letter(mdn_rrl_decide(&b, kT0 + ms * kMs, &c));
    EXPECT_EQ(got, row.want);
  }
}

TEST(RrlDecide, LongFloodGetsExactlyTheRate) {
  // 100 replies/s, burst 100, a flood at 10 kHz for 10 s: 100 + 100 per second after the first.
  const mdn_rrl_config c = make_config(100, 0, 0);
  mdn_rrl_bucket b{};
  int sent = 0;
  for (uint64_t i = 0; i < 100000; ++i) sent += mdn_rrl_decide(&b, kT0 + i * 100'000, &c) == 0;
  EXPECT_GE(sent, 100 + 999);  // 9.9999 s of refill at 10 ms per reply
  EXPECT_LE(sent, 100 + 1000);
}

TEST(RrlDecide, ZeroedBucketIsFullAtAnyTime) {
  const mdn_rrl_config c = make_config(1, 1, 0);
  for (uint64_t now : {uint64_t{0}, uint64_t{1}, kT0, uint64_t{1} << 62}) {
    mdn_rrl_bucket b{};
    EXPECT_EQ(mdn_rrl_decide(&b, now, &c), MDN_RRL_SEND) << now;
    EXPECT_EQ(mdn_rrl_decide(&b, now, &c), MDN_RRL_DROP) << now;
  }
}

TEST(RrlConfigInit, DefaultsAndClamps) {
  mdn_rrl_config c = make_config(5, 0, 2);
  EXPECT_EQ(c.enabled, 1);
  EXPECT_EQ(c.burst, 5u);
  EXPECT_EQ(c.interval_ns, 200 * kMs);
  EXPECT_EQ(c.burst_ns, 1000 * kMs);
  EXPECT_EQ(c.ipv4_prefix_len, 24);
  EXPECT_EQ(c.ipv6_prefix_len, 56);
  c = make_config(0, 0, 2);
  EXPECT_EQ(c.enabled, 0);
  EXPECT_EQ(c.interval_ns, 0u);
  c = make_config(5000000, 9000000, 99, 40, 200);
  EXPECT_EQ(c.responses_per_second, MDN_RRL_MAX_RATE);
  EXPECT_EQ(c.burst, MDN_RRL_MAX_BURST);
  EXPECT_EQ(c.slip, MDN_RRL_MAX_SLIP);
  EXPECT_EQ(c.ipv4_prefix_len, 32);
  EXPECT_EQ(c.ipv6_prefix_len, 128);
  EXPECT_EQ(c.interval_ns, 1000u);
}

TEST(RrlClass, ByRcode) {
  const struct {
    uint32_t rcode;
    uint8_t klass;
  } rows[] = {{0, MDN_RRL_CLASS_ANSWER}, {3, MDN_RRL_CLASS_NXDOMAIN}, {1, MDN_RRL_CLASS_ERROR},
              {2, MDN_RRL_CLASS_ERROR},  {4, MDN_RRL_CLASS_ERROR},    {5, MDN_RRL_CLASS_ERROR},
              {16, MDN_RRL_CLASS_ERROR}, {19, MDN_RRL_CLASS_ERROR}};
  for (const auto& r : rows) EXPECT_EQ(mdn_rrl_class_of(r.rcode), r.klass) << r.rcode;
}

struct KeyCase {
  const char* a;
  const char* b;
  uint32_t v4_len, v6_len;
  bool same;
};

mdn_rrl_key key_of(const char* text, uint8_t klass, const mdn_rrl_config& c) {
  uint8_t addr[16] = {};
  uint8_t family = MDN_RRL_FAMILY_IPV4;
  if (inet_pton(AF_INET, text, addr) != 1) {
    EXPECT_EQ(inet_pton(AF_INET6, text, addr), 1) << text;
    family = MDN_RRL_FAMILY_IPV6;
  }
  mdn_rrl_key k;
  std::memset(&k, 0xee, sizeof k);  // every byte must be written
  mdn_rrl_key_make(&k, family, addr, klass, &c);
  return k;
}

TEST(RrlKey, PrefixAggregation) {
  const std::vector<KeyCase> rows = {
      {"198.18.7.1", "198.18.7.254", 24, 56, true},
      {"198.18.7.1", "198.18.8.1", 24, 56, false},
      {"198.18.7.1", "198.18.7.129", 25, 56, false},
      {"198.18.7.1", "198.18.7.127", 25, 56, true},
      {"198.18.0.1", "198.18.15.1", 20, 56, true},
      {"198.18.0.1", "198.18.16.1", 20, 56, false},
      {"198.18.0.1", "198.18.0.2", 32, 56, false},
      {"fd00:18:0:1200::1", "fd00:18:0:12ff:ffff::9", 24, 56, true},
      {"fd00:18:0:1200::1", "fd00:18:0:1300::1", 24, 56, false},
      {"fd00:18:0:1200::1", "fd00:18:0:1280::1", 24, 57, false},
      {"fd00:18:0:1::1", "fd00:18:0:ffff::1", 24, 48, true},
      {"fd00:18::1", "fd00:18::2", 24, 128, false},
      {"fd00:18::1", "fd00:18::1", 24, 128, true},
      // The families never share a bucket, even where the bytes would match.
      {"198.18.0.0", "c612::", 16, 16, false},
  };
  for (const auto& r : rows) {
    const mdn_rrl_config c = make_config(1, 1, 0, r.v4_len, r.v6_len);
    const mdn_rrl_key a = key_of(r.a, MDN_RRL_CLASS_ANSWER, c);
    const mdn_rrl_key b = key_of(r.b, MDN_RRL_CLASS_ANSWER, c);
    EXPECT_EQ(std::memcmp(&a, &b, sizeof a) == 0, r.same)
        << r.a << " vs " << r.b << " at /" << r.v4_len << " /" << r.v6_len;
  }
}

TEST(RrlKey, LayoutAndClasses) {
  const mdn_rrl_config c = make_config(1, 1, 0);
  const mdn_rrl_key k = key_of("198.18.7.99", MDN_RRL_CLASS_NXDOMAIN, c);
  EXPECT_EQ(k.family, MDN_RRL_FAMILY_IPV4);
  EXPECT_EQ(k.klass, MDN_RRL_CLASS_NXDOMAIN);
  EXPECT_EQ(k.prefix_len, 24);
  EXPECT_EQ(k.pad, 0);
  const uint8_t want[16] = {198, 18, 7, 0};
  EXPECT_EQ(std::memcmp(k.addr, want, 16), 0);
  // Same prefix, other class: another bucket.
  const mdn_rrl_key a = key_of("198.18.7.99", MDN_RRL_CLASS_ANSWER, c);
  EXPECT_NE(std::memcmp(&a, &k, sizeof a), 0);
}

TEST(RrlKey, AllowKey) {
  uint8_t v6[16];
  ASSERT_EQ(inet_pton(AF_INET6, "fd00:18::7", v6), 1);
  mdn_rrl_allow_key k;
  std::memset(&k, 0xee, sizeof k);
  mdn_rrl_allow_key_make(&k, MDN_RRL_FAMILY_IPV6, v6);
  EXPECT_EQ(k.prefixlen, 8u + 128);
  EXPECT_EQ(k.family, MDN_RRL_FAMILY_IPV6);
  EXPECT_EQ(std::memcmp(k.addr, v6, 16), 0);
  const uint8_t v4[4] = {198, 18, 1, 2};
  std::memset(&k, 0xee, sizeof k);
  mdn_rrl_allow_key_make(&k, MDN_RRL_FAMILY_IPV4, v4);
  EXPECT_EQ(k.prefixlen, 8u + 32);
  const uint8_t want[16] = {198, 18, 1, 2};
  EXPECT_EQ(std::memcmp(k.addr, want, 16), 0);
}

}  // namespace
