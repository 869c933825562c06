// PolicyCompiler: the routing-policy groups of a ZoneSet's GSLB engine as the XDP program reads
// them — one mdn_group_entry per group, the answer fragment of every candidate record set, the
// latency table and CIDR collections as prefix tables, the operator latency values — plus the
// geolocation prefix table of a GeoIP database. Groups the XDP program cannot answer exactly as
// the userspace engine would stay in userspace (their names are not published).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "answer/responder.h"
#include "common/result.h"
#include "fastpath/answer_compiler.h"
#include "geo/geo_database.h"
#include "meridian_maps.h"
#include "policy/ip_prefix.h"
#include "zone/zone_set.h"

namespace meridian::fastpath {

using PrefixEntry = std::pair<mdn_prefix_key, mdn_prefix_value>;

// One generation's routing-policy data (everything but the geolocation table).
struct PolicyTables {
  std::vector<mdn_group_entry> groups;
  std::vector<mdn_fragment> fragments;
  std::vector<PrefixEntry> prefixes;  // latency table (table 0) and CIDR collections (their ids)
  std::vector<std::pair<mdn_latency_key, uint32_t>> latency_ms;
  // A published group reads the client's geolocation (geolocation, latency, geoproximity): the
  // geolocation table must be in the maps before this generation goes live.
  bool needs_geo = false;
};

// Why groups stayed in userspace; each is counted once, for its first reason.
struct PolicyCompileStats {
  size_t groups = 0;      // published to the fast path
  size_t type = 0;        // a type whose answer needs more than the record sets (CNAME, MX, ...)
  size_t alias = 0;       // an alias candidate: decided through its target in userspace
  size_t oversize = 0;    // a record set's answer longer than MDN_FRAGMENT_MAX
  size_t mixed_ttl = 0;   // multivalue record sets with different TTLs (answers take the least)
  size_t not_policy = 0;  // the responder does not answer the name through the group
};

// The key of `prefix` in `table` (big-endian table id, family, address, prefix length).
mdn_prefix_key make_prefix_key(uint32_t table, const policy::IpPrefix& prefix);

class PolicyCompiler {
 public:
  explicit PolicyCompiler(const answer::Responder& responder) : responder_(responder) {}

  // Appends a name entry (kind MDN_ANSWER_POLICY) per published group to `entries` and fills
  // `tables`. A ZoneSet without a GSLB engine has no groups.
  void compile(const zone::ZoneSet& zones, std::vector<FastPathEntry>& entries,
               PolicyTables& tables, PolicyCompileStats* stats) const;

 private:
  const answer::Responder& responder_;
};

// The geolocation prefix table of `db` (table MDN_TABLE_GEO); without a database, one entry per
// family that gives every client no location and scope 0, as userspace does.
Result<std::vector<PrefixEntry>> compile_geo_table(const geo::GeoDatabase* db);

}  // namespace meridian::fastpath
