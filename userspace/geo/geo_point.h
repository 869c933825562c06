// Latitude/longitude and the conversion to the integer sphere points of maps/meridian_geo.h, the
// one distance implementation shared with the XDP program.
#pragma once

#include <cstdint>
#include <string>

#include "meridian_geo.h"

namespace meridian::geo {

// Degrees: latitude -90..90 (north positive), longitude -180..180 (east positive).
struct LatLon {
  double lat = 0;
  double lon = 0;
  bool operator==(const LatLon&) const = default;
};

// True when both values are finite and in range.
bool is_valid(LatLon p);

// The unit vector of p scaled by 2^MDN_GEO_SHIFT (the only floating point in the distance path).
mdn_geo_point to_point(LatLon p);

// Great-circle distance in km through mdn_geo_distance_km: the same integer result the XDP
// program computes for the same two points.
std::uint32_t distance_km(LatLon a, LatLon b);

// "51.5,-0.1" style text for logs and errors.
std::string to_string(LatLon p);

}  // namespace meridian::geo
