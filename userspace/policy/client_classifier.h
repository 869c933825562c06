// ClientClassifier: a client address (resolver or ECS) to what the policies read about it
// (mdn_client: geolocation ids, position, latency profile) plus the prefix length each fact holds
// for, which becomes the ECS scope of answers that depend on it.
#pragma once

#include <cstdint>

#include "meridian_policy.h"
#include "policy/decision_table.h"
#include "policy/ip_prefix.h"

namespace meridian::policy {

struct ClientFacts {
  mdn_client client{};
  uint8_t geo_scope = 0;      // prefix length of the geolocation network (0: no database)
  uint8_t latency_scope = 0;  // prefix over which the latency table result holds (0: no table)
};

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
