// The built-in cloud region table and operator-defined regions.
#include "geo/regions.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace meridian::geo {
namespace {

// Coordinates are the metro area each region is announced for (public region names), rounded
// to 0.1 degree; data centres sit within some tens of km, far below what DNS steering resolves.
constexpr std::array<BuiltinRegion, 33> kRegions = {{
    {"af-south-1", "Cape Town, South Africa", {-33.9, 18.4}},
    {"ap-east-1", "Hong Kong", {22.3, 114.2}},
    {"ap-northeast-1", "Tokyo, Japan", {35.7, 139.7}},
    {"ap-northeast-2", "Seoul, South Korea", {37.6, 127.0}},
    {"ap-northeast-3", "Osaka, Japan", {34.7, 135.5}},
    {"ap-south-1", "Mumbai, India", {19.1, 72.9}},
    {"ap-south-2", "Hyderabad, India", {17.4, 78.5}},
    {"ap-southeast-1", "Singapore", {1.3, 103.8}},
    {"ap-southeast-2", "Sydney, Australia", {-33.9, 151.2}},
    {"ap-southeast-3", "Jakarta, Indonesia", {-6.2, 106.8}},
    {"ap-southeast-4", "Melbourne, Australia", {-37.8, 145.0}},
    {"ap-southeast-5", "Kuala Lumpur, Malaysia", {3.1, 101.7}},
    {"ap-southeast-7", "Bangkok, Thailand", {13.8, 100.5}},
    {"ca-central-1", "Montreal, Canada", {45.5, -73.6}},
    {"ca-west-1", "Calgary, Canada", {51.0, -114.1}},
    {"eu-central-1", "Frankfurt, Germany", {50.1, 8.7}},
    {"eu-central-2", "Zurich, Switzerland", {47.4, 8.5}},
    {"eu-north-1", "Stockholm, Sweden", {59.3, 18.1}},
    {"eu-south-1", "Milan, Italy", {45.5, 9.2}},
    {"eu-south-2", "Aragon, Spain", {41.6, -0.9}},
    {"eu-west-1", "Dublin, Ireland", {53.3, -6.3}},
    {"eu-west-2", "London, United Kingdom", {51.5, -0.1}},
    {"eu-west-3", "Paris, France", {48.9, 2.4}},
    {"il-central-1", "Tel Aviv, Israel", {32.1, 34.8}},
    {"me-central-1", "United Arab Emirates", {25.2, 55.3}},
    {"me-south-1", "Bahrain", {26.1, 50.6}},
    {"mx-central-1", "Queretaro, Mexico", {20.6, -100.4}},
    {"sa-east-1", "Sao Paulo, Brazil", {-23.5, -46.6}},
    {"us-east-1", "Northern Virginia, USA", {39.0, -77.5}},
    {"us-east-2", "Ohio, USA", {40.0, -83.0}},
    {"us-gov-west-1", "Oregon, USA (GovCloud)", {45.8, -119.7}},
    {"us-west-1", "Northern California, USA", {37.3, -121.9}},
    {"us-west-2", "Oregon, USA", {45.8, -119.7}},
}};

}  // namespace

std::span<const BuiltinRegion> builtin_regions() {
  return kRegions;
}

bool is_valid_region_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() < 'a' || name.front() > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

RegionTable::RegionTable() {
  for (const auto& r : kRegions) regions_.emplace(std::string(r.name), Entry{r.coordinates, true});
}

Status RegionTable::add(std::string_view name, LatLon coordinates) {
  if (!is_valid_region_name(name))
    return make_error(
        fmt::format("invalid region name '{}': use 1-63 characters a-z, 0-9 and "
                    "'-', starting with a letter",
                    name));
  if (!is_valid(coordinates))
    return make_error(
        fmt::format("region '{}': coordinates {} out of range (latitude -90..90, "
                    "longitude -180..180)",
                    name, to_string(coordinates)));
  auto it = regions_.find(name);
  if (it != regions_.end())
    return make_error(fmt::format("region '{}' is already defined{}", name,
                                  it->second.builtin ? " (built in)" : ""));
  regions_.emplace(std::string(name), Entry{coordinates, false});
  return Ok{};
}

const LatLon* RegionTable::find(std::string_view name) const {
  auto it = regions_.find(name);
  return it == regions_.end() ? nullptr : &it->second.coordinates;
}

bool RegionTable::is_builtin(std::string_view name) const {
  auto it = regions_.find(name);
  return it != regions_.end() && it->second.builtin;
}

}  // namespace meridian::geo
