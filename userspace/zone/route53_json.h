// Route 53 JSON: the ResourceRecordSets list that `aws route53 list-resource-record-sets` prints
// (or a bare list of record sets), and {"Changes": [...]} change batches. Errors name the file and
// the JSON path ("/ResourceRecordSets/3/TTL") or change index.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "dns/name.h"
#include "zone/zone.h"

namespace meridian::zone {

// One ResourceRecordSet object to a RecordSet. `path` is the JSON path used in errors.
Result<RecordSet> record_set_from_json(const nlohmann::json& j, const dns::Name& origin,
                                       const std::string& path);
nlohmann::json record_set_to_json(const RecordSet& rs);

enum class ChangeAction { kCreate, kDelete, kUpsert };
struct Change {
  ChangeAction action;
  RecordSet record_set;
};
struct ChangeBatch {
  std::string comment;
  std::vector<Change> changes;
};
Result<ChangeBatch> change_batch_from_json(const nlohmann::json& j, const dns::Name& origin);

// Applies a batch all-or-nothing: on error `zone` is unchanged and the error names
// "Changes[i]" and the field. CREATE fails if the record set exists; DELETE must match exactly;
// UPSERT creates or replaces; the same record set twice in one batch is an error. A second
// PRIMARY or SECONDARY in a failover group, checked on the result, names
// "/Changes/i/ResourceRecordSet/Failover" of the last change that makes it.
Status apply_change_batch(Zone& zone, const ChangeBatch& batch);

// Loads a zone from a Route 53 JSON file of any of the accepted shapes. A change batch is applied
// to an empty zone. The returned zone has passed Zone::validate().
Result<Zone> load_route53_json(const std::string& path, const dns::Name& origin);
Result<Zone> parse_route53_json(std::string_view text, const dns::Name& origin,
                                std::string_view source_name);

}  // namespace meridian::zone
