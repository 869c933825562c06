// Named regions with coordinates for latency and geoproximity routing: a built-in table of the
// common cloud regions (every AWS commercial region) plus operator-defined regions.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "geo/geo_point.h"

namespace meridian::geo {

struct BuiltinRegion {
  std::string_view name;      // "eu-west-1"
  std::string_view location;  // "Dublin, Ireland"
  LatLon coordinates;         // the metro area the region serves from, to about 0.1 degree
};

// The built-in table, sorted by name.
std::span<const BuiltinRegion> builtin_regions();

// Region names: 1-63 characters of a-z, 0-9 and '-', starting with a letter.
bool is_valid_region_name(std::string_view name);

class RegionTable {
 public:
  // Starts with the built-in regions.
  RegionTable();

  // Adds an operator-defined region. Rejects bad names, coordinates out of range, and names
  // already defined (built-in names included: a region means one place everywhere).
  Status add(std::string_view name, LatLon coordinates);

  // The coordinates of a region, or nullptr when unknown.
  const LatLon* find(std::string_view name) const;
  bool is_builtin(std::string_view name) const;
  std::size_t size() const { return regions_.size(); }

 private:
  struct Entry {
    LatLon coordinates;
    bool builtin = false;
  };
  std::map<std::string, Entry, std::less<>> regions_;
};

}  // namespace meridian::geo
