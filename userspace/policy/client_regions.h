// The client facts as address regions, for the XDP program's LPM maps: every region of the
// geolocation database with the facts and ECS scope ClientClassifier gives its addresses. (The
// latency and CIDR tries enumerate themselves: PrefixTrie::for_each_region.)
#pragma once

#include <cstdint>
#include <functional>

#include "common/result.h"
#include "geo/geo_database.h"
#include "meridian_policy.h"
#include "policy/ip_prefix.h"

namespace meridian::policy {

// Disjoint regions covering IPv4 (and IPv6 for an IPv6 database) except the IPv6 subtrees that
// GeoDatabase::for_each_leaf() leaves out (::ffff:0:0/96, the IPv4 aliases, ::/96 when it holds
// the IPv4 tree): for every client address in a region, whatever its source prefix (at least
// the region's length), ClientClassifier::classify() gives `facts` (latency_profile 0) and
// geo_scope `scope`. Errors are the database walk's.
using GeoRegionVisitor =
    std::function<void(const IpPrefix& region, const mdn_client& facts, uint8_t scope)>;
Status for_each_geo_region(const geo::GeoDatabase& db, const GeoRegionVisitor& visit);

}  // namespace meridian::policy
