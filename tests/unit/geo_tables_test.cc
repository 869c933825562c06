// The built-in tables: cloud regions (every AWS commercial region, sane coordinates), user-defined
// region validation, and the embedded centroid CSVs (complete ISO 3166-1 list, continents,
// subdivisions, plausible positions).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "geo/centroids.h"
#include "geo/regions.h"

namespace meridian::geo {
namespace {

TEST(Regions, BuiltinTableHasTheAwsRegionsAtTheRightPlaces) {
  RegionTable table;
  for (const char* name :
       {"us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",      "ca-central-1",
        "ca-west-1",      "eu-west-1",      "eu-west-2",      "eu-west-3",      "eu-central-1",
        "eu-central-2",   "eu-north-1",     "eu-south-1",     "eu-south-2",     "ap-southeast-1",
        "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",     "ap-south-2",
        "ap-east-1",      "sa-east-1",      "me-south-1",     "me-central-1",   "il-central-1",
        "af-south-1",     "mx-central-1"}) {
    const LatLon* p = table.find(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_TRUE(is_valid(*p)) << name;
    EXPECT_TRUE(table.is_builtin(name));
  }
  // Each region sits in its country: within 2,500 km of the country centroid
  // (the centroids of Australia and the US are far inland).
  const auto& c = CentroidTable::builtin();
  const std::pair<const char*, const char*> in_country[] = {
      {"eu-west-1", "IE"},      {"eu-central-1", "DE"},   {"ap-northeast-1", "JP"},
      {"ap-southeast-2", "AU"}, {"sa-east-1", "BR"},      {"af-south-1", "ZA"},
      {"ap-south-1", "IN"},     {"me-south-1", "BH"},     {"eu-north-1", "SE"},
      {"us-east-1", "US"},      {"ap-southeast-1", "SG"}, {"mx-central-1", "MX"}};
  for (auto [region, country] : in_country)
    EXPECT_LT(distance_km(*table.find(region), c.country(country)->location), 2500u) << region;
  EXPECT_NEAR(distance_km(*table.find("eu-west-1"), *table.find("eu-west-2")), 465, 30);
  // Sorted and unique.
  std::string prev;
  for (const auto& r : builtin_regions()) {
    EXPECT_LT(prev, std::string(r.name));
    prev = std::string(r.name);
  }
}

TEST(Regions, UserDefinedRegionsAreValidated) {
  RegionTable table;
  const std::size_t builtin = table.size();
  EXPECT_TRUE(table.add("edge-ams-1", {52.37, 4.90}).ok());
  ASSERT_NE(table.find("edge-ams-1"), nullptr);
  EXPECT_DOUBLE_EQ(table.find("edge-ams-1")->lat, 52.37);
  EXPECT_FALSE(table.is_builtin("edge-ams-1"));
  EXPECT_EQ(table.size(), builtin + 1);

  auto dup = table.add("edge-ams-1", {0, 0});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().what.find("already defined"), std::string::npos);
  auto shadow = table.add("eu-west-1", {0, 0});
  ASSERT_FALSE(shadow.ok());
  EXPECT_NE(shadow.error().what.find("built in"), std::string::npos);
  EXPECT_FALSE(table.add("", {0, 0}).ok());
  EXPECT_FALSE(table.add("Upper", {0, 0}).ok());
  EXPECT_FALSE(table.add("1st", {0, 0}).ok());
  EXPECT_FALSE(table.add("has space", {0, 0}).ok());
  EXPECT_FALSE(table.add(std::string(64, 'a'), {0, 0}).ok());
  EXPECT_TRUE(table.add(std::string(63, 'a'), {0, 0}).ok());
  EXPECT_FALSE(table.add("north", {90.1, 0}).ok());
  EXPECT_FALSE(table.add("west", {0, -180.5}).ok());
  EXPECT_FALSE(table.add("nan", {std::nan(""), 0}).ok());
  EXPECT_TRUE(table.add("pole", {90, 180}).ok());
  EXPECT_EQ(table.find("unknown-1"), nullptr);
}

TEST(Centroids, EveryIsoCountryWithItsContinent) {
  const auto& c = CentroidTable::builtin();
  EXPECT_EQ(c.countries().size(), 250u);  // the 249 ISO 3166-1 codes and XK (Kosovo)
  const std::map<std::string, std::string> spot = {
      {"US", "NA"}, {"BR", "SA"}, {"DE", "EU"}, {"JP", "AS"}, {"AU", "OC"}, {"ZA", "AF"},
      {"AQ", "AN"}, {"RU", "EU"}, {"TR", "AS"}, {"EG", "AF"}, {"NZ", "OC"}, {"MX", "NA"}};
  for (const auto& [code, continent] : spot) {
    ASSERT_NE(c.country(code), nullptr) << code;
    EXPECT_EQ(c.country(code)->continent, continent) << code;
  }
  for (const auto& [code, country] : c.countries()) {
    EXPECT_TRUE(is_continent_code(country.continent)) << code;
    EXPECT_TRUE(is_valid(country.location)) << code;
    EXPECT_FALSE(country.name.empty()) << code;
  }
  EXPECT_EQ(c.country("ZZ"), nullptr);
  // A few centroids against well-known capitals nearby (within 600 km).
  EXPECT_LT(distance_km(c.country("FR")->location, {48.86, 2.35}), 600u);
  EXPECT_LT(distance_km(c.country("JP")->location, {35.68, 139.69}), 600u);
  EXPECT_LT(distance_km(c.country("SG")->location, {1.29, 103.85}), 50u);
}

TEST(Centroids, SubdivisionsOfUsCanadaAustraliaGermany) {
  const auto& c = CentroidTable::builtin();
  std::map<std::string, int> per_country;
  for (const auto& [code, sub] : c.subdivisions()) {
    ++per_country[code.substr(0, 2)];
    // Each subdivision lies within 7,000 km of its country's centroid (Hawaii is the far one).
    EXPECT_LT(distance_km(sub.location, c.country(code.substr(0, 2))->location), 7000u) << code;
  }
  EXPECT_EQ(per_country["US"], 51);  // 50 states and DC
  EXPECT_EQ(per_country["CA"], 13);
  EXPECT_EQ(per_country["AU"], 8);
  EXPECT_EQ(per_country["DE"], 16);
  EXPECT_LT(distance_km(c.subdivision("DE-BE")->location, {52.52, 13.40}), 30u);
  EXPECT_LT(distance_km(c.subdivision("US-CA")->location, {36.8, -119.4}), 300u);
}

TEST(Centroids, LocateFallsBackFromCoordinatesToSubdivisionToCountry) {
  const auto& c = CentroidTable::builtin();
  GeoInfo info;
  info.country = "US";
  info.subdivision = "TX";
  EXPECT_EQ(*c.locate(info), c.subdivision("US-TX")->location);
  info.subdivision = "XX";  // unknown subdivision: the country
  EXPECT_EQ(*c.locate(info), c.country("US")->location);
  info.location = LatLon{30.27, -97.74};
  EXPECT_EQ(*c.locate(info), (LatLon{30.27, -97.74}));
  GeoInfo none;
  EXPECT_FALSE(c.locate(none).has_value());
}

TEST(Centroids, ParseErrorsNameFileAndLine) {
  const char* header = "code,continent,lat,lon,name\n";
  auto bad_continent =
      CentroidTable::parse(std::string(header) + "DE,XX,51,10,Germany\n", "code,lat,lon,name\n");
  ASSERT_FALSE(bad_continent.ok());
  EXPECT_EQ(bad_continent.error().where, "country_centroids.csv:2");
  auto bad_lat = CentroidTable::parse(std::string(header) + "# c\nDE,EU,91,10,Germany\n",
                                      "code,lat,lon,name\n");
  ASSERT_FALSE(bad_lat.ok());
  EXPECT_EQ(bad_lat.error().where, "country_centroids.csv:3");
  auto orphan = CentroidTable::parse(std::string(header) + "DE,EU,51,10,Germany\n",
                                     "code,lat,lon,name\nUS-CA,37,-119,California\n");
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.error().what.find("unknown country"), std::string::npos);
  auto dup = CentroidTable::parse(std::string(header) + "DE,EU,51,10,A\nDE,EU,51,10,B\n",
                                  "code,lat,lon,name\n");
  EXPECT_FALSE(dup.ok());
  auto quoted = CentroidTable::parse(std::string(header) + "BQ,NA,12.2,-68.3,\"B, S and S\"\n",
                                     "code,lat,lon,name\n");
  ASSERT_TRUE(quoted.ok()) << quoted.error().to_string();
  EXPECT_EQ(quoted->country("BQ")->name, "B, S and S");
}

}  // namespace
}  // namespace meridian::geo
