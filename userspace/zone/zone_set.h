// ZoneSet: an immutable snapshot of every zone served; replaced whole on reload so a query sees
// either all old or all new data.
#pragma once

#include <memory>
#include <vector>

#include "dns/name.h"
#include "zone/zone.h"

namespace meridian::zone {

class ZoneSet {
 public:
  ZoneSet() = default;
  explicit ZoneSet(std::vector<std::shared_ptr<const Zone>> zones);

  // The zone with the longest origin that `name` is at or below; null if none.
  const Zone* find_zone(const dns::Name& name) const;
  const std::vector<std::shared_ptr<const Zone>>& zones() const { return zones_; }

 private:
  std::vector<std::shared_ptr<const Zone>> zones_;
};

}  // namespace meridian::zone
