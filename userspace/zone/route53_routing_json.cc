// The routing-policy fields of a Route 53 ResourceRecordSet, one reader per policy; the rules of
// each field are Route 53's (values, ranges and required companions), with the same messages.
#include "zone/route53_routing_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/json_fields.h"
#include "zone/geolocation_code_data.h"

namespace meridian::zone {
namespace {

using nlohmann::json;

const std::set<std::string> kContinents = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

bool is_country_code(const std::string& code) {
  return std::binary_search(geolocation_data::kCountryCodes.begin(),
                            geolocation_data::kCountryCodes.end(), code);
}

// Case-insensitive, as before the codes were checked (the decision table upper-cases them).
bool is_us_subdivision_code(std::string code) {
  for (char& ch : code) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return std::binary_search(geolocation_data::kUsSubdivisionCodes.begin(),
                            geolocation_data::kUsSubdivisionCodes.end(), code);
}

Result<bool> read_weight(const json& value, const std::string& path, RecordSet& rs) {
  auto w = read_json_integer(value, path, 0, 255);
  if (!w) return w.error();
  rs.weight = static_cast<uint8_t>(*w);
  rs.policy = RoutingPolicy::kWeighted;
  return true;
}

Result<bool> read_latency_region(const json& value, const std::string& path, RecordSet& rs) {
  auto r = read_json_string(value, path);
  if (!r) return r.error();
  if (r->empty()) return json_error_at(path, "must not be empty");
  rs.region = *r;
  rs.policy = RoutingPolicy::kLatency;
  return true;
}

Result<bool> read_geolocation(const json& g, const std::string& p, RecordSet& rs) {
  if (!g.is_object()) return json_error_at(p, "must be an object");
  if (auto s = reject_unknown_fields(g, p, {"ContinentCode", "CountryCode", "SubdivisionCode"}); !s)
    return s.error();
  GeoLocation geo;
  if (g.contains("ContinentCode")) {
    auto c = read_json_string(g["ContinentCode"], p + "/ContinentCode");
    if (!c) return c.error();
    if (!kContinents.count(*c))
      return json_error_at(p + "/ContinentCode", "must be one of AF AN AS EU NA OC SA");
    geo.continent_code = *c;
  }
  if (g.contains("CountryCode")) {
    auto c = read_json_string(g["CountryCode"], p + "/CountryCode");
    if (!c) return c.error();
    if (*c != "*" && (c->size() != 2 || !std::isupper(static_cast<unsigned char>((*c)[0])) ||
                      !std::isupper(static_cast<unsigned char>((*c)[1]))))
      return json_error_at(p + "/CountryCode", "must be an ISO 3166-1 alpha-2 code or \"*\"");
    if (*c != "*" && !is_country_code(*c))
      return json_error_at(p + "/CountryCode",
                           "\"" + *c + "\" is not an ISO 3166-1 alpha-2 country code");
    geo.country_code = *c;
  }
  if (g.contains("SubdivisionCode")) {
    auto c = read_json_string(g["SubdivisionCode"], p + "/SubdivisionCode");
    if (!c) return c.error();
    if (geo.country_code.empty() || geo.country_code == "*")
      return json_error_at(p + "/SubdivisionCode", "needs a CountryCode");
    if (c->empty() || c->size() > 3)
      return json_error_at(p + "/SubdivisionCode", "must be 1 to 3 characters");
    if (geo.country_code != "US")
      return json_error_at(p + "/SubdivisionCode",
                           "is supported only with CountryCode \"US\" (Route 53 has "
                           "subdivisions for the United States only)");
    if (!is_us_subdivision_code(*c))
      return json_error_at(p + "/SubdivisionCode",
                           "\"" + *c + "\" is not a US state, DC or outlying area (ISO 3166-2:US)");
    geo.subdivision_code = *c;
  }
  if (geo.continent_code.empty() == geo.country_code.empty())
    return json_error_at(p, "needs exactly one of ContinentCode or CountryCode");
  rs.geolocation = geo;
  rs.policy = RoutingPolicy::kGeolocation;
  return true;
}

// A latitude or longitude: a JSON number or a numeric string (Route 53 prints them as strings),
// finite and within +-`limit`.
Result<double> read_coordinate(const json& v, const std::string& path, double limit) {
  double d;
  if (v.is_number())
    d = v.get<double>();
  else if (v.is_string()) {
    try {
      d = std::stod(v.get<std::string>());
    } catch (...) {
      return json_error_at(path, "must be a number");
    }
  } else
    return json_error_at(path, "must be a number");
  if (!std::isfinite(d) || d < -limit || d > limit) return json_error_at(path, "out of range");
  return d;
}

Result<bool> read_geoproximity(const json& g, const std::string& p, RecordSet& rs) {
  if (!g.is_object()) return json_error_at(p, "must be an object");
  if (auto s = reject_unknown_fields(g, p, {"AWSRegion", "LocalZoneGroup", "Coordinates", "Bias"});
      !s)
    return s.error();
  GeoProximityLocation geo;
  if (g.contains("AWSRegion")) {
    auto r = read_json_string(g["AWSRegion"], p + "/AWSRegion");
    if (!r) return r.error();
    geo.aws_region = *r;
  }
  if (g.contains("Coordinates")) {
    const json& c = g["Coordinates"];
    const std::string cp = p + "/Coordinates";
    if (!c.is_object() || !c.contains("Latitude") || !c.contains("Longitude"))
      return json_error_at(cp, "needs Latitude and Longitude");
    if (auto s = reject_unknown_fields(c, cp, {"Latitude", "Longitude"}); !s) return s.error();
    auto lat = read_coordinate(c["Latitude"], cp + "/Latitude", 90);
    if (!lat) return lat.error();
    auto lon = read_coordinate(c["Longitude"], cp + "/Longitude", 180);
    if (!lon) return lon.error();
    geo.latitude = *lat;
    geo.longitude = *lon;
  }
  if (geo.aws_region.empty() == !geo.latitude.has_value())
    return json_error_at(p, "needs exactly one of AWSRegion or Coordinates");
  if (g.contains("Bias")) {
    auto b = read_json_integer(g["Bias"], p + "/Bias", -99, 99);
    if (!b) return b.error();
    geo.bias = static_cast<int>(*b);
  }
  rs.geoproximity = geo;
  rs.policy = RoutingPolicy::kGeoproximity;
  return true;
}

Result<bool> read_cidr_routing(const json& c, const std::string& p, RecordSet& rs) {
  if (!c.is_object() || !c.contains("CollectionId") || !c.contains("LocationName"))
    return json_error_at(p, "needs CollectionId and LocationName");
  if (auto s = reject_unknown_fields(c, p, {"CollectionId", "LocationName"}); !s) return s.error();
  auto id = read_json_string(c["CollectionId"], p + "/CollectionId");
  if (!id) return id.error();
  auto loc = read_json_string(c["LocationName"], p + "/LocationName");
  if (!loc) return loc.error();
  rs.cidr_routing = CidrRoutingConfig{*id, *loc};
  rs.policy = RoutingPolicy::kIpBased;
  return true;
}

Result<bool> read_failover(const json& value, const std::string& path, RecordSet& rs) {
  auto f = read_json_string(value, path);
  if (!f) return f.error();
  if (*f == "PRIMARY")
    rs.failover = FailoverRole::kPrimary;
  else if (*f == "SECONDARY")
    rs.failover = FailoverRole::kSecondary;
  else
    return json_error_at(path, "must be PRIMARY or SECONDARY");
  rs.policy = RoutingPolicy::kFailover;
  return true;
}

Result<bool> read_multivalue(const json& value, const std::string& path, RecordSet& rs) {
  auto on = read_json_bool(value, path);
  if (!on) return on.error();
  if (*on) rs.policy = RoutingPolicy::kMultivalue;
  return *on;
}

}  // namespace

const std::array<RoutingField, 7> kRoutingFields = {{
    {"Weight", read_weight},
    {"Region", read_latency_region},
    {"GeoLocation", read_geolocation},
    {"GeoProximityLocation", read_geoproximity},
    {"CidrRoutingConfig", read_cidr_routing},
    {"Failover", read_failover},
    {"MultiValueAnswer", read_multivalue},
}};

}  // namespace meridian::zone
