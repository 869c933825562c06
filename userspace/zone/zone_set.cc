// ZoneSet: longest-origin match from a query name to the zone that answers it.
#include "zone/zone_set.h"

namespace meridian::zone {

ZoneSet::ZoneSet(std::vector<std::shared_ptr<const Zone>> zones,
                 std::shared_ptr<const ZoneSetAttachment> attachment)
    : zones_(std::move(zones)), attachment_(std::move(attachment)) {}

const Zone* ZoneSet::find_zone(const dns::Name& name) const {
  const Zone* best = nullptr;
  for (const auto& z : zones_) {
    if (name.is_subdomain_of(z->origin()) &&
        (!best || z->origin().wire_length() > best->origin().wire_length()))
      best = z.get();
  }
  return best;
}

}  // namespace meridian::zone
