// ZoneSet: an immutable snapshot of every zone served; replaced whole on reload so a query sees
// either all old or all new data.
#pragma once

#include <memory>
#include <vector>

#include "dns/name.h"
#include "zone/zone.h"

namespace meridian::zone {

// Something built for exactly one snapshot's zones (the GSLB decision table of
// userspace/policy), carried by the snapshot so a query sees one consistent pair.
class ZoneSetAttachment {
 public:
  virtual ~ZoneSetAttachment() = default;
};

class ZoneSet {
 public:
  ZoneSet() = default;
  explicit ZoneSet(std::vector<std::shared_ptr<const Zone>> zones,
                   std::shared_ptr<const ZoneSetAttachment> attachment = nullptr);

  // The zone with the longest origin that `name` is at or below; null if none.
  const Zone* find_zone(const dns::Name& name) const;
  const std::vector<std::shared_ptr<const Zone>>& zones() const { return zones_; }
  const ZoneSetAttachment* attachment() const { return attachment_.get(); }

 private:
  std::vector<std::shared_ptr<const Zone>> zones_;
  std::shared_ptr<const ZoneSetAttachment> attachment_;
};

}  // namespace meridian::zone
