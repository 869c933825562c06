// The shared integer distance math (maps/meridian_geo.h) against double-precision haversine:
// the lookup table, the integer square root, many random pairs, known city pairs, and the
// geoproximity bias of spec rule 6.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

#include "geo/geo_point.h"
#include "meridian_geo.h"

namespace meridian::geo {
namespace {

double haversine_km(LatLon a, LatLon b) {
  constexpr double kRad = std::numbers::pi / 180.0;
  const double dlat = (b.lat - a.lat) * kRad;
  const double dlon = (b.lon - a.lon) * kRad;
  const double h =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * MDN_GEO_EARTH_RADIUS_KM * std::asin(std::min(1.0, std::sqrt(h)));
}

// The accuracy promised in docs/geolocation.md.
double allowed_error_km(double d) {
  return std::max(5.0, d * 0.005);
}

TEST(GeoMath, AsinTableMatchesItsFormula) {
  for (int i = 0; i <= MDN_GEO_ASIN_STEPS; ++i)
    EXPECT_EQ(mdn_geo_asin_table[i], std::llround(std::asin(i / 256.0) * 1073741824.0)) << i;
  EXPECT_EQ(MDN_GEO_HALF_PI_Q30, std::llround(std::numbers::pi / 2 * 1073741824.0));
}

TEST(GeoMath, IntegerSquareRootIsFloorSqrt) {
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> values = {0,
                                       1,
                                       2,
                                       3,
                                       4,
                                       15,
                                       16,
                                       17,
                                       (1ULL << 58) - 1,
                                       1ULL << 58,
                                       (1ULL << 60) + 12345,
                                       (1ULL << 62) - 1};
  for (int i = 0; i < 100000; ++i) values.push_back(rng() >> (2 + rng() % 60));
  for (std::uint64_t v : values) {
    const unsigned __int128 r = mdn_geo_isqrt(v);
    EXPECT_LE(r * r, v) << v;
    EXPECT_GT((r + 1) * (r + 1), v) << v;
  }
}

TEST(GeoMath, PointsAreScaledUnitVectors) {
  for (LatLon p : {LatLon{0, 0}, LatLon{90, 0}, LatLon{-90, 0}, LatLon{45, 45},
                   LatLon{-33.9, 151.2}, LatLon{12.5, -179.9}}) {
    const mdn_geo_point q = to_point(p);
    const double len = std::sqrt(double(q.x) * q.x + double(q.y) * q.y + double(q.z) * q.z);
    EXPECT_NEAR(len, double(1u << MDN_GEO_SHIFT), 2.0) << to_string(p);
  }
  const mdn_geo_point north = to_point({90, 0});
  EXPECT_EQ(north.z, 1 << MDN_GEO_SHIFT);
  EXPECT_EQ(north.x, 0);
}

TEST(GeoMath, RandomPairsAgreeWithHaversine) {
  std::mt19937_64 rng(2026);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::uniform_real_distribution<double> lon(-180.0, 180.0);
  double worst_rel = 0;
  double worst_abs = 0;
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    // Uniform on the sphere (asin of a uniform z), plus a share of nearby pairs so that short
    // distances, where the table's first entries matter, are well covered.
    LatLon a{std::asin(unit(rng)) * 180 / std::numbers::pi, lon(rng)};
    LatLon b{std::asin(unit(rng)) * 180 / std::numbers::pi, lon(rng)};
    if (i % 4 == 0) {
      b.lat = std::clamp(a.lat + unit(rng) * 2, -90.0, 90.0);
      b.lon = std::remainder(a.lon + unit(rng) * 2, 360.0);
    }
    const double want = haversine_km(a, b);
    const double got = distance_km(a, b);
    const double err = std::abs(got - want);
    worst_abs = std::max(worst_abs, err);
    if (want > 50) {
      worst_rel = std::max(worst_rel, err / want);
      ++checked;
    }
    ASSERT_LE(err, allowed_error_km(want)) << to_string(a) << " " << to_string(b);
  }
  // Far inside the promise: rounding to whole km dominates (at most ~0.5 km + table error).
  EXPECT_LT(worst_abs, 1.0);
  EXPECT_GT(checked, 100000);
  RecordProperty("worst_abs_error_km", std::to_string(worst_abs));
  RecordProperty("worst_rel_error_over_50km", std::to_string(worst_rel));
}

TEST(GeoMath, KnownCityPairs) {
  struct Row {
    LatLon a, b;
    double km;  // great-circle distance on a 6371 km sphere, by haversine
  };
  const LatLon london{51.5074, -0.1278}, new_york{40.7128, -74.0060}, sydney{-33.8688, 151.2093},
      singapore{1.3521, 103.8198}, tokyo{35.6762, 139.6503}, sao_paulo{-23.5505, -46.6333},
      frankfurt{50.1109, 8.6821}, paris{48.8566, 2.3522};
  const Row rows[] = {{london, new_york, 0}, {sydney, singapore, 0}, {tokyo, sao_paulo, 0},
                      {frankfurt, paris, 0}, {london, paris, 0},     {new_york, sydney, 0},
                      {{0, 0}, {0, 180}, 0}, {{90, 0}, {-90, 0}, 0}, {{10, 20}, {-10, -160}, 0},
                      {london, london, 0}};
  for (const Row& r : rows) {
    const double want = haversine_km(r.a, r.b);
    EXPECT_NEAR(distance_km(r.a, r.b), want, allowed_error_km(want))
        << to_string(r.a) << " " << to_string(r.b);
  }
  // Sanity anchors independent of the reference function.
  EXPECT_NEAR(distance_km(london, new_york), 5570, 15);
  EXPECT_NEAR(distance_km(frankfurt, paris), 479, 5);
  EXPECT_EQ(distance_km(london, london), 0u);
  EXPECT_NEAR(distance_km({90, 0}, {-90, 0}), std::numbers::pi * MDN_GEO_EARTH_RADIUS_KM, 1);
  EXPECT_NEAR(distance_km({0, 0}, {0, 180}), std::numbers::pi * MDN_GEO_EARTH_RADIUS_KM, 1);
}

TEST(GeoMath, DistanceIsSymmetric) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
  for (int i = 0; i < 10000; ++i) {
    const mdn_geo_point a = to_point({lat(rng), lon(rng)}), b = to_point({lat(rng), lon(rng)});
    EXPECT_EQ(mdn_geo_distance_km(&a, &b), mdn_geo_distance_km(&b, &a));
  }
}

TEST(GeoMath, BiasFollowsSpecRule6) {
  // The spec's example: 150 km with bias +50 (75 km) beats 100 km with bias 0.
  EXPECT_EQ(mdn_geo_biased_km(150, 50), 75u);
  EXPECT_EQ(mdn_geo_biased_km(100, 0), 100u);
  EXPECT_LT(mdn_geo_biased_km(150, 50), mdn_geo_biased_km(100, 0));
  // bias >= 0: d * (1 - bias/100); bias < 0: d / (1 + bias/100).
  EXPECT_EQ(mdn_geo_biased_km(1000, 99), 10u);
  EXPECT_EQ(mdn_geo_biased_km(1000, 1), 990u);
  EXPECT_EQ(mdn_geo_biased_km(1000, -50), 2000u);
  EXPECT_EQ(mdn_geo_biased_km(1000, -99), 100000u);
  EXPECT_EQ(mdn_geo_biased_km(300, -25), 400u);
  EXPECT_EQ(mdn_geo_biased_km(0, -99), 0u);
  // Out of range is clamped (the controller rejects it earlier).
  EXPECT_EQ(mdn_geo_biased_km(1000, 150), mdn_geo_biased_km(1000, 99));
  EXPECT_EQ(mdn_geo_biased_km(1000, -150), mdn_geo_biased_km(1000, -99));
  // Saturates instead of wrapping.
  EXPECT_EQ(mdn_geo_biased_km(0xffffffffu, -99), 0xffffffffu);
  // Every bias against the real-number formula.
  for (int bias = -99; bias <= 99; ++bias)
    for (std::uint32_t d : {0u, 1u, 77u, 5570u, 20015u}) {
      const double want = bias >= 0 ? d * (1 - bias / 100.0) : d / (1 + bias / 100.0);
      EXPECT_EQ(mdn_geo_biased_km(d, bias),
                static_cast<std::uint32_t>(std::floor(want * (1 + 1e-12))))
          << d << " " << bias;
    }
}

}  // namespace
}  // namespace meridian::geo
