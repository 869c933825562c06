// ClientClassifier: geolocation database lookup (with centroid fallback for the position), the
// latency table's longest-prefix match, and per-collection CIDR matches.
#include "policy/client_classifier.h"

#include "geo/centroids.h"
#include "geo/geo_database.h"
#include "geo/geo_point.h"
#include "geo/location_ids.h"

namespace meridian::policy {

ClientFacts geo_client_facts(geo::GeoInfo info) {
  ClientFacts f;
  f.geo_scope = static_cast<uint8_t>(info.prefix_len);
  if (!info.found) return f;
  const geo::CentroidTable& centroids = geo::CentroidTable::builtin();
  centroids.complete(info);
  f.client.continent = geo::continent_id(info.continent);
  f.client.country = geo::country_id(info.country);
  f.client.subdivision = geo::subdivision_id(info.subdivision_code());
  if (auto at = centroids.locate(info)) {
    f.client.point = geo::to_point(*at);
    f.client.has_point = 1;
  }
  return f;
}

ClientFacts ClientClassifier::classify(const ClientAddress& client) const {
  ClientFacts f;
  if (const geo::GeoDatabase* db = table_.geo()) {
    auto info = db->lookup(client.address.data(), client.ipv6);
    if (info) f = geo_client_facts(std::move(*info));
  }
  if (table_.has_latency_table()) {
    const PrefixTrie::Match m = table_.latency_prefixes().lookup(client);
    f.client.latency_profile = m.value == PrefixTrie::kNone ? MDN_NO_PROFILE : m.value;
    f.latency_scope = m.scope;
  }
  return f;
}

uint32_t ClientClassifier::cidr_location(uint32_t collection, const ClientAddress& client,
                                         uint8_t* scope) const {
  const PrefixTrie* trie = table_.cidr_collection(collection);
  if (!trie) return MDN_NO_LOCATION;
  const PrefixTrie::Match m = trie->lookup(client);
  if (scope) *scope = m.scope;
  return m.value == PrefixTrie::kNone ? MDN_NO_LOCATION : m.value;
}

}  // namespace meridian::policy
