// DecisionTable: the controller's compiled view of every routing-policy group of a ZoneSet — one
// mdn_group (maps/meridian_policy.h) per (name, type) with stable geo::location_ids, interned
// region/collection ids, the CIDR and latency tries, and alias targets. Built once per zone
// snapshot; health changes never rebuild it (they are read through the HealthView at query time).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "dns/name.h"
#include "meridian_policy.h"
#include "policy/gslb_inputs.h"
#include "policy/ip_prefix.h"
#include "zone/zone_set.h"

namespace meridian::policy {

// Health slots at and above this value are aliases with EvaluateTargetHealth: their state is the
// target group's (at least one healthy answer for the query's client), computed when read.
inline constexpr uint32_t kAliasSlotBase = 0x80000000u;

// One (name, type) group with a routing policy (or a simple alias).
struct GroupEntry {
  dns::Name name;
  uint16_t type = 0;
  mdn_group group{};
  std::vector<const zone::RecordSet*> record_sets;  // by candidate index
};

struct AliasEntry {
  dns::Name target;
  uint16_t type = 0;
  uint32_t own_health = MDN_NO_HEALTH;  // the alias record set's own HealthCheckId, if any
};

class DecisionTable {
 public:
  // Errors name the zone, owner, type and set identifier (or the input row) and the reason:
  // unknown region, unknown CIDR collection or location, bad geolocation, duplicate location,
  // more than MDN_GROUP_MAX record sets, alias loops, multivalue CNAME/NS, bad inputs rows.
  static Result<std::unique_ptr<DecisionTable>> build(const zone::ZoneSet& zones,
                                                      const GslbInputs& inputs);

  // The group of (name, type), or null when it has no routing policy.
  const GroupEntry* find(const dns::Name& name, uint16_t type) const;
  size_t group_count() const { return groups_.size(); }
  // Every group, keyed by group_key(); for the fast-path compiler.
  const std::unordered_map<std::string, GroupEntry>& groups() const { return groups_; }
  // The operator latency table's values: profile << 32 | region -> ms.
  const std::unordered_map<uint64_t, uint32_t>& latency_values() const { return latency_ms_; }

  // What the client classifier and the policy macros read.
  const geo::GeoDatabase* geo() const { return geo_; }
  const HealthView* health() const { return health_.get(); }
  const zone::ZoneSet& zones() const { return zones_; }
  const PrefixTrie& latency_prefixes() const { return latency_prefixes_; }
  bool has_latency_table() const { return latency_prefixes_.prefix_count() > 0; }
  uint32_t latency_ms(uint32_t profile, uint32_t region) const;
  // CIDR collection tries by id, 1..cidr_collection_count().
  const PrefixTrie* cidr_collection(uint32_t id) const {
    return id >= 1 && id <= cidr_.size() ? &cidr_[id - 1] : nullptr;
  }
  uint32_t cidr_collection_count() const { return static_cast<uint32_t>(cidr_.size()); }
  const AliasEntry* alias(uint32_t slot) const {
    const uint32_t k = slot - kAliasSlotBase;
    return slot >= kAliasSlotBase && k < aliases_.size() ? &aliases_[k] : nullptr;
  }

  // Things that load but probably are not what the operator meant (alias targets outside the
  // served zones), for the daemon to log.
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Rough bytes held (groups, tries, tables): grows with prefixes + record sets.
  size_t memory_bytes() const;

 private:
  zone::ZoneSet zones_;  // keeps the record sets pointed to alive
  const geo::GeoDatabase* geo_ = nullptr;
  std::shared_ptr<HealthView> health_;
  std::unordered_map<std::string, GroupEntry> groups_;  // key: Name::key() + 2 type bytes
  std::map<std::string, uint32_t, std::less<>> regions_;
  std::vector<PrefixTrie> cidr_;                       // collection id - 1
  PrefixTrie latency_prefixes_;                        // prefix -> latency profile id (>= 1)
  std::unordered_map<uint64_t, uint32_t> latency_ms_;  // profile << 32 | region -> ms
  std::vector<AliasEntry> aliases_;
  std::vector<std::string> warnings_;

  friend class DecisionTableBuilder;
};

std::string group_key(const dns::Name& name, uint16_t type);

}  // namespace meridian::policy
