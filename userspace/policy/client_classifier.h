// ClientClassifier: a client address (resolver or ECS) to what the policies read about it
// (mdn_client: geolocation ids, position, latency profile) plus the prefix length each fact holds
// for, which becomes the ECS scope of answers that depend on it.
#pragma once

#include <cstdint>

#include "geo/geo_database.h"
#include "meridian_policy.h"
#include "policy/decision_table.h"
#include "policy/ip_prefix.h"

namespace meridian::policy {

struct ClientFacts {
  mdn_client client{};
  uint8_t geo_scope = 0;      // prefix length of the geolocation network (0: no database)
  uint8_t latency_scope = 0;  // prefix over which the latency table result holds (0: no table)
};

// The geolocation facts of a client whose database network is `info` (as GeoDatabase::lookup()
// or for_each_leaf() give it): continent, country and subdivision ids (geo/location_ids.h), the
// position (database coordinates, else centroids) and geo_scope = the network's prefix length.
// latency_profile and latency_scope are left 0. The classifier and the fast path's region
// enumeration both use this, so they cannot compute facts differently.
ClientFacts geo_client_facts(geo::GeoInfo info);

class ClientClassifier {
 public:
  explicit ClientClassifier(const DecisionTable& table) : table_(table) {}

  ClientFacts classify(const ClientAddress& client) const;
  // The client's location id in CIDR collection `collection` (MDN_NO_LOCATION when no block
  // matches) and the prefix length the result holds for.
  uint32_t cidr_location(uint32_t collection, const ClientAddress& client, uint8_t* scope) const;

 private:
  const DecisionTable& table_;
};

}  // namespace meridian::policy
