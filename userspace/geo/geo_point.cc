// Latitude/longitude to integer sphere points, and distances through the shared integer math.
#include "geo/geo_point.h"

#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace meridian::geo {

bool is_valid(LatLon p) {
  return std::isfinite(p.lat) && std::isfinite(p.lon) && p.lat >= -90.0 && p.lat <= 90.0 &&
         p.lon >= -180.0 && p.lon <= 180.0;
}

mdn_geo_point to_point(LatLon p) {
  constexpr double kScale = static_cast<double>(1u << MDN_GEO_SHIFT);
  constexpr double kRad = std::numbers::pi / 180.0;
  const double lat = p.lat * kRad;
  const double lon = p.lon * kRad;
  auto q = [&](double v) { return static_cast<std::int32_t>(std::lround(v * kScale)); };
  return mdn_geo_point{q(std::cos(lat) * std::cos(lon)), q(std::cos(lat) * std::sin(lon)),
                       q(std::sin(lat))};
}

std::uint32_t distance_km(LatLon a, LatLon b) {
  const mdn_geo_point pa = to_point(a);
  const mdn_geo_point pb = to_point(b);
  return mdn_geo_distance_km(&pa, &pb);
}

std::string to_string(LatLon p) {
  return fmt::format("{:.4f},{:.4f}", p.lat, p.lon);
}

}  // namespace meridian::geo
