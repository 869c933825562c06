// Whole zones as operators move them around: Route 53 JSON ({"ResourceRecordSets": [...]}, as
// `aws route53 list-resource-record-sets` prints it) and RFC 1035 master files.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "zone/zone.h"

namespace meridian::manage {

enum class ZoneFormat : uint8_t { kRoute53Json, kZoneFile };
// "route53-json" | "zonefile" (also "json", "rfc1035").
Result<ZoneFormat> zone_format_from_text(std::string_view text);

nlohmann::json zone_to_route53_json(const zone::Zone& zone);
// A master file with $ORIGIN and absolute owner names. Routing-policy record sets have no
// master-file form: an Error names the first one (export those zones as Route 53 JSON).
Result<std::string> zone_to_master_file(const zone::Zone& zone);
// Parses either format as zone `origin`; the Zone has passed validate().
Result<zone::Zone> zone_from_text(ZoneFormat format, std::string_view text, const dns::Name& origin,
                                  std::string_view source_name);

}  // namespace meridian::manage
