// The routing-policy fields of a Route 53 ResourceRecordSet, one reader per policy: Weight,
// Region (latency), GeoLocation, GeoProximityLocation, CidrRoutingConfig, Failover and
// MultiValueAnswer. Used by record_set_from_json (route53_json.cc).
#pragma once

#include <array>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "zone/record_set.h"

namespace meridian::zone {

// Reads the value of its field (present in the record set: the caller checks) at `path` into
// `rs`. Returns whether the field chose its routing policy (then rs.policy is set): a record set
// may choose at most one. MultiValueAnswer false chooses none.
using RoutingFieldReader = Result<bool> (*)(const nlohmann::json& value, const std::string& path,
                                            RecordSet& rs);

struct RoutingField {
  const char* name;  // the ResourceRecordSet key
  RoutingFieldReader read;
};

// Every routing-policy field, in the order they are checked (so the first error is the same one
// whatever order the JSON object lists them in).
extern const std::array<RoutingField, 7> kRoutingFields;

}  // namespace meridian::zone
