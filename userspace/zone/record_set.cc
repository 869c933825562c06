// Routing policy names, as used in Route 53 JSON, logs and errors.
#include "zone/record_set.h"

namespace meridian::zone {

const char* routing_policy_name(RoutingPolicy p) {
  switch (p) {
    case RoutingPolicy::kSimple:
      return "simple";
    case RoutingPolicy::kWeighted:
      return "weighted";
    case RoutingPolicy::kFailover:
      return "failover";
    case RoutingPolicy::kGeolocation:
      return "geolocation";
    case RoutingPolicy::kLatency:
      return "latency";
    case RoutingPolicy::kGeoproximity:
      return "geoproximity";
    case RoutingPolicy::kIpBased:
      return "ip-based";
    case RoutingPolicy::kMultivalue:
      return "multivalue";
  }
  return "unknown";
}

}  // namespace meridian::zone
