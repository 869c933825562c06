// ClientClassifier: geolocation database lookup (with centroid fallback for the position), the
// latency table's longest-prefix match, and per-collection CIDR matches.
#include "policy/client_classifier.h"

#include "geo/centroids.h"
#include "geo/geo_database.h"
#include "geo/geo_point.h"

namespace meridian::policy {

ClientFacts ClientClassifier::classify(const ClientAddress& client) const {
  ClientFacts f;
  if (const geo::GeoDatabase* db = table_.geo()) {
    auto info = db->lookup(client.address.data(), client.ipv6);
    if (info) {
      geo::GeoInfo& gi = *info;
      f.geo_scope = static_cast<uint8_t>(gi.prefix_len);
      if (gi.found) {
        const geo::CentroidTable& centroids = geo::CentroidTable::builtin();
        centroids.complete(gi);
        f.client.continent = table_.continent_id(gi.continent);
        f.client.country = table_.country_id(gi.country);
        if (!gi.subdivision.empty())
          f.client.subdivision = table_.subdivision_id(gi.subdivision_code());
        if (auto at = centroids.locate(gi)) {
          f.client.point = geo::to_point(*at);
          f.client.has_point = 1;
        }
      }
    }
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
