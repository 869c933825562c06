// RecordSet: (name, type, set identifier) with its routing policy, TTL and values, in the shape
// of a Route 53 ResourceRecordSet. Routing fields are kept even where this build does not yet
// answer them, so nothing loaded is ever silently dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/name.h"

namespace meridian::zone {

enum class RoutingPolicy : uint8_t {
  kSimple = 0,
  kWeighted,
  kFailover,
  kGeolocation,
  kLatency,
  kGeoproximity,
  kIpBased,
  kMultivalue,
};
const char* routing_policy_name(RoutingPolicy p);

struct GeoLocation {
  std::string continent_code;    // e.g. "EU"; empty if not set
  std::string country_code;      // ISO 3166-1 alpha-2, or "*" for the default location
  std::string subdivision_code;  // e.g. "CA" (with country "US")
};

struct GeoProximityLocation {
  std::string aws_region;  // or empty when coordinates are given
  std::optional<double> latitude;
  std::optional<double> longitude;
  int bias = 0;  // -99..99
};

struct CidrRoutingConfig {
  std::string collection_id;
  std::string location_name;
};

struct AliasTarget {
  std::string hosted_zone_id;
  dns::Name dns_name;
  bool evaluate_target_health = false;
};

enum class FailoverRole : uint8_t { kPrimary, kSecondary };

struct RecordSet {
  dns::Name name;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string set_identifier;  // empty for simple record sets
  RoutingPolicy policy = RoutingPolicy::kSimple;

  // Routing fields (meaningful for the matching policy only).
  std::optional<uint8_t> weight;
  std::string region;
  std::optional<GeoLocation> geolocation;
  std::optional<GeoProximityLocation> geoproximity;
  std::optional<CidrRoutingConfig> cidr_routing;
  std::optional<FailoverRole> failover;
  std::string health_check_id;
  std::optional<AliasTarget> alias;

  // Values, each an uncompressed wire-form RDATA; empty for alias record sets.
  std::vector<std::vector<uint8_t>> rdatas;

  bool is_simple() const { return policy == RoutingPolicy::kSimple && !alias; }
};

}  // namespace meridian::zone
