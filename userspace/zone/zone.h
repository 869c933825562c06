// Zone: one hosted zone's names and record sets, indexed for authoritative lookups.
// Every name between the apex and an owner exists as a node (possibly empty: an empty
// non-terminal), so "name exists" is a single lookup.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "zone/record_set.h"

namespace meridian::zone {

struct Node {
  dns::Name owner;
  std::vector<RecordSet> record_sets;  // empty for an empty non-terminal

  // The simple record set of `type` at this node, or null.
  const RecordSet* find(uint16_t type) const;
  // All record sets of `type` (a group: several when a routing policy is used).
  std::vector<const RecordSet*> group(uint16_t type) const;
  bool empty() const { return record_sets.empty(); }
};

class Zone {
 public:
  explicit Zone(dns::Name origin);

  const dns::Name& origin() const { return origin_; }

  // Adds a record set. Rejected (with a reason) when: the owner is outside the zone; a record set
  // with the same (name, type, set identifier) exists; a group would mix routing policies; CNAME
  // would share its node with other data (or a second CNAME); SOA is not at the apex or is not
  // unique. Ancestors are created as empty non-terminals.
  Status add(RecordSet rs);
  // Removes the record set with (name, type, set identifier); false if none. Empty nodes that are
  // no longer ancestors of data are removed.
  bool remove(const dns::Name& name, uint16_t type, const std::string& set_identifier);

  // Checks the zone as a whole once loading is finished: SOA present at the apex, at most
  // one SOA, only glue (A/AAAA) below a delegation, at most one PRIMARY and one SECONDARY in a
  // failover group. Call after the last add().
  Status validate() const;

  // The other record set of `rs`'s failover group (same owner and type) that has `rs`'s
  // Failover role, or null (also when `rs` is not a failover record set). A group has one
  // PRIMARY and one SECONDARY (Route 53); add() allows a second for a moment, so that a change
  // batch may move a role from one SetIdentifier to another in any order.
  const RecordSet* same_failover_role(const RecordSet& rs) const;

  // Exact node (case-insensitive), including empty non-terminals; null if the name does not exist.
  const Node* find(const dns::Name& name) const;

  // The apex SOA record set and its parsed fields (valid after validate() succeeded).
  const RecordSet* soa() const;
  std::optional<dns::SoaFields> soa_fields() const;

  size_t node_count() const { return nodes_.size(); }
  size_t record_set_count() const;
  // Iteration over all nodes (unordered), e.g. for exporting or compiling maps.
  const std::unordered_map<std::string, Node>& nodes() const { return nodes_; }

 private:
  dns::Name origin_;
  std::unordered_map<std::string, Node> nodes_;  // key: Name::key()
};

// The error for `second` taking the Failover role that `first` has in the same group.
std::string second_failover_role_error(const RecordSet& second, const RecordSet& first);

}  // namespace meridian::zone
