// The country and subdivision centroid table (userspace/geo/data/*.csv, embedded at build time):
// where a client is when its geolocation database has no coordinates, and each country's
// continent.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "geo/geo_database.h"
#include "geo/geo_point.h"

namespace meridian::geo {

struct CountryCentroid {
  std::string continent;  // AF, AN, AS, EU, NA, OC, SA
  LatLon location;
  std::string name;
};

struct SubdivisionCentroid {
  LatLon location;
  std::string name;
};

// True for the seven continent codes used by GeoIP databases and Route 53.
bool is_continent_code(std::string_view code);

class CentroidTable {
 public:
  // The embedded table, parsed once (it is checked by the unit tests, so it always parses).
  static const CentroidTable& builtin();
  // Parses the two CSV texts (formats in docs/geolocation.md); errors name the source and line.
  static Result<CentroidTable> parse(std::string_view country_csv,
                                     std::string_view subdivision_csv);

  // By ISO 3166-1 alpha-2 code ("DE") or ISO 3166-2 code ("US-CA"), upper case.
  const CountryCentroid* country(std::string_view code) const;
  const SubdivisionCentroid* subdivision(std::string_view code) const;

  // Where to put a client: the database's own coordinates, else the subdivision centroid, else
  // the country centroid; nothing when none of them is known.
  std::optional<LatLon> locate(const GeoInfo& info) const;
  // Fills in a missing continent from the country (some databases carry only the country).
  void complete(GeoInfo& info) const;

  const std::map<std::string, CountryCentroid, std::less<>>& countries() const {
    return countries_;
  }
  const std::map<std::string, SubdivisionCentroid, std::less<>>& subdivisions() const {
    return subdivisions_;
  }

 private:
  std::map<std::string, CountryCentroid, std::less<>> countries_;
  std::map<std::string, SubdivisionCentroid, std::less<>> subdivisions_;
};

}  // namespace meridian::geo
