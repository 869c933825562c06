// Geolocation regions: the database's leaves, each turned into facts by the same function the
// classifier uses (geo_client_facts), so the map and the userspace answer cannot drift apart.
#include "policy/client_regions.h"

#include <cstring>

#include "policy/client_classifier.h"

namespace meridian::policy {

Status for_each_geo_region(const geo::GeoDatabase& db, const GeoRegionVisitor& visit) {
  auto walked = db.for_each_leaf([&](const geo::GeoNetwork& net, const geo::GeoInfo& info) {
    IpPrefix region;
    region.ipv6 = net.ipv6;
    region.length = static_cast<uint8_t>(net.prefix_len);
    std::memcpy(region.address.data(), net.address, net.ipv6 ? 16 : 4);
    const ClientFacts f = geo_client_facts(info);
    visit(region, f.client, f.geo_scope);
    return true;
  });
  if (!walked) return walked.error();
  return Ok{};
}

}  // namespace meridian::policy
