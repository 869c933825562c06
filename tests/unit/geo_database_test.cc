// GeoDatabase against real MaxMind DB files built at test time by tests/tools/make_test_mmdb.pl
// (the MaxMind writer from Debian): lookups, prefix lengths, IPv4 in IPv6 trees with and
// without aliases, an IPv4-only tree, the whole-tree walk, and open errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "geo/centroids.h"
#include "geo/geo_database.h"
#include "unit/test_files.h"

namespace meridian::geo {
namespace {

namespace fs = std::filesystem;

using meridian::testing::TempDir;

std::string build_db(const TempDir& dir, const std::string& name, const std::string& json) {
  return meridian::testing::build_test_mmdb(dir, name, json);
}

const char* kCityJson = R"({"ip_version": 6, "database_type": "Meridian-Test-City",
  "alias_ipv6_to_ipv4": %ALIAS%, "networks": [
  {"network": "198.18.1.0/24", "continent": "EU", "country": "DE", "subdivision": "BY",
   "latitude": 48.1, "longitude": 11.6},
  {"network": "198.18.2.0/23", "continent": "NA", "country": "US", "subdivision": "CA"},
  {"network": "198.19.0.0/16", "continent": "OC", "country": "AU"},
  {"network": "192.0.2.128/25", "country": "FR"},
  {"network": "fd00:18:1::/48", "continent": "AS", "country": "JP", "latitude": 35.7,
   "longitude": 139.7},
  {"network": "2001:db8:100::/40", "continent": "SA", "country": "BR"}]})";

std::string city_json(bool alias) {
  std::string s = kCityJson;
  s.replace(s.find("%ALIAS%"), 7, alias ? "true" : "false");
  return s;
}

class GeoDatabaseTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = build_db(dir_, "city", city_json(GetParam()));
    ASSERT_FALSE(path_.empty()) << "make_test_mmdb.pl failed";
    auto db = GeoDatabase::open(path_);
    ASSERT_TRUE(db.ok()) << db.error().to_string();
    db_.emplace(std::move(db.value()));
  }
  TempDir dir_;
  std::string path_;
  std::optional<GeoDatabase> db_;
};

TEST_P(GeoDatabaseTest, LooksUpIpv4WithAllFields) {
  EXPECT_EQ(db_->ip_version(), 6);
  EXPECT_EQ(db_->database_type(), "Meridian-Test-City");
  auto info = db_->lookup("198.18.1.77");
  ASSERT_TRUE(info.ok()) << info.error().to_string();
  EXPECT_TRUE(info->found);
  EXPECT_EQ(info->continent, "EU");
  EXPECT_EQ(info->country, "DE");
  EXPECT_EQ(info->subdivision, "BY");
  EXPECT_EQ(info->subdivision_code(), "DE-BY");
  ASSERT_TRUE(info->location.has_value());
  EXPECT_DOUBLE_EQ(info->location->lat, 48.1);
  EXPECT_DOUBLE_EQ(info->location->lon, 11.6);
  EXPECT_EQ(info->prefix_len, 24);  // IPv4 terms, not 120

  auto us = db_->lookup("198.18.3.255");
  ASSERT_TRUE(us.ok());
  EXPECT_EQ(us->country, "US");
  EXPECT_EQ(us->subdivision_code(), "US-CA");
  EXPECT_FALSE(us->location.has_value());
  EXPECT_EQ(us->prefix_len, 23);
  // No coordinates in the database: the subdivision centroid stands in.
  const auto where = CentroidTable::builtin().locate(*us);
  ASSERT_TRUE(where.has_value());
  EXPECT_EQ(*where, CentroidTable::builtin().subdivision("US-CA")->location);

  // Only a country: the continent comes from the centroid table.
  auto fr = db_->lookup("192.0.2.200");
  ASSERT_TRUE(fr.ok());
  EXPECT_EQ(fr->continent, "");
  CentroidTable::builtin().complete(*fr);
  EXPECT_EQ(fr->continent, "EU");
}

TEST_P(GeoDatabaseTest, MissesReportTheEmptyPrefix) {
  auto info = db_->lookup("198.18.0.1");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->found);
  EXPECT_EQ(info->country, "");
  // 198.18.0.0/24 has no data, and the answer holds for that whole /24.
  EXPECT_EQ(info->prefix_len, 24);
}

TEST_P(GeoDatabaseTest, LooksUpIpv6AndMappedIpv4) {
  auto jp = db_->lookup("fd00:18:1:abcd::1");
  ASSERT_TRUE(jp.ok());
  EXPECT_EQ(jp->country, "JP");
  EXPECT_EQ(jp->prefix_len, 48);
  auto br = db_->lookup("2001:db8:1ff:ffff::");
  ASSERT_TRUE(br.ok());
  EXPECT_EQ(br->country, "BR");
  EXPECT_EQ(br->prefix_len, 40);
  auto mapped = db_->lookup("::ffff:198.19.5.5");
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(mapped->country, "AU");
  EXPECT_EQ(mapped->prefix_len, 16);
  EXPECT_FALSE(db_->lookup("not-an-address").ok());
  EXPECT_FALSE(db_->lookup("198.18.1").ok());
}

TEST_P(GeoDatabaseTest, WalksEveryNetworkOnceInAddressOrder) {
  std::vector<std::string> seen;
  std::map<std::string, std::string> country;
  auto done = db_->for_each_network([&](const GeoNetwork& net, const GeoInfo& info) {
    seen.push_back(net.to_string());
    country[net.to_string()] = info.country;
    EXPECT_EQ(info.prefix_len, net.prefix_len);
    return true;
  });
  ASSERT_TRUE(done.ok()) << done.error().to_string();
  EXPECT_TRUE(*done);
  // IPv4 networks appear once, as IPv4, even when ::ffff:0:0/96 and 2002::/16 alias them.
  const std::vector<std::string> want = {"192.0.2.128/25", "198.18.1.0/24",     "198.18.2.0/23",
                                         "198.19.0.0/16",  "2001:db8:100::/40", "fd00:18:1::/48"};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(country["198.18.2.0/23"], "US");
  EXPECT_EQ(country["fd00:18:1::/48"], "JP");
}

TEST_P(GeoDatabaseTest, WalkStopsWhenAsked) {
  int calls = 0;
  auto done = db_->for_each_network([&](const GeoNetwork&, const GeoInfo&) { return ++calls < 2; });
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);
  EXPECT_EQ(calls, 2);
}

INSTANTIATE_TEST_SUITE_P(Aliases, GeoDatabaseTest, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "aliased" : "plain"; });

TEST(GeoDatabase, Ipv4OnlyTree) {
  TempDir dir;
  const std::string path = build_db(dir, "v4", R"({"ip_version": 4, "networks": [
    {"network": "198.18.0.0/15", "continent": "EU", "country": "NL"},
    {"network": "203.0.113.0/24", "continent": "AS", "country": "SG"}]})");
  ASSERT_FALSE(path.empty());
  auto db = GeoDatabase::open(path);
  ASSERT_TRUE(db.ok()) << db.error().to_string();
  EXPECT_EQ(db->ip_version(), 4);
  auto nl = db->lookup("198.19.255.255");
  ASSERT_TRUE(nl.ok());
  EXPECT_EQ(nl->country, "NL");
  EXPECT_EQ(nl->prefix_len, 15);
  EXPECT_FALSE(db->lookup("2001:db8::1").ok());  // IPv6 in an IPv4 tree
  std::vector<std::string> seen;
  ASSERT_TRUE(db->for_each_network([&](const GeoNetwork& n, const GeoInfo&) {
                  seen.push_back(n.to_string());
                  return true;
                }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"198.18.0.0/15", "203.0.113.0/24"}));
}

// The default database that scripts/setup.sh builds from tor-geoipdb: the whole-tree walk is
// fast, never yields IPv4 space twice, and agrees with point lookups.
TEST(GeoDatabase, DefaultCountryDatabaseWalk) {
  const char* path = "/var/lib/meridian/geoip/country.mmdb";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not built (scripts/setup.sh builds it)";
  auto db = GeoDatabase::open(path);
  ASSERT_TRUE(db.ok()) << db.error().to_string();
  EXPECT_EQ(db->database_type(), "Meridian-Country");
  std::size_t v4 = 0, v6 = 0;
  std::vector<GeoNetwork> sample;
  const auto start = std::chrono::steady_clock::now();
  auto done = db->for_each_network([&](const GeoNetwork& net, const GeoInfo& info) {
    (net.ipv6 ? v6 : v4)++;
    // IPv6 aliases of the IPv4 space must not show up.
    if (net.ipv6) {
      EXPECT_FALSE(net.address[0] == 0x20 && net.address[1] == 0x02) << net.to_string();
      EXPECT_FALSE(net.address[0] == 0 && net.address[1] == 0) << net.to_string();
    }
    EXPECT_TRUE(info.found);
    if ((v4 + v6) % 997 == 0) sample.push_back(net);
    return true;
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(done.ok()) << done.error().to_string();
  RecordProperty("networks_v4", std::to_string(v4));
  RecordProperty("networks_v6", std::to_string(v6));
  RecordProperty("walk_seconds", std::to_string(seconds));
  std::printf("default database: %zu IPv4 + %zu IPv6 networks walked in %.2f s\n", v4, v6, seconds);
  EXPECT_GT(v4, 100000u);
  EXPECT_GT(v6, 50000u);
  EXPECT_LT(seconds, 60.0);  // seconds, not minutes, even under ASan
  // Every sampled network, looked up by its first address, gives itself back.
  for (const GeoNetwork& net : sample) {
    auto info = db->lookup(net.address, net.ipv6);
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->found) << net.to_string();
    EXPECT_EQ(info->prefix_len, net.prefix_len) << net.to_string();
  }
  EXPECT_GT(sample.size(), 100u);
}

// scripts/build-geoip-db.sh on small files in Tor's format: countries get their continent and
// centroid, UK is GB, EU is a continent only, unknown codes and 6to4 lines are left out, and
// adjacent IPv4 ranges of one country merge into one network.
TEST(GeoDatabase, BuildScriptConvertsTorRanges) {
  TempDir dir;
  // Public ranges, because the production writer drops reserved networks (198.18.0.0/15, ...)
  // like any GeoIP database; this is file content only, no traffic. 5.1.0.0/24 and 5.1.1.0/24 DE
  // (adjacent: one /23), 5.1.2.0/24 UK, 5.1.3.0/24 EU, 5.1.4.0/24 ??.
  std::ofstream(dir.path() + "/geoip") << "# comment\n"
                                          "83951616,83951871,DE\n"
                                          "83951872,83952127,DE\n"
                                          "83952128,83952383,UK\n"
                                          "83952384,83952639,EU\n"
                                          "83952640,83952895,??\n";
  std::ofstream(dir.path() + "/geoip6") << "2a00:18:1::,2a00:18:1:ffff:ffff:ffff:ffff:ffff,JP\n"
                                           "2002::,2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff,US\n";
  const std::string out = dir.path() + "/country.mmdb";
  const std::string cmd = "MERIDIAN_GEOIP4='" + dir.path() + "/geoip' MERIDIAN_GEOIP6='" +
                          dir.path() +
                          "/geoip6' bash " MERIDIAN_SOURCE_DIR "/scripts/build-geoip-db.sh '" +
                          out + "' >" + dir.path() + "/build.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "see " << dir.path() << "/build.log";
  auto db = GeoDatabase::open(out);
  ASSERT_TRUE(db.ok()) << db.error().to_string();
  EXPECT_EQ(db->database_type(), "Meridian-Country");

  auto de = db->lookup("5.1.1.9");
  ASSERT_TRUE(de.ok());
  EXPECT_EQ(de->country, "DE");
  EXPECT_EQ(de->continent, "EU");
  EXPECT_EQ(de->prefix_len, 23);
  ASSERT_TRUE(de->location.has_value());
  EXPECT_EQ(*de->location, CentroidTable::builtin().country("DE")->location);
  EXPECT_EQ(db->lookup("5.1.2.1")->country, "GB");
  auto eu = db->lookup("5.1.3.1");
  EXPECT_TRUE(eu->found);
  EXPECT_EQ(eu->continent, "EU");
  EXPECT_EQ(eu->country, "");
  EXPECT_FALSE(db->lookup("5.1.4.1")->found);
  EXPECT_EQ(db->lookup("2a00:18:1::99")->country, "JP");
  // 6to4 follows the IPv4 data (2002:501:109:: embeds 5.1.1.9), not the geoip6 line.
  EXPECT_EQ(db->lookup("2002:501:109::1")->country, "DE");

  std::vector<std::string> seen;
  ASSERT_TRUE(db->for_each_network([&](const GeoNetwork& n, const GeoInfo&) {
                  seen.push_back(n.to_string());
                  return true;
                }).ok());
  EXPECT_EQ(seen,
            (std::vector<std::string>{"5.1.0.0/23", "5.1.2.0/24", "5.1.3.0/24", "2a00:18:1::/48"}));
}

TEST(GeoDatabase, OpenErrorsNameTheFile) {
  TempDir dir;
  auto missing = GeoDatabase::open(dir.path() + "/nope.mmdb");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().where, dir.path() + "/nope.mmdb");
  EXPECT_NE(missing.error().what.find("No such file"), std::string::npos)
      << missing.error().to_string();

  const std::string junk = dir.path() + "/junk.mmdb";
  std::ofstream(junk) << "this is not a MaxMind DB file";
  auto bad = GeoDatabase::open(junk);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().where, junk);
  EXPECT_NE(bad.error().what.find("geolocation database"), std::string::npos);
}

}  // namespace
}  // namespace meridian::geo
