// gslb-semantics rules 2-8 and "All down", table-driven against the shared C evaluation
// (maps/meridian_policy.h) compiled as C++. Weighted and multivalue choices are checked with a
// chi-square test over 10,000 decisions at p = 0.001 with a fixed random seed, so the test is
// deterministic: critical values are the chi-square quantiles at 0.999 for the degrees of
// freedom used (df 2: 13.816, df 3: 16.266, df 11: 31.264).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "policy_test_harness.h"

namespace meridian::policy::test {
namespace {

constexpr double kChi2Df2 = 13.816;
constexpr double kChi2Df3 = 16.266;
constexpr double kChi2Df11 = 31.264;

constexpr uint32_t geo_loc(uint32_t level, uint32_t id) {
  return MDN_GEO_LOCATION(level, id);
}

// Ids the rows use: continents EU=1 NA=2; countries DE=1 US=2 FR=3; subdivisions US-CA=1.
constexpr uint32_t kEu = geo_loc(MDN_GEO_LEVEL_CONTINENT, 1);
constexpr uint32_t kNa = geo_loc(MDN_GEO_LEVEL_CONTINENT, 2);
constexpr uint32_t kDe = geo_loc(MDN_GEO_LEVEL_COUNTRY, 1);
constexpr uint32_t kUs = geo_loc(MDN_GEO_LEVEL_COUNTRY, 2);
constexpr uint32_t kUsCa = geo_loc(MDN_GEO_LEVEL_SUBDIVISION, 1);
constexpr uint32_t kStar = geo_loc(MDN_GEO_LEVEL_DEFAULT, 0);

mdn_client client_in(uint16_t continent, uint16_t country, uint16_t subdivision) {
  mdn_client c{};
  c.continent = continent;
  c.country = country;
  c.subdivision = subdivision;
  return c;
}

mdn_client client_at(geo::LatLon at, uint32_t profile = MDN_NO_PROFILE) {
  mdn_client c{};
  c.point = geo::to_point(at);
  c.has_point = 1;
  c.latency_profile = profile;
  return c;
}

struct Row {
  std::string what;
  mdn_group group;
  mdn_client client{};
  uint64_t healthy = ~0ULL;  // by health slot
  uint32_t cidr = MDN_NO_LOCATION;
  std::map<uint32_t, uint32_t> latency;  // region -> ms
  uint8_t outcome = MDN_OUTCOME_ANSWER;
  uint64_t chosen = 0;  // expected chosen mask (ANSWER only)
  uint8_t used = 0xff;  // expected used facts (0xff: not checked)
};

mdn_decision run(const Row& r, uint32_t seed = 1) {
  PolicyCase c = make_case();
  c.client = r.client;
  c.healthy = r.healthy;
  c.cidr = r.cidr;
  c.rng = seed;
  for (const auto& [region, ms] : r.latency) c.latency[region & 15] = ms;
  mdn_decision d;
  mdn_policy_decide(&c, &r.group, &c.client, &d);
  return d;
}

void check(const std::vector<Row>& rows) {
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    // Several seeds: deterministic rows must not depend on the random numbers.
    for (uint32_t seed : {1u, 77u, 123456789u}) {
      const mdn_decision d = run(r, seed);
      EXPECT_EQ(d.outcome, r.outcome);
      if (r.outcome == MDN_OUTCOME_ANSWER) {
        EXPECT_EQ(d.chosen, r.chosen);
        EXPECT_EQ(d.count, __builtin_popcountll(r.chosen));
      } else {
        EXPECT_EQ(d.chosen, 0u);
        EXPECT_EQ(d.count, 0);
      }
      if (r.used != 0xff) EXPECT_EQ(d.used, r.used);
    }
  }
}

// Bit of health slot s cleared.
constexpr uint64_t down(std::initializer_list<int> slots) {
  uint64_t m = ~0ULL;
  for (int s : slots) m &= ~(1ULL << s);
  return m;
}

// Counts which candidate each of n decisions chose (single-choice policies) or included.
std::vector<int> tally(const mdn_group& g, uint64_t healthy, int n, uint32_t seed) {
  PolicyCase c = make_case();
  c.healthy = healthy;
  c.rng = seed;
  std::vector<int> counts(g.count, 0);
  for (int i = 0; i < n; ++i) {
    mdn_decision d;
    mdn_policy_decide(&c, &g, &c.client, &d);
    EXPECT_EQ(d.outcome, MDN_OUTCOME_ANSWER);
    for (int k = 0; k < g.count; ++k)
      if (d.chosen & (1ULL << k)) ++counts[k];
  }
  return counts;
}

double chi_square(const std::vector<int>& observed, const std::vector<double>& expected) {
  double x = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (expected[i] == 0) {
      EXPECT_EQ(observed[i], 0) << "candidate " << i << " must never be chosen";
      continue;
    }
    x += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  }
  return x;
}

TEST(PolicyRules, Rule1SimpleAnswersItsOneRecordSet) {
  check({{"simple, even with a health check that is down",
          make_group(MDN_POLICY_SIMPLE, {{.health = 0}}),
          {},
          down({0}),
          MDN_NO_LOCATION,
          {},
          MDN_OUTCOME_ANSWER,
          0b1,
          0}});
}

TEST(PolicyRules, Rule2WeightedDeterministicCases) {
  check({
      {"only healthy weight > 0 can be chosen",
       make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 5}, {.health = 1, .weight = 5}}),
       {},
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10,
       0},
      {"weight-0 standby only when no healthy weight > 0",
       make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 9}, {.health = 1, .weight = 0}}),
       {},
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
      {"standby never chosen while a weighted one is healthy",
       make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 1}, {.health = 1, .weight = 0}}),
       {},
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b01},
      {"no health check counts as healthy",
       make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 3}, {.weight = 3}}),
       {},
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
      {"all down fails open by weight (the weight-0 one is not chosen)",
       make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 0}, {.health = 1, .weight = 4}}),
       {},
       down({0, 1}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
  });
}

TEST(PolicyRules, Rule2WeightedFitsTheWeights) {
  const mdn_group g = make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 10},
                                                       {.health = 1, .weight = 20},
                                                       {.health = 2, .weight = 30},
                                                       {.health = 3, .weight = 40},
                                                       {.health = 4, .weight = 0}});
  const int n = 10000;
  const auto counts = tally(g, ~0ULL, n, 20261125);
  const double x = chi_square(counts, {n * 0.1, n * 0.2, n * 0.3, n * 0.4, 0});
  EXPECT_LT(x, kChi2Df3) << counts[0] << " " << counts[1] << " " << counts[2] << " " << counts[3];
  // A clearly wrong distribution fails the same test: the test can fail.
  EXPECT_GT(chi_square(counts, {n * 0.25, n * 0.25, n * 0.25, n * 0.25, 0}), kChi2Df3);

  // One weighted record set down: the rest share in proportion (10:30:40 of 80).
  const auto partial = tally(g, down({1}), n, 99);
  EXPECT_EQ(partial[1], 0);
  EXPECT_LT(chi_square(partial, {n * 10 / 80.0, 0, n * 30 / 80.0, n * 40 / 80.0, 0}), kChi2Df2);
}

TEST(PolicyRules, Rule2StandbysAreUniform) {
  const mdn_group g = make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 50},
                                                       {.health = 1, .weight = 0},
                                                       {.health = 2, .weight = 0},
                                                       {.health = 3, .weight = 0}});
  const int n = 10000;
  const auto counts = tally(g, down({0}), n, 4242);
  EXPECT_LT(chi_square(counts, {0, n / 3.0, n / 3.0, n / 3.0}), kChi2Df2);
}

TEST(PolicyRules, Rule3Failover) {
  const auto fo = [](uint8_t all_down = MDN_ALL_DOWN_FAIL_OPEN) {
    return make_group(
        MDN_POLICY_FAILOVER,
        {{.health = 0, .role = MDN_ROLE_PRIMARY}, {.health = 1, .role = MDN_ROLE_SECONDARY}},
        all_down);
  };
  check({
      {"primary healthy", fo(), {}, ~0ULL, MDN_NO_LOCATION, {}, MDN_OUTCOME_ANSWER, 0b01, 0},
      {"primary down: secondary",
       fo(),
       {},
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
      {"both down: primary", fo(), {}, down({0, 1}), MDN_NO_LOCATION, {}, MDN_OUTCOME_ANSWER, 0b01},
      {"secondary first in order, primary still wins",
       make_group(MDN_POLICY_FAILOVER, {{.health = 1, .role = MDN_ROLE_SECONDARY},
                                        {.health = 0, .role = MDN_ROLE_PRIMARY}}),
       {},
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
      {"secondary without a health check counts as healthy",
       make_group(MDN_POLICY_FAILOVER,
                  {{.health = 0, .role = MDN_ROLE_PRIMARY}, {.role = MDN_ROLE_SECONDARY}}),
       {},
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
  });
}

TEST(PolicyRules, Rule4Geolocation) {
  const mdn_group all = make_group(MDN_POLICY_GEOLOCATION, {{.health = 0, .location = kUsCa},
                                                            {.health = 1, .location = kUs},
                                                            {.health = 2, .location = kNa},
                                                            {.health = 3, .location = kStar},
                                                            {.health = 4, .location = kDe},
                                                            {.health = 5, .location = kEu}});
  const mdn_client ca = client_in(2, 2, 1), us_ny = client_in(2, 2, 0), mx = client_in(2, 0, 0);
  const mdn_client fr = client_in(1, 3, 0), unknown = client_in(0, 0, 0);
  const mdn_group no_default = make_group(MDN_POLICY_GEOLOCATION, {{.health = 4, .location = kDe}});
  check({
      {"subdivision beats country",
       all,
       ca,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 0,
       MDN_USED_GEO},
      {"country beats continent",
       all,
       us_ny,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 1},
      {"continent beats default", all, mx, ~0ULL, MDN_NO_LOCATION, {}, MDN_OUTCOME_ANSWER, 1 << 2},
      {"continent for a country without its own",
       all,
       fr,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 5},
      {"unknown client: default",
       all,
       unknown,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 3},
      {"no match and no default: NODATA",
       no_default,
       fr,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_NODATA,
       0,
       MDN_USED_GEO},
      {"walk up: subdivision down -> country",
       all,
       ca,
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 1},
      {"walk up: subdivision and country down -> continent",
       all,
       ca,
       down({0, 1}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 2},
      {"walk up to default",
       all,
       ca,
       down({0, 1, 2}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 3},
      {"whole chain down: fail open to the most specific",
       all,
       ca,
       down({0, 1, 2, 3}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 0},
      {"another country's record set never answers",
       all,
       us_ny,
       down({1, 2, 3}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       1 << 1},
  });
}

TEST(PolicyRules, Rule5Latency) {
  // Regions 1 (Dublin), 2 (Virginia), 3 (Singapore).
  const geo::LatLon dublin{53.3, -6.3}, virginia{38.9, -77.4}, singapore{1.3, 103.8};
  const mdn_group g =
      make_group(MDN_POLICY_LATENCY, {{.health = 0, .location = 1, .at = dublin},
                                      {.health = 1, .location = 2, .at = virginia},
                                      {.health = 2, .location = 3, .at = singapore}});
  const mdn_client paris = client_at({48.9, 2.4});
  const mdn_client paris_table = client_at({48.9, 2.4}, 7);
  check({
      {"no table: nearest by great circle",
       g,
       paris,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b001,
       MDN_USED_GEO | MDN_USED_LATENCY_TABLE},
      {"nearest down: next nearest",
       g,
       paris,
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b010},
      {"operator table overrides distance",
       g,
       paris_table,
       ~0ULL,
       MDN_NO_LOCATION,
       {{1, 80}, {2, 60}, {3, 200}},
       MDN_OUTCOME_ANSWER,
       0b010},
      {"table: lowest down, next lowest",
       g,
       paris_table,
       down({1}),
       MDN_NO_LOCATION,
       {{1, 80}, {2, 60}, {3, 70}},
       MDN_OUTCOME_ANSWER,
       0b100},
      {"a region missing from the table ranks after those in it",
       g,
       paris_table,
       ~0ULL,
       MDN_NO_LOCATION,
       {{3, 250}},
       MDN_OUTCOME_ANSWER,
       0b100},
      {"all down fails open to the lowest",
       g,
       paris,
       down({0, 1, 2}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b001},
  });
}

TEST(PolicyRules, Rule6GeoproximityBias) {
  // A client on the equator at 0E; candidates due east at about 150 km and 100 km.
  const mdn_client c = client_at({0, 0});
  const geo::LatLon far{0, 150.0 / 111.195}, near{0, 100.0 / 111.195};
  check({
      {"spec example: 150 km with bias +50 beats 100 km with bias 0",
       make_group(MDN_POLICY_GEOPROXIMITY,
                  {{.health = 0, .bias = 50, .at = far}, {.health = 1, .bias = 0, .at = near}}),
       c,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b01,
       MDN_USED_GEO},
      {"bias 0: nearer wins",
       make_group(MDN_POLICY_GEOPROXIMITY, {{.health = 0, .at = far}, {.health = 1, .at = near}}),
       c,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
      {"negative bias pushes away: 100 km at -50 (200) loses to 150 km",
       make_group(MDN_POLICY_GEOPROXIMITY,
                  {{.health = 0, .at = far}, {.health = 1, .bias = -50, .at = near}}),
       c,
       ~0ULL,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b01},
      {"winner down: next",
       make_group(MDN_POLICY_GEOPROXIMITY,
                  {{.health = 0, .bias = 50, .at = far}, {.health = 1, .at = near}}),
       c,
       down({0}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b10},
  });
}

TEST(PolicyRules, Rule7IpBased) {
  const mdn_group g = make_group(MDN_POLICY_IP_BASED,
                                 {{.health = 0, .location = 1},
                                  {.health = 1, .location = 2},
                                  {.health = 2, .location = MDN_CIDR_DEFAULT}},
                                 MDN_ALL_DOWN_FAIL_OPEN, 1);
  const mdn_group no_default =
      make_group(MDN_POLICY_IP_BASED, {{.health = 0, .location = 1}}, MDN_ALL_DOWN_FAIL_OPEN, 1);
  check({
      {"the client's location", g, {}, ~0ULL, 2, {}, MDN_OUTCOME_ANSWER, 0b010, MDN_USED_CIDR},
      {"no block matched: '*'", g, {}, ~0ULL, MDN_NO_LOCATION, {}, MDN_OUTCOME_ANSWER, 0b100},
      {"a location without a record set: '*'", g, {}, ~0ULL, 9, {}, MDN_OUTCOME_ANSWER, 0b100},
      {"location down: '*'", g, {}, down({1}), 2, {}, MDN_OUTCOME_ANSWER, 0b100},
      {"no match and no '*': NODATA",
       no_default,
       {},
       ~0ULL,
       5,
       {},
       MDN_OUTCOME_NODATA,
       0,
       MDN_USED_CIDR},
  });
}

TEST(PolicyRules, Rule8MultivalueUpToEightHealthy) {
  std::vector<Cand> five, twelve;
  for (uint32_t i = 0; i < 5; ++i) five.push_back({.health = i});
  for (uint32_t i = 0; i < 12; ++i) twelve.push_back({.health = i});
  const mdn_group g5 = make_group(MDN_POLICY_MULTIVALUE, five);
  const mdn_group g12 = make_group(MDN_POLICY_MULTIVALUE, twelve);
  check({
      {"all healthy ones when 8 or fewer",
       g5,
       {},
       down({1}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b11101,
       0},
      {"none healthy: the unhealthy ones",
       g5,
       {},
       0,
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0b11111},
      {"12 with 4 down: exactly the 8 healthy",
       g12,
       {},
       down({0, 3, 6, 9}),
       MDN_NO_LOCATION,
       {},
       MDN_OUTCOME_ANSWER,
       0xfff & ~((1u << 0) | (1u << 3) | (1u << 6) | (1u << 9))},
  });
  // More than 8 healthy: 8 of them, each equally likely to be included.
  PolicyCase c = make_case();
  c.rng = 31337;
  for (int i = 0; i < 200; ++i) {
    mdn_decision d;
    c.healthy = down({2});
    mdn_policy_decide(&c, &g12, &c.client, &d);
    ASSERT_EQ(d.count, 8);
    ASSERT_EQ(__builtin_popcountll(d.chosen), 8);
    ASSERT_EQ(d.chosen & (1u << 2), 0u) << "an unhealthy one while 11 are healthy";
  }
  const int n = 10000;
  const auto counts = tally(g12, ~0ULL, n, 8675309);
  const std::vector<double> expected(12, n * 8 / 12.0);
  EXPECT_LT(chi_square(counts, expected), kChi2Df11);
  // None healthy with 12: 8 of the unhealthy ones, also spread evenly.
  const auto counts_down = tally(g12, 0, n, 5551212);
  EXPECT_LT(chi_square(counts_down, expected), kChi2Df11);
}

TEST(PolicyRules, AllDownChoices) {
  const auto cands = std::vector<Cand>{{.health = 0, .weight = 1}, {.health = 1, .weight = 1}};
  std::vector<Row> rows;
  for (uint8_t p : {MDN_POLICY_WEIGHTED, MDN_POLICY_FAILOVER, MDN_POLICY_MULTIVALUE,
                    MDN_POLICY_LATENCY, MDN_POLICY_GEOPROXIMITY}) {
    const std::string name = "policy " + std::to_string(p);
    rows.push_back({name + " nodata",
                    make_group(p, cands, MDN_ALL_DOWN_NODATA),
                    client_at({1, 1}),
                    down({0, 1}),
                    MDN_NO_LOCATION,
                    {},
                    MDN_OUTCOME_NODATA});
    rows.push_back({name + " servfail",
                    make_group(p, cands, MDN_ALL_DOWN_SERVFAIL),
                    client_at({1, 1}),
                    down({0, 1}),
                    MDN_NO_LOCATION,
                    {},
                    MDN_OUTCOME_SERVFAIL});
    rows.push_back({name + " one up: not all down",
                    make_group(p, cands, MDN_ALL_DOWN_SERVFAIL),
                    client_at({1, 1}),
                    down({0}),
                    MDN_NO_LOCATION,
                    {},
                    MDN_OUTCOME_ANSWER,
                    0b10});
  }
  const mdn_group geo_sf = make_group(
      MDN_POLICY_GEOLOCATION, {{.health = 0, .location = kDe}, {.health = 1, .location = kStar}},
      MDN_ALL_DOWN_SERVFAIL);
  rows.push_back({"geolocation: the matching chain down -> servfail",
                  geo_sf,
                  client_in(1, 1, 0),
                  down({0, 1}),
                  MDN_NO_LOCATION,
                  {},
                  MDN_OUTCOME_SERVFAIL});
  rows.push_back({"geolocation: chain up, others irrelevant",
                  geo_sf,
                  client_in(1, 1, 0),
                  down({0}),
                  MDN_NO_LOCATION,
                  {},
                  MDN_OUTCOME_ANSWER,
                  0b10});
  const mdn_group ip_nd =
      make_group(MDN_POLICY_IP_BASED, {{.health = 0, .location = 3}}, MDN_ALL_DOWN_NODATA, 1);
  rows.push_back({"ip-based nodata", ip_nd, {}, down({0}), 3, {}, MDN_OUTCOME_NODATA});
  check(rows);
}

TEST(PolicyRules, MalformedGroupsAnswerNothing) {
  mdn_group empty = make_group(MDN_POLICY_WEIGHTED, {});
  mdn_group too_many = make_group(MDN_POLICY_WEIGHTED, {{.weight = 1}});
  too_many.count = MDN_GROUP_MAX + 1;
  check({{"no candidates", empty, {}, ~0ULL, MDN_NO_LOCATION, {}, MDN_OUTCOME_NODATA},
         {"count past the array", too_many, {}, ~0ULL, MDN_NO_LOCATION, {}, MDN_OUTCOME_NODATA}});
}

TEST(PolicyRules, FullGroupOfSixtyFourUsesEveryBit) {
  std::vector<Cand> cands(MDN_GROUP_MAX);
  for (uint32_t i = 0; i < MDN_GROUP_MAX; ++i) cands[i] = {.health = i, .weight = 1};
  const mdn_group g = make_group(MDN_POLICY_WEIGHTED, cands);
  check({{"only the last one healthy",
          g,
          {},
          1ULL << 63,
          MDN_NO_LOCATION,
          {},
          MDN_OUTCOME_ANSWER,
          1ULL << 63}});
}

}  // namespace
}  // namespace meridian::policy::test
