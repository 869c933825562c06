// The region enumerations the XDP program's LPM maps are filled from (geolocation leaves, latency
// and CIDR trie regions) against the userspace classifier: coverage, disjointness, and identical
// facts and ECS scopes for random clients through a reference LPM over the enumerated regions.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "geo/geo_database.h"
#include "geo/location_ids.h"
#include "policy/client_classifier.h"
#include "policy/client_regions.h"
#include "policy/decision_table.h"
#include "policy/ip_prefix.h"
#include "unit/test_files.h"
#include "zone/route53_json.h"

namespace meridian::policy {
namespace {

using Addr = std::array<uint8_t, 16>;
using U128 = unsigned __int128;

Addr mask(Addr a, int len) {
  for (int i = len; i < 128; ++i) a[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
  return a;
}

U128 to_u128(const Addr& a, bool ipv6) {
  U128 v = 0;
  for (int i = 0; i < (ipv6 ? 16 : 4); ++i) v = (v << 8) | a[i];
  return v;
}

Addr from_u128(U128 v, bool ipv6) {
  Addr a{};
  const int n = ipv6 ? 16 : 4;
  for (int i = n - 1; i >= 0; --i, v >>= 8) a[i] = static_cast<uint8_t>(v);
  return a;
}

bool contains(const IpPrefix& p, const Addr& a, bool ipv6) {
  return p.ipv6 == ipv6 && mask(a, p.length) == p.address;
}

IpPrefix prefix(const std::string& text) {
  auto p = parse_prefix(text);
  EXPECT_TRUE(p.ok()) << text;
  return p.ok() ? *p : IpPrefix{};
}

// Sorts the regions plus the expected gaps of one family and checks that they tile the family's
// whole space exactly: no overlap, no hole.
void expect_partition(std::vector<IpPrefix> regions, bool ipv6, const std::vector<IpPrefix>& gaps,
                      const std::string& what) {
  regions.erase(std::remove_if(regions.begin(), regions.end(),
                               [&](const IpPrefix& p) { return p.ipv6 != ipv6; }),
                regions.end());
  for (const IpPrefix& g : gaps)
    if (g.ipv6 == ipv6) regions.push_back(g);
  std::sort(regions.begin(), regions.end(), [&](const IpPrefix& a, const IpPrefix& b) {
    return to_u128(a.address, ipv6) < to_u128(b.address, ipv6);
  });
  const int bits = ipv6 ? 128 : 32;
  U128 cursor = 0;  // IPv6: wraps to 0 exactly at the end of the space
  bool done = false;
  for (size_t i = 0; i < regions.size(); ++i) {
    const IpPrefix& r = regions[i];
    ASSERT_FALSE(done) << what << ": " << to_string(r) << " after the end of the space";
    ASSERT_EQ(mask(r.address, r.length), r.address) << what << ": " << to_string(r);
    ASSERT_TRUE(to_u128(r.address, ipv6) == cursor)
        << what << ": " << to_string(r) << " does not start where the previous region ended ("
        << (i ? to_string(regions[i - 1]) : "start") << ")";
    // A /0 of IPv6 is 2^128 addresses: 0 in 128 bits, which is also where the cursor must end.
    cursor += r.length == 0 && ipv6 ? 0 : U128{1} << (bits - r.length);
    done = ipv6 ? cursor == 0 : cursor == (U128{1} << 32);
  }
  EXPECT_TRUE(done) << what << ": the regions stop before the end of the "
                    << (ipv6 ? "IPv6" : "IPv4") << " space";
}

// The reference: regions by family and length, looked up as an LPM limited to the source
// prefix, exactly as the XDP program will look up its maps.
template <typename T>
class RegionLpm {
 public:
  void add(const IpPrefix& p, const T& v) {
    auto& level = levels_[p.ipv6][p.length];
    ASSERT_TRUE(level.emplace(p.address, v).second) << "duplicate region " << to_string(p);
    ++size_;
  }
  // The region containing the first `source` bits of `a`, or null (a miss: the fast path would
  // pass the query to userspace).
  const T* lookup(const Addr& a, bool ipv6, int source) const {
    for (int len = source; len >= 0; --len) {
      const auto& level = levels_[ipv6][len];
      auto it = level.find(mask(a, len));
      if (it != level.end()) return &it->second;
    }
    return nullptr;
  }
  size_t size() const { return size_; }

 private:
  std::map<Addr, T> levels_[2][129];
  size_t size_ = 0;
};

struct GeoRegion {
  mdn_client facts;
  uint8_t scope;
};

// Random clients biased toward region edges and the test networks.
class ClientGen {
 public:
  explicit ClientGen(uint32_t seed) : rng_(seed) {}
  uint32_t next() { return static_cast<uint32_t>(rng_()); }
  U128 random128() { return (U128{rng_()} << 64) | rng_(); }

  // An address near `p`: its first or last address, one off either end, or any inside.
  Addr near(const IpPrefix& p) {
    const bool v6 = p.ipv6;
    const int bits = v6 ? 128 : 32;
    const U128 space_mask = v6 ? ~U128{0} : ((U128{1} << 32) - 1);
    const U128 first = to_u128(p.address, v6);
    const U128 span = p.length == 0 ? space_mask : (U128{1} << (bits - p.length)) - 1;
    U128 v = first;
    switch (next() % 5) {
      case 0:
        v = first;
        break;
      case 1:
        v = first + span;
        break;
      case 2:
        v = first - 1;
        break;
      case 3:
        v = first + span + 1;
        break;
      default:
        v = first + (random128() & span);
        break;
    }
    return from_u128(v & space_mask, v6);
  }
  Addr any(bool v6) {
    const U128 v = random128();
    return from_u128(v6 ? v : (v & 0xffffffffu), v6);
  }
  // Full length half of the time, else any source prefix 0..max.
  int source(bool v6) {
    const int max = v6 ? 128 : 32;
    return next() % 2 ? max : static_cast<int>(next() % (max + 1));
  }

 private:
  std::mt19937_64 rng_;
};

ClientAddress client_of(const Addr& a, bool ipv6, int source) {
  ClientAddress c;
  c.ipv6 = ipv6;
  c.source_prefix = static_cast<uint8_t>(source);
  c.address = mask(a, source);
  return c;
}

std::vector<IpPrefix> trie_regions(const PrefixTrie& trie) {
  std::vector<IpPrefix> out;
  trie.for_each_region([&](const IpPrefix& p, const PrefixTrie::Match&) { out.push_back(p); });
  return out;
}

// A decision table over one zone whose g.example.com. A group has these GeoLocations.
Result<std::unique_ptr<DecisionTable>> geo_table(const std::vector<std::string>& locations) {
  std::string sets = R"({"Name": "example.com.", "Type": "SOA", "TTL": 900, "ResourceRecords":
      [{"Value": "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300"}]})";
  for (size_t i = 0; i < locations.size(); ++i)
    sets += R"(,{"Name": "g.example.com.", "Type": "A", "TTL": 60, "SetIdentifier": "s)" +
            std::to_string(i) + R"(", "GeoLocation": )" + locations[i] +
            R"(, "ResourceRecords": [{"Value": "192.0.2.)" + std::to_string(i + 1) + R"("}]})";
  auto z = zone::parse_route53_json(R"({"ResourceRecordSets": [)" + sets + "]}",
                                    *dns::Name::from_text("example.com."), "test");
  if (!z.ok()) return z.error();
  return DecisionTable::build(zone::ZoneSet({std::make_shared<const zone::Zone>(std::move(*z))}),
                              GslbInputs{});
}

// ---- location ids ----

TEST(LocationIds, CountriesAndContinentsArePackedLetters) {
  EXPECT_EQ(geo::country_id("DE"), ('D' << 8) | 'E');
  EXPECT_EQ(geo::continent_id("EU"), ('E' << 8) | 'U');
  EXPECT_EQ(geo::country_id("US"), 0x5553);
  for (const char* bad : {"", "D", "de", "DEU", "D1", "?"}) {
    EXPECT_EQ(geo::country_id(bad), 0) << bad;
    EXPECT_EQ(geo::continent_id(bad), 0) << bad;
  }
}

TEST(LocationIds, SubdivisionsInternOnceAcrossThreads) {
  EXPECT_EQ(geo::subdivision_id(""), 0);
  const uint16_t ca = geo::subdivision_id("US-CA");
  ASSERT_NE(ca, 0);
  EXPECT_EQ(geo::subdivision_id("US-CA"), ca);
  // Four threads intern the same 500 codes in different orders: one id per code.
  std::vector<std::vector<uint16_t>> seen(4, std::vector<uint16_t>(500));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 500; ++k) {
        const int i = t % 2 ? 499 - k : k;
        seen[t][i] = geo::subdivision_id("ZZ-T" + std::to_string(i));
      }
    });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 500; ++i) {
    ASSERT_NE(seen[0][i], 0);
    for (int t = 1; t < 4; ++t) EXPECT_EQ(seen[t][i], seen[0][i]);
  }
  std::vector<uint16_t> ids = seen[0];
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "two codes share an id";
  EXPECT_EQ(geo::subdivision_id("US-CA"), ca);
}

// Filling the table ends with 0 for new codes, old codes keep their ids, and a zone defining a
// new subdivision location is refused. Runs in a child process so the full table stays there.
TEST(LocationIdsDeathTest, SubdivisionIdsRunOut) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const uint16_t first = geo::subdivision_id("US-CA");
        for (uint32_t i = geo::subdivision_id_count(); i < 0xffff; ++i)
          geo::subdivision_id("ZZ-F" + std::to_string(i));
        const bool ok = geo::subdivision_id_count() == 0xffff &&
                        geo::subdivision_id("XX-NEW") == 0 &&
                        geo::subdivision_id("US-CA") == first && first != 0;
        // A known subdivision still loads; a new one (a real code not used before, the US minor
        // outlying islands) is an error naming the record set.
        auto known = geo_table({R"({"CountryCode": "US", "SubdivisionCode": "CA"})"});
        auto fresh = geo_table({R"({"CountryCode": "US", "SubdivisionCode": "UM"})"});
        const bool table_ok =
            known.ok() && !fresh.ok() &&
            fresh.error().what.find("too many distinct locations") != std::string::npos &&
            fresh.error().where.find("SetIdentifier 's0'") != std::string::npos;
        std::exit(ok && table_ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// Candidates carry the same ids as clients, whatever else was loaded before.
TEST(LocationIds, DecisionTableCandidatesUseStableIds) {
  auto t = geo_table({R"({"ContinentCode": "EU"})", R"({"CountryCode": "DE"})",
                      R"({"CountryCode": "US", "SubdivisionCode": "ca"})"});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  const GroupEntry* g = (*t)->find(*dns::Name::from_text("g.example.com."), 1);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->group.candidates[0].location,
            MDN_GEO_LOCATION(MDN_GEO_LEVEL_CONTINENT, geo::continent_id("EU")));
  EXPECT_EQ(g->group.candidates[1].location,
            MDN_GEO_LOCATION(MDN_GEO_LEVEL_COUNTRY, geo::country_id("DE")));
  EXPECT_EQ(g->group.candidates[2].location,
            MDN_GEO_LOCATION(MDN_GEO_LEVEL_SUBDIVISION, geo::subdivision_id("US-CA")));
}

// ---- PrefixTrie regions ----

TEST(TrieRegions, EmptyTrieIsTwoRegions) {
  PrefixTrie trie;
  std::vector<std::pair<std::string, PrefixTrie::Match>> got;
  trie.for_each_region(
      [&](const IpPrefix& p, const PrefixTrie::Match& m) { got.emplace_back(to_string(p), m); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, "0.0.0.0/0");
  EXPECT_EQ(got[1].first, "::/0");
  for (const auto& [p, m] : got) {
    EXPECT_EQ(m.value, PrefixTrie::kNone);
    EXPECT_EQ(m.scope, 0);
  }
  EXPECT_EQ(trie.region_count(), 2u);
}

TEST(TrieRegions, OnePrefixSplitsItsEdge) {
  PrefixTrie trie;
  ASSERT_TRUE(trie.insert(prefix("10.0.0.0/8"), 7));
  std::vector<std::string> got;
  trie.for_each_region([&](const IpPrefix& p, const PrefixTrie::Match& m) {
    got.push_back(to_string(p) + "=" + (m.value == 7 ? "7" : "-") + "/" + std::to_string(m.scope));
  });
  const std::vector<std::string> want = {
      "0.0.0.0/5=-/5",  "8.0.0.0/7=-/7",  "10.0.0.0/8=7/8", "11.0.0.0/8=-/8",  "12.0.0.0/6=-/6",
      "16.0.0.0/4=-/4", "32.0.0.0/3=-/3", "64.0.0.0/2=-/2", "128.0.0.0/1=-/1", "::/0=-/0"};
  EXPECT_EQ(got, want);
  EXPECT_EQ(trie.region_count(), want.size());
}

// Random tries (nested, overlapping, /0, full-length and long IPv6 prefixes): the regions tile
// both families and a reference LPM over them answers every client like lookup() does, value,
// matched length and scope, whenever a region of length <= the source prefix contains it.
TEST(TrieRegions, RandomTriesAgreeWithLookup) {
  ClientGen gen(20261125);
  size_t clients = 0, hits = 0;
  for (int round = 0; round < 60; ++round) {
    PrefixTrie trie;
    std::vector<IpPrefix> stored;
    const int n = static_cast<int>(gen.next() % 60);
    for (int i = 0; i < n; ++i) {
      IpPrefix p;
      p.ipv6 = gen.next() % 2;
      const int max = p.ipv6 ? 128 : 32;
      p.length = static_cast<uint8_t>(gen.next() % 4 == 0 ? max : gen.next() % (max + 1));
      // Few distinct high bits so prefixes nest and share edges.
      Addr a = gen.any(p.ipv6);
      a[0] &= 0x83;
      p.address = mask(a, p.length);
      if (trie.insert(p, gen.next() % 1000)) stored.push_back(p);
    }
    std::vector<IpPrefix> regions;
    RegionLpm<PrefixTrie::Match> ref;
    trie.for_each_region([&](const IpPrefix& p, const PrefixTrie::Match& m) {
      regions.push_back(p);
      ref.add(p, m);
    });
    ASSERT_EQ(regions.size(), trie.region_count());
    expect_partition(regions, false, {}, "round " + std::to_string(round));
    expect_partition(regions, true, {}, "round " + std::to_string(round));
    for (int q = 0; q < 600; ++q) {
      bool v6 = gen.next() % 2;
      Addr a = gen.any(v6);
      const uint32_t pick = gen.next() % 3;
      if (pick < 2 && !(pick == 0 && stored.empty())) {  // near a stored prefix or a region
        const IpPrefix& p =
            pick == 0 ? stored[gen.next() % stored.size()] : regions[gen.next() % regions.size()];
        v6 = p.ipv6;
        a = gen.near(p);
      }
      const int source = gen.source(v6);
      const ClientAddress c = client_of(a, v6, source);
      const PrefixTrie::Match want = trie.lookup(c);
      const PrefixTrie::Match* got = ref.lookup(c.address, v6, source);
      ++clients;
      if (source == c.max_len()) ASSERT_NE(got, nullptr) << "full-length miss";
      if (!got) continue;
      ++hits;
      ASSERT_EQ(got->value, want.value) << "round " << round << " source " << source;
      ASSERT_EQ(got->length, want.length) << "round " << round;
      ASSERT_EQ(got->scope, want.scope) << "round " << round << " source " << source;
    }
  }
  EXPECT_GE(clients, 20000u);
  EXPECT_GT(hits, clients / 2);
}

TEST(TrieRegions, TenThousandPrefixesMeasured) {
  std::mt19937_64 rng(4242);
  PrefixTrie trie;
  for (int i = 0; i < 10000; ++i) {
    IpPrefix p;
    p.ipv6 = i % 2;
    const uint64_t r = rng();
    for (auto& b : p.address) b = static_cast<uint8_t>(rng());
    p.length = static_cast<uint8_t>(p.ipv6 ? 16 + r % 49 : 8 + r % 17);  // /16../64, /8../24
    p.address = mask(p.address, p.length);
    trie.insert(p, static_cast<uint32_t>(i));
  }
  const auto start = std::chrono::steady_clock::now();
  size_t count = 0;
  trie.for_each_region([&](const IpPrefix&, const PrefixTrie::Match&) { ++count; });
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(count, trie.region_count());
  std::printf("PrefixTrie of %zu random prefixes: %zu regions in %.1f ms\n", trie.prefix_count(),
              count, ms);
  RecordProperty("regions", std::to_string(count));
  RecordProperty("enumerate_ms", std::to_string(ms));
  EXPECT_LT(ms, 5000.0);
}

// ---- geolocation regions against the classifier ----

const char* kCityJson = R"({"ip_version": 6, "database_type": "Meridian-Test-City",
  "alias_ipv6_to_ipv4": %ALIAS%, "networks": [
  {"network": "198.18.0.0/15", "continent": "EU", "country": "NL"},
  {"network": "198.18.1.0/24", "continent": "EU", "country": "DE", "subdivision": "BY",
   "latitude": 48.1, "longitude": 11.6},
  {"network": "198.18.2.0/23", "continent": "NA", "country": "US", "subdivision": "CA"},
  {"network": "198.18.2.128/25", "continent": "NA", "country": "US", "subdivision": "NY"},
  {"network": "198.19.0.0/16", "continent": "OC", "country": "AU"},
  {"network": "10.0.0.0/8", "country": "FR"},
  {"network": "192.0.2.128/25", "country": "GB", "subdivision": "ENG"},
  {"network": "0.0.0.0/8", "country": "ZZ"},
  {"network": "255.255.255.0/24", "continent": "AN"},
  {"network": "fd00:18::/32", "continent": "AS", "country": "JP"},
  {"network": "fd00:18:1::/48", "continent": "AS", "country": "JP", "subdivision": "13",
   "latitude": 35.7, "longitude": 139.7},
  {"network": "2001:db8:100::/40", "continent": "SA", "country": "BR"},
  {"network": "ffff::/16", "country": "CA", "subdivision": "QC"}]})";

const char* kCountryJson = R"({"ip_version": 6, "database_type": "Meridian-Test-Country",
  "alias_ipv6_to_ipv4": true, "networks": [
  {"network": "198.18.0.0/15", "continent": "EU", "country": "DE"},
  {"network": "198.18.128.0/17", "continent": "EU", "country": "AT"},
  {"network": "100.64.0.0/10", "country": "IN"},
  {"network": "2a00:18::/29", "continent": "EU", "country": "DE"},
  {"network": "2a00:18:4::/46", "continent": "EU", "country": "CH"}]})";

// The IPv4 tree ends above ::/96 (::/16 is one network): IPv4 lookups stop at prefix 0.
const char* kShortJson = R"({"ip_version": 6, "alias_ipv6_to_ipv4": false, "networks": [
  {"network": "::/16", "country": "SE"},
  {"network": "fd00:18::/32", "country": "NO"}]})";

const char* kV4Json = R"({"ip_version": 4, "networks": [
  {"network": "198.18.0.0/15", "continent": "EU", "country": "NL"},
  {"network": "198.18.64.0/18", "continent": "EU", "country": "BE", "subdivision": "VLG"},
  {"network": "203.0.113.0/24", "continent": "AS", "country": "SG"}]})";

struct DbCase {
  const char* name;
  std::string json;
  std::vector<std::string> networks;  // where clients are drawn from
};

std::string with_alias(std::string s, bool alias) {
  s.replace(s.find("%ALIAS%"), 7, alias ? "true" : "false");
  return s;
}

std::vector<DbCase> db_cases() {
  const std::vector<std::string> city = {
      "198.18.0.0/15", "198.18.1.0/24",    "198.18.2.128/25", "10.0.0.0/8",     "192.0.2.128/25",
      "0.0.0.0/8",     "255.255.255.0/24", "fd00:18::/32",    "fd00:18:1::/48", "2001:db8:100::/40",
      "ffff::/16",     "2002::/16",        "::/96",           "::ffff:0:0/96",  "2001::/32"};
  return {
      {"city_aliased", with_alias(kCityJson, true), city},
      {"city_plain", with_alias(kCityJson, false), city},
      {"country",
       kCountryJson,
       {"198.18.0.0/15", "198.18.128.0/17", "100.64.0.0/10", "2a00:18::/29", "2a00:18:4::/46"}},
      {"short_ipv4_tree", kShortJson, {"::/16", "::/96", "::ffff:0:0/96", "fd00:18::/32"}},
      {"ipv4_only", kV4Json, {"198.18.0.0/15", "198.18.64.0/18", "203.0.113.0/24"}},
  };
}

// IPv6 space that for_each_leaf() leaves out, per database: lookup() answers ::ffff:0:0/96 from
// the IPv4 tree; ::/96 is reported as IPv4 when it holds the IPv4 tree; the writer's aliases.
std::vector<IpPrefix> skipped(const std::string& name) {
  if (name == "ipv4_only") return {};
  std::vector<IpPrefix> out = {prefix("::ffff:0:0/96")};
  if (name != "short_ipv4_tree") out.push_back(prefix("::/96"));
  if (name == "city_aliased" || name == "country") {
    out.push_back(prefix("2001::/32"));
    out.push_back(prefix("2002::/16"));
  }
  return out;
}

bool in_any(const std::vector<IpPrefix>& ps, const Addr& a, bool ipv6) {
  return std::any_of(ps.begin(), ps.end(), [&](const IpPrefix& p) { return contains(p, a, ipv6); });
}

class GeoRegionsTest : public ::testing::TestWithParam<int> {};

TEST_P(GeoRegionsTest, RegionsTileTheSpaceAndAgreeWithTheClassifier) {
  const DbCase dbc = db_cases()[GetParam()];
  SCOPED_TRACE(dbc.name);
  meridian::testing::TempDir dir;
  const std::string path = meridian::testing::build_test_mmdb(dir, dbc.name, dbc.json);
  ASSERT_FALSE(path.empty()) << "make_test_mmdb.pl failed";
  auto db = geo::GeoDatabase::open(path);
  ASSERT_TRUE(db.ok()) << db.error().to_string();
  const bool v6_db = db->ip_version() == 6;

  // The leaves themselves: each one's GeoInfo is what lookup() says at its edges and inside.
  ClientGen gen(777 + GetParam());
  std::vector<IpPrefix> leaves;
  auto walked = db->for_each_leaf([&](const geo::GeoNetwork& n, const geo::GeoInfo& info) {
    IpPrefix p;
    p.ipv6 = n.ipv6;
    p.length = static_cast<uint8_t>(n.prefix_len);
    std::memcpy(p.address.data(), n.address, 16);
    leaves.push_back(p);
    for (int k = 0; k < 4; ++k) {
      Addr a = k == 0 ? p.address : gen.near(p);
      if (!contains(p, a, p.ipv6)) a = p.address;
      auto want = db->lookup(a.data(), p.ipv6);
      EXPECT_TRUE(want.ok()) << to_string(p);
      if (!want.ok()) continue;
      EXPECT_EQ(want->found, info.found) << to_string(p);
      EXPECT_EQ(want->continent, info.continent) << to_string(p);
      EXPECT_EQ(want->country, info.country) << to_string(p);
      EXPECT_EQ(want->subdivision, info.subdivision) << to_string(p);
      EXPECT_EQ(want->location.has_value(), info.location.has_value()) << to_string(p);
      EXPECT_EQ(want->prefix_len, info.prefix_len) << to_string(p);
    }
    return true;
  });
  ASSERT_TRUE(walked.ok()) << walked.error().to_string();
  ASSERT_TRUE(*walked);
  const std::vector<IpPrefix> gaps = skipped(dbc.name);
  expect_partition(leaves, false, {}, std::string(dbc.name) + " IPv4 leaves");
  if (v6_db) expect_partition(leaves, true, gaps, std::string(dbc.name) + " IPv6 leaves");

  // A decision table over the database, a latency table and two CIDR collections.
  GslbInputs in;
  in.geo = &*db;
  in.latency = {{"198.18.0.0/15", "eu-central-1", 20}, {"198.18.1.0/24", "us-east-1", 90},
                {"0.0.0.0/0", "us-east-1", 150},       {"fd00:18::/32", "eu-central-1", 30},
                {"fd00:18:1::/64", "us-east-1", 80},   {"2001:db8:100:1::/64", "us-east-1", 9},
                {"::ffff:0:0/96", "us-east-1", 7}};
  in.cidr_collections["office"] = {{"198.18.1.0/24", "berlin"},
                                   {"198.18.0.0/16", "campus"},
                                   {"10.0.0.0/8", "lan"},
                                   {"fd00:18:1::/48", "tokyo"},
                                   {"fd00:18::/32", "asia"}};
  in.cidr_collections["wide"] = {{"0.0.0.0/0", "all4"}, {"::/0", "all6"}};
  auto table = DecisionTable::build(zone::ZoneSet{}, in);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  const DecisionTable& t = **table;
  ASSERT_EQ(t.cidr_collection_count(), 2u);
  const ClientClassifier classifier(t);

  std::vector<IpPrefix> geo_regions;
  RegionLpm<GeoRegion> geo_ref;
  const auto start = std::chrono::steady_clock::now();
  auto status = for_each_geo_region(*db, [&](const IpPrefix& p, const mdn_client& c, uint8_t s) {
    EXPECT_EQ(c.latency_profile, 0u);
    geo_regions.push_back(p);
    geo_ref.add(p, GeoRegion{c, s});
  });
  ASSERT_TRUE(status.ok()) << status.error().to_string();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  expect_partition(geo_regions, false, {}, std::string(dbc.name) + " IPv4 geo regions");
  if (v6_db) expect_partition(geo_regions, true, gaps, std::string(dbc.name) + " IPv6 regions");

  RegionLpm<PrefixTrie::Match> latency_ref;
  t.latency_prefixes().for_each_region(
      [&](const IpPrefix& p, const PrefixTrie::Match& m) { latency_ref.add(p, m); });
  std::vector<RegionLpm<PrefixTrie::Match>> cidr_ref(t.cidr_collection_count() + 1);
  for (uint32_t id = 1; id <= t.cidr_collection_count(); ++id) {
    const std::vector<IpPrefix> rs = trie_regions(*t.cidr_collection(id));
    expect_partition(rs, false, {}, "cidr " + std::to_string(id));
    expect_partition(rs, true, {}, "cidr " + std::to_string(id));
    t.cidr_collection(id)->for_each_region(
        [&](const IpPrefix& p, const PrefixTrie::Match& m) { cidr_ref[id].add(p, m); });
  }
  std::printf("%s: %zu geo regions in %.2f ms, %zu latency regions\n", dbc.name, geo_regions.size(),
              ms, latency_ref.size());

  std::vector<IpPrefix> nets;
  for (const auto& s : dbc.networks) nets.push_back(prefix(s));
  size_t clients = 0, geo_hits = 0;
  for (int q = 0; q < 6000; ++q) {
    const bool v6 = gen.next() % 2 == 1;
    Addr a;
    switch (gen.next() % 4) {
      case 0: {
        const IpPrefix& p = geo_regions[gen.next() % geo_regions.size()];
        a = p.ipv6 == v6 ? gen.near(p) : gen.any(v6);
        break;
      }
      case 1:
      case 2: {
        const IpPrefix& p = nets[gen.next() % nets.size()];
        a = p.ipv6 == v6 ? gen.near(p) : gen.any(v6);
        break;
      }
      default:
        a = gen.any(v6);
    }
    const int source = gen.source(v6);
    const ClientAddress c = client_of(a, v6, source);
    SCOPED_TRACE(to_string(IpPrefix{v6, c.address, static_cast<uint8_t>(source)}));
    const ClientFacts want = classifier.classify(c);
    ++clients;

    const GeoRegion* g = geo_ref.lookup(c.address, v6, source);
    const bool must_hit = source == c.max_len() && (v6_db || !v6) && !in_any(gaps, a, v6);
    if (must_hit) ASSERT_NE(g, nullptr) << "full-length client outside every region";
    if (g) {
      ++geo_hits;
      EXPECT_EQ(g->scope, want.geo_scope);
      EXPECT_EQ(g->facts.continent, want.client.continent);
      EXPECT_EQ(g->facts.country, want.client.country);
      EXPECT_EQ(g->facts.subdivision, want.client.subdivision);
      EXPECT_EQ(g->facts.has_point, want.client.has_point);
      EXPECT_EQ(std::memcmp(&g->facts.point, &want.client.point, sizeof want.client.point), 0);
    }

    const PrefixTrie::Match* l = latency_ref.lookup(c.address, v6, source);
    if (source == c.max_len()) ASSERT_NE(l, nullptr);
    if (l) {
      EXPECT_EQ(l->value == PrefixTrie::kNone ? MDN_NO_PROFILE : l->value,
                want.client.latency_profile);
      EXPECT_EQ(l->scope, want.latency_scope);
    }
    for (uint32_t id = 1; id <= t.cidr_collection_count(); ++id) {
      uint8_t scope = 255;
      const uint32_t loc = classifier.cidr_location(id, c, &scope);
      const PrefixTrie::Match* m = cidr_ref[id].lookup(c.address, v6, source);
      if (source == c.max_len()) ASSERT_NE(m, nullptr);
      if (!m) continue;
      EXPECT_EQ(m->value == PrefixTrie::kNone ? MDN_NO_LOCATION : m->value, loc);
      EXPECT_EQ(m->scope, scope);
    }
    if (HasFailure()) break;
  }
  EXPECT_EQ(clients, 6000u);
  EXPECT_GT(geo_hits, clients / 3);
}

INSTANTIATE_TEST_SUITE_P(Databases, GeoRegionsTest, ::testing::Range(0, 5),
                         [](const auto& p) { return std::string(db_cases()[p.param].name); });

// The default database scripts/setup.sh builds: region count and enumeration time (reported),
// the regions tile IPv4 and (outside the skipped subtrees) IPv6, and sampled clients agree.
TEST(GeoRegionsDefaultDatabase, CountTimeAndSampledAgreement) {
  const char* path = "/var/lib/meridian/geoip/country.mmdb";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not built (scripts/setup.sh)";
  auto db = geo::GeoDatabase::open(path);
  ASSERT_TRUE(db.ok()) << db.error().to_string();
  std::vector<IpPrefix> regions;
  RegionLpm<GeoRegion> ref;
  const auto start = std::chrono::steady_clock::now();
  auto status = for_each_geo_region(*db, [&](const IpPrefix& p, const mdn_client& c, uint8_t s) {
    regions.push_back(p);
    ref.add(p, GeoRegion{c, s});
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(status.ok()) << status.error().to_string();
  size_t v4 = 0;
  for (const auto& r : regions) v4 += !r.ipv6;
  std::printf("default database: %zu geo regions (%zu IPv4, %zu IPv6) enumerated in %.2f s\n",
              regions.size(), v4, regions.size() - v4, seconds);
  RecordProperty("regions", std::to_string(regions.size()));
  RecordProperty("enumerate_seconds", std::to_string(seconds));
  EXPECT_LT(seconds, 60.0);
  expect_partition(regions, false, {}, "default IPv4");
  // The writer aliases 6to4 and Teredo; whether they are present depends on the data.
  std::vector<IpPrefix> gaps = {prefix("::/96"), prefix("::ffff:0:0/96")};
  if (!ref.lookup(prefix("2002::/16").address, true, 16)) gaps.push_back(prefix("2002::/16"));
  if (!ref.lookup(prefix("2001::/32").address, true, 32)) gaps.push_back(prefix("2001::/32"));
  expect_partition(regions, true, gaps, "default IPv6");

  GslbInputs in;
  in.geo = &*db;
  auto table = DecisionTable::build(zone::ZoneSet{}, in);
  ASSERT_TRUE(table.ok());
  const ClientClassifier classifier(**table);
  ClientGen gen(99);
  for (int q = 0; q < 4000; ++q) {
    const bool v6 = q % 2;
    const IpPrefix& p = regions[gen.next() % regions.size()];
    const Addr a = p.ipv6 == v6 ? gen.near(p) : gen.any(v6);
    const int source = gen.source(v6);
    const ClientAddress c = client_of(a, v6, source);
    const GeoRegion* g = ref.lookup(c.address, v6, source);
    if (source == c.max_len() && !in_any(gaps, a, v6)) ASSERT_NE(g, nullptr);
    if (!g) continue;
    const ClientFacts want = classifier.classify(c);
    ASSERT_EQ(g->scope, want.geo_scope);
    ASSERT_EQ(std::memcmp(&g->facts, &want.client, sizeof want.client), 0);
  }
}

}  // namespace
}  // namespace meridian::policy
