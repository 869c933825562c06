// Zone export and import in Route 53 JSON and RFC 1035 master-file form.
#include "manage/zone_text.h"

#include <algorithm>

#include "dns/rdata_text.h"
#include "dns/types.h"
#include "manage/catalog.h"
#include "zone/master_file.h"
#include "zone/route53_json.h"

namespace meridian::manage {

Result<ZoneFormat> zone_format_from_text(std::string_view text) {
  if (text == "route53-json" || text == "json" || text == "route53")
    return ZoneFormat::kRoute53Json;
  if (text == "zonefile" || text == "rfc1035" || text == "zone") return ZoneFormat::kZoneFile;
  return make_error("unknown zone format \"" + std::string(text) +
                    "\" (expected route53-json or zonefile)");
}

nlohmann::json zone_to_route53_json(const zone::Zone& z) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& rs : record_sets_of(z)) list.push_back(zone::record_set_to_json(rs));
  return nlohmann::json{{"ResourceRecordSets", std::move(list)}};
}

Result<std::string> zone_to_master_file(const zone::Zone& z) {
  std::string out = "$ORIGIN " + z.origin().to_text() + "\n";
  auto records = record_sets_of(z);
  // SOA first, as every master file reader expects it.
  std::stable_partition(records.begin(), records.end(),
                        [](const zone::RecordSet& rs) { return rs.type == dns::rrtype::SOA; });
  for (const auto& rs : records) {
    if (!rs.is_simple())
      return make_error("record set " + rs.name.to_text() + " " + dns::type_to_text(rs.type) +
                        " has a routing policy, which a master file cannot hold: export the zone "
                        "as route53-json");
    for (const auto& rdata : rs.rdatas) {
      out += rs.name.to_text() + " " + std::to_string(rs.ttl) + " IN " +
             dns::type_to_text(rs.type) + " " + dns::rdata_to_text(rs.type, rdata) + "\n";
    }
  }
  return out;
}

Result<zone::Zone> zone_from_text(ZoneFormat format, std::string_view text, const dns::Name& origin,
                                  std::string_view source_name) {
  if (format == ZoneFormat::kZoneFile) return zone::parse_master_file(text, origin, source_name);
  return zone::parse_route53_json(text, origin, source_name);
}

}  // namespace meridian::manage
