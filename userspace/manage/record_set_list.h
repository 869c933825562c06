// ListResourceRecordSets as Route 53 pages it: record sets sorted by DNS name with the labels
// reversed ("com.example.www.", byte order, so "a-b" sorts before "a.b"), then by type
// mnemonic, then by SetIdentifier; a page starts at the first record set at or after
// (StartRecordName, StartRecordType, StartRecordIdentifier) and holds at most MaxItems; a
// truncated page names the next record set in NextRecordName/Type/Identifier.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "dns/name.h"
#include "zone/record_set.h"

namespace meridian::manage {

inline constexpr size_t kListMaxItems = 300;  // Route 53's page size and its upper bound

// The request as given (query parameters; empty: not given). Names are absolute, or relative to
// the zone's origin.
struct ListRequest {
  std::string name, type;  // filters: only this owner, only this type
  std::string start_name, start_type, start_identifier;
  std::string max_items;
};

// Route 53's sort key of a name: its labels reversed, each followed by a dot, lower case.
std::string route53_sort_name(const dns::Name& name);

// A name in a zone: absolute as Route 53 reads it ("www.example.com", with or without the dot)
// when it is in the zone, else relative to the origin ("www"). Errors name `where`.
Result<dns::Name> name_in_zone(const std::string& text, const dns::Name& origin,
                               const std::string& where);

// One page of `sets` (any order) for `request`: {"ResourceRecordSets", "IsTruncated",
// "MaxItems", and when truncated "NextRecordName", "NextRecordType" and, when the next record set
// has one, "NextRecordIdentifier"}. Errors (InvalidInput) name the parameter.
Result<nlohmann::json> list_record_sets_page(std::vector<zone::RecordSet> sets,
                                             const dns::Name& origin, const ListRequest& request);

}  // namespace meridian::manage
