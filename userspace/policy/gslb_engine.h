// GslbEngine: answers a query for a routing-policy group through the shared C evaluation
// (maps/meridian_policy.h) over the DecisionTable, resolving aliases to their targets' records.
// It is attached to the ZoneSet snapshot it was built from, so a query always sees one
// consistent (zones, decision table) pair.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "policy/client_classifier.h"
#include "policy/decision_table.h"
#include "policy/gslb_inputs.h"
#include "policy/ip_prefix.h"
#include "zone/zone_set.h"

namespace meridian::policy {

enum class Outcome : uint8_t { kAnswer, kNoData, kServFail };

struct GslbAnswer {
  Outcome outcome = Outcome::kNoData;
  // Record sets whose values form the answer, all of the queried type (alias targets already
  // resolved), written under the query name.
  std::vector<const zone::RecordSet*> record_sets;
  // ECS scope: the longest prefix length of the table entries the decision depended on (0 when
  // the answer is the same for every client).
  uint8_t scope = 0;
};

class GslbEngine final : public zone::ZoneSetAttachment {
 public:
  static Result<std::shared_ptr<const GslbEngine>> build(const zone::ZoneSet& zones,
                                                         const GslbInputs& inputs);

  // The routing-policy group of (name, type), or null.
  const GroupEntry* group(const dns::Name& name, uint16_t type) const {
    return table_->find(name, type);
  }
  // Decides with a per-thread random state.
  GslbAnswer answer(const GroupEntry& group, const ClientAddress& client) const;
  // Decides with the caller's random state (xorshift64*; tests use a fixed seed).
  GslbAnswer answer(const GroupEntry& group, const ClientAddress& client,
                    uint64_t& random_state) const;

  const DecisionTable& table() const { return *table_; }

 private:
  explicit GslbEngine(std::unique_ptr<DecisionTable> table)
      : table_(std::move(table)), classifier_(*table_) {}

  std::unique_ptr<DecisionTable> table_;
  ClientClassifier classifier_;
};

// A copy of `zones` (sharing the zones themselves) with a GslbEngine built for them attached:
// what the daemon publishes to its ZoneStore on every load and reload.
Result<std::shared_ptr<const zone::ZoneSet>> attach_gslb(const zone::ZoneSet& zones,
                                                         const GslbInputs& inputs);

// The engine attached to a snapshot, or null.
const GslbEngine* gslb_engine(const zone::ZoneSet& zones);

}  // namespace meridian::policy
