// Route 53 JSON: ResourceRecordSets lists and change batches, with errors naming the JSON path.
#include "zone/route53_json.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/json_fields.h"
#include "common/json_parse.h"
#include "dns/rdata_text.h"
#include "dns/types.h"
#include "zone/route53_routing_json.h"

namespace meridian::zone {

namespace {

using nlohmann::json;

// Route 53 writes some characters of names as octal escapes (\052 for '*'); RFC 1035 \DDD is
// decimal. Route 53 names are converted to presentation format first.
std::string route53_name_to_text(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '3' &&
        in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' && in[i + 3] <= '7') {
      const int v = (in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 + (in[i + 3] - '0');
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03d", v);
      out += buf;
      i += 3;
    } else if (in[i] == '\\' && i + 1 < in.size()) {
      out +=
          in.substr(i, 2);  // an escaped character: an escaped backslash then digits is not octal
      ++i;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// The reverse, for writing names: presentation format with its decimal \DDD escapes as octal.
std::string name_to_route53_text(const dns::Name& name) {
  const std::string in = name.to_text();
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size() && std::isdigit(static_cast<unsigned char>(in[i + 1]))) {
      const int v = (in[i + 1] - '0') * 100 + (in[i + 2] - '0') * 10 + (in[i + 3] - '0');
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", v);
      out += buf;
      i += 3;
    } else if (in[i] == '\\' && i + 1 < in.size()) {
      out += in.substr(i, 2);
      ++i;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

Result<dns::Name> name_field(const json& j, const std::string& path, const dns::Name& origin) {
  auto raw = read_json_string(j, path);
  if (!raw) return raw.error();
  std::string text = route53_name_to_text(*raw);
  if (text.empty()) return json_error_at(path, "must not be empty");
  if (text.back() != '.') text += '.';  // Route 53 accepts names without the final dot
  auto n = dns::Name::from_text(text, &origin);
  if (!n) return json_error_at(path, n.error().what);
  return n;
}

// AliasTarget: {"HostedZoneId", "DNSName", "EvaluateTargetHealth"}, DNSName required.
Result<AliasTarget> read_alias_target(const json& a, const std::string& p,
                                      const dns::Name& origin) {
  if (!a.is_object()) return json_error_at(p, "must be an object");
  if (auto s = reject_unknown_fields(a, p, {"HostedZoneId", "DNSName", "EvaluateTargetHealth"}); !s)
    return s.error();
  AliasTarget alias;
  if (a.contains("HostedZoneId")) {
    auto z = read_json_string(a["HostedZoneId"], p + "/HostedZoneId");
    if (!z) return z.error();
    alias.hosted_zone_id = *z;
  }
  if (!a.contains("DNSName")) return json_error_at(p + "/DNSName", "is required");
  auto target = name_field(a["DNSName"], p + "/DNSName", origin);
  if (!target) return target.error();
  alias.dns_name = *target;
  if (a.contains("EvaluateTargetHealth")) {
    auto evaluate = read_json_bool(a["EvaluateTargetHealth"], p + "/EvaluateTargetHealth");
    if (!evaluate) return evaluate.error();
    alias.evaluate_target_health = *evaluate;
  }
  return alias;
}

// ResourceRecords: a non-empty list of {"Value": presentation text} of `type`, no value twice.
Result<std::vector<std::vector<uint8_t>>> read_resource_records(const json& records,
                                                                const std::string& path,
                                                                uint16_t type,
                                                                const dns::Name& origin) {
  if (!records.is_array() || records.empty())
    return json_error_at(path, "must be a non-empty list");
  std::vector<std::vector<uint8_t>> out;
  std::set<std::vector<uint8_t>> values;  // a set, not a scan: no quadratic time on large sets
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string p = path + "/" + std::to_string(i);
    const json& r = records[i];
    if (!r.is_object() || !r.contains("Value"))
      return json_error_at(p, "must be an object with a Value");
    if (auto s = reject_unknown_fields(r, p, {"Value"}); !s) return s.error();
    auto value = read_json_string(r["Value"], p + "/Value");
    if (!value) return value.error();
    auto rdata = dns::rdata_from_text(type, *value, origin);
    if (!rdata) return json_error_at(p + "/Value", rdata.error().what);
    if (!values.insert(*rdata).second) return json_error_at(p + "/Value", "duplicate value");
    out.push_back(std::move(*rdata));
  }
  return out;
}

}  // namespace

Result<RecordSet> record_set_from_json(const json& j, const dns::Name& origin,
                                       const std::string& path) {
  if (!j.is_object()) return json_error_at(path, "a record set must be an object");
  if (auto s = reject_unknown_fields(
          j, path,
          {"Name", "Type", "SetIdentifier", "Weight", "Region", "GeoLocation",
           "GeoProximityLocation", "CidrRoutingConfig", "Failover", "MultiValueAnswer", "TTL",
           "ResourceRecords", "AliasTarget", "HealthCheckId", "TrafficPolicyInstanceId"});
      !s)
    return s.error();
  RecordSet rs;
  if (!j.contains("Name")) return json_error_at(path + "/Name", "is required");
  auto name = name_field(j["Name"], path + "/Name", origin);
  if (!name) return name.error();
  rs.name = *name;
  if (!j.contains("Type")) return json_error_at(path + "/Type", "is required");
  auto type_text = read_json_string(j["Type"], path + "/Type");
  if (!type_text) return type_text.error();
  auto type = dns::type_from_text(*type_text);
  if (!type || *type == dns::rrtype::OPT || *type == dns::rrtype::ANY)
    return json_error_at(path + "/Type", "unknown or unsupported record type '" + *type_text + "'");
  rs.type = *type;

  int policies = 0;
  for (const RoutingField& field : kRoutingFields) {
    if (!j.contains(field.name)) continue;
    auto chosen = field.read(j[field.name], path + "/" + field.name, rs);
    if (!chosen) return chosen.error();
    if (*chosen) ++policies;
  }
  if (policies > 1)
    return json_error_at(path, "combines the fields of more than one routing policy");

  if (j.contains("SetIdentifier")) {
    auto id = read_json_string(j["SetIdentifier"], path + "/SetIdentifier");
    if (!id) return id.error();
    if (id->empty() || id->size() > 128)
      return json_error_at(path + "/SetIdentifier", "must be 1 to 128 characters");
    rs.set_identifier = *id;
  }
  if (rs.policy != RoutingPolicy::kSimple && rs.set_identifier.empty())
    return json_error_at(path + "/SetIdentifier", std::string("is required for ") +
                                                      routing_policy_name(rs.policy) + " routing");
  if (rs.policy == RoutingPolicy::kSimple && !rs.set_identifier.empty())
    return json_error_at(path + "/SetIdentifier", "is only allowed with a routing policy");

  if (j.contains("HealthCheckId")) {
    auto h = read_json_string(j["HealthCheckId"], path + "/HealthCheckId");
    if (!h) return h.error();
    rs.health_check_id = *h;
  }

  const bool has_alias = j.contains("AliasTarget");
  const bool has_records = j.contains("ResourceRecords");
  if (has_alias && has_records)
    return json_error_at(path, "AliasTarget and ResourceRecords cannot both be set");
  if (has_alias) {
    auto alias = read_alias_target(j["AliasTarget"], path + "/AliasTarget", origin);
    if (!alias) return alias.error();
    if (j.contains("TTL")) return json_error_at(path + "/TTL", "is not allowed with AliasTarget");
    rs.alias = *alias;
    return rs;
  }

  if (!j.contains("TTL")) return json_error_at(path + "/TTL", "is required");
  auto ttl = read_json_integer(j["TTL"], path + "/TTL", 0, 2147483647);
  if (!ttl) return ttl.error();
  rs.ttl = static_cast<uint32_t>(*ttl);
  if (!has_records) return json_error_at(path + "/ResourceRecords", "is required");
  auto rdatas =
      read_resource_records(j["ResourceRecords"], path + "/ResourceRecords", rs.type, origin);
  if (!rdatas) return rdatas.error();
  rs.rdatas = std::move(*rdatas);
  if (rs.policy == RoutingPolicy::kMultivalue) {
    if (rs.type == dns::rrtype::CNAME || rs.type == dns::rrtype::NS)
      return json_error_at(path + "/MultiValueAnswer", "is not allowed for CNAME or NS");
    if (rs.rdatas.size() != 1)
      return json_error_at(path + "/ResourceRecords",
                           "multivalue record sets have exactly one value");
  }
  if ((rs.type == dns::rrtype::CNAME || rs.type == dns::rrtype::SOA) && rs.rdatas.size() != 1)
    return json_error_at(path + "/ResourceRecords",
                         dns::type_to_text(rs.type) + " has exactly one value");
  return rs;
}

json record_set_to_json(const RecordSet& rs) {
  json j;
  j["Name"] = name_to_route53_text(rs.name);
  j["Type"] = dns::type_to_text(rs.type);
  if (!rs.set_identifier.empty()) j["SetIdentifier"] = rs.set_identifier;
  if (rs.weight) j["Weight"] = *rs.weight;
  if (!rs.region.empty()) j["Region"] = rs.region;
  if (rs.geolocation) {
    json g;
    if (!rs.geolocation->continent_code.empty())
      g["ContinentCode"] = rs.geolocation->continent_code;
    if (!rs.geolocation->country_code.empty()) g["CountryCode"] = rs.geolocation->country_code;
    if (!rs.geolocation->subdivision_code.empty())
      g["SubdivisionCode"] = rs.geolocation->subdivision_code;
    j["GeoLocation"] = g;
  }
  if (rs.geoproximity) {
    json g;
    if (!rs.geoproximity->aws_region.empty()) g["AWSRegion"] = rs.geoproximity->aws_region;
    if (rs.geoproximity->latitude)
      g["Coordinates"] = {{"Latitude", std::to_string(*rs.geoproximity->latitude)},
                          {"Longitude", std::to_string(*rs.geoproximity->longitude)}};
    if (rs.geoproximity->bias) g["Bias"] = rs.geoproximity->bias;
    j["GeoProximityLocation"] = g;
  }
  if (rs.cidr_routing)
    j["CidrRoutingConfig"] = {{"CollectionId", rs.cidr_routing->collection_id},
                              {"LocationName", rs.cidr_routing->location_name}};
  if (rs.failover) j["Failover"] = *rs.failover == FailoverRole::kPrimary ? "PRIMARY" : "SECONDARY";
  if (rs.policy == RoutingPolicy::kMultivalue) j["MultiValueAnswer"] = true;
  if (!rs.health_check_id.empty()) j["HealthCheckId"] = rs.health_check_id;
  if (rs.alias) {
    j["AliasTarget"] = {{"HostedZoneId", rs.alias->hosted_zone_id},
                        {"DNSName", name_to_route53_text(rs.alias->dns_name)},
                        {"EvaluateTargetHealth", rs.alias->evaluate_target_health}};
  } else {
    j["TTL"] = rs.ttl;
    json records = json::array();
    for (const auto& r : rs.rdatas) records.push_back({{"Value", dns::rdata_to_text(rs.type, r)}});
    j["ResourceRecords"] = records;
  }
  return j;
}

Result<ChangeBatch> change_batch_from_json(const json& j, const dns::Name& origin) {
  if (!j.is_object()) return json_error_at("", "a change batch must be an object");
  if (auto s = reject_unknown_fields(j, "", {"Comment", "Changes"}); !s) return s.error();
  ChangeBatch batch;
  if (j.contains("Comment")) {
    if (!j["Comment"].is_string()) return json_error_at("/Comment", "must be a string");
    batch.comment = j["Comment"].get<std::string>();
  }
  if (!j.contains("Changes") || !j["Changes"].is_array() || j["Changes"].empty())
    return json_error_at("/Changes", "must be a non-empty list");
  const json& changes = j["Changes"];
  std::set<std::string> seen;
  for (size_t i = 0; i < changes.size(); ++i) {
    const std::string p = "/Changes/" + std::to_string(i);
    const json& c = changes[i];
    if (!c.is_object()) return json_error_at(p, "must be an object");
    if (auto s = reject_unknown_fields(c, p, {"Action", "ResourceRecordSet"}); !s) return s.error();
    if (!c.contains("Action") || !c["Action"].is_string())
      return json_error_at(p + "/Action", "must be CREATE, DELETE or UPSERT");
    const std::string action = c["Action"].get<std::string>();
    Change change;
    if (action == "CREATE")
      change.action = ChangeAction::kCreate;
    else if (action == "DELETE")
      change.action = ChangeAction::kDelete;
    else if (action == "UPSERT")
      change.action = ChangeAction::kUpsert;
    else
      return json_error_at(p + "/Action", "must be CREATE, DELETE or UPSERT");
    if (!c.contains("ResourceRecordSet"))
      return json_error_at(p + "/ResourceRecordSet", "is required");
    auto rs = record_set_from_json(c["ResourceRecordSet"], origin, p + "/ResourceRecordSet");
    if (!rs) return rs.error();
    const std::string identity =
        rs->name.key() + "/" + std::to_string(rs->type) + "/" + rs->set_identifier;
    if (!seen.insert(identity).second)
      return json_error_at(p + "/ResourceRecordSet",
                           "the same record set is changed twice in one batch");
    change.record_set = std::move(*rs);
    batch.changes.push_back(std::move(change));
  }
  return batch;
}

namespace {

const RecordSet* find_exact(const Zone& zone, const RecordSet& rs) {
  const Node* node = zone.find(rs.name);
  if (!node) return nullptr;
  for (const auto& other : node->record_sets)
    if (other.type == rs.type && other.set_identifier == rs.set_identifier) return &other;
  return nullptr;
}

bool same_record_set(const RecordSet& a, const RecordSet& b) {
  // Owner names compare case-insensitively (RFC 4343); everything else must match exactly.
  RecordSet la = a, lb = b;
  la.name = a.name.lowercased();
  lb.name = b.name.lowercased();
  return record_set_to_json(la) == record_set_to_json(lb);
}

}  // namespace

Status apply_change_batch(Zone& zone, const ChangeBatch& batch) {
  Zone next = zone;  // all or nothing: work on a copy, swap on success
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    const Change& c = batch.changes[i];
    const std::string p = "Changes[" + std::to_string(i) + "]";
    const RecordSet* existing = find_exact(next, c.record_set);
    const std::string what =
        c.record_set.name.to_text() + " " + dns::type_to_text(c.record_set.type) +
        (c.record_set.set_identifier.empty() ? "" : " (" + c.record_set.set_identifier + ")");
    switch (c.action) {
      case ChangeAction::kCreate:
        if (existing) return json_error_at(p, "CREATE: record set " + what + " already exists");
        break;
      case ChangeAction::kDelete:
        if (!existing) return json_error_at(p, "DELETE: record set " + what + " was not found");
        if (!same_record_set(*existing, c.record_set))
          return json_error_at(
              p, "DELETE: the values given do not match the existing record set " + what);
        next.remove(c.record_set.name, c.record_set.type, c.record_set.set_identifier);
        continue;
      case ChangeAction::kUpsert:
        if (existing)
          next.remove(c.record_set.name, c.record_set.type, c.record_set.set_identifier);
        break;
    }
    if (auto s = next.add(c.record_set); !s) return json_error_at(p, s.error().what);
  }
  // Failover roles on the result, so that a batch may move a role between SetIdentifiers in any
  // order; the error names the last change that gives a group a second PRIMARY or SECONDARY.
  for (size_t i = batch.changes.size(); i-- > 0;) {
    const Change& c = batch.changes[i];
    if (c.action == ChangeAction::kDelete) continue;
    if (const RecordSet* first = next.same_failover_role(c.record_set))
      return json_error_at("/Changes/" + std::to_string(i) + "/ResourceRecordSet/Failover",
                           second_failover_role_error(c.record_set, *first));
  }
  if (auto s = next.validate(); !s) return json_error_at("", s.error().what);
  zone = std::move(next);
  return Ok{};
}

Result<Zone> parse_route53_json(std::string_view text, const dns::Name& origin,
                                std::string_view source_name) {
  const std::string source(source_name);
  auto parsed = parse_json(text);
  if (!parsed) return Error{"invalid JSON: " + parsed.error().what, source};
  json j = std::move(parsed).value();
  auto located = [&](Error e) {
    e.where = source + (e.where.empty() ? "" : ": " + e.where);
    return e;
  };
  Zone zone(origin);
  if (j.is_object() && j.contains("Changes")) {
    auto batch = change_batch_from_json(j, origin);
    if (!batch) return located(batch.error());
    if (auto s = apply_change_batch(zone, *batch); !s) return located(s.error());
    return zone;
  }
  const json* list = &j;
  std::string base;
  if (j.is_object()) {
    if (!j.contains("ResourceRecordSets"))
      return Error{
          "expected {\"ResourceRecordSets\": [...]}, a list of record sets, or {\"Changes\": "
          "[...]}",
          source};
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "ResourceRecordSets" && it.key() != "IsTruncated" && it.key() != "MaxItems" &&
          it.key() != "NextRecordName" && it.key() != "NextRecordType" &&
          it.key() != "NextRecordIdentifier")
        return located(json_error_at("/" + it.key(), "unknown field"));
    list = &j["ResourceRecordSets"];
    base = "/ResourceRecordSets";
  }
  if (!list->is_array()) return located(json_error_at(base, "must be a list of record sets"));
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string p = base + "/" + std::to_string(i);
    auto rs = record_set_from_json((*list)[i], origin, p);
    if (!rs) return located(rs.error());
    if (const RecordSet* first = zone.same_failover_role(*rs))
      return located(json_error_at(p + "/Failover", second_failover_role_error(*rs, *first)));
    if (auto s = zone.add(std::move(*rs)); !s) return located(json_error_at(p, s.error().what));
  }
  if (auto s = zone.validate(); !s)
    return located(json_error_at(
        "", s.error().what + " (a Route 53 export includes the SOA and NS record sets)"));
  return zone;
}

Result<Zone> load_route53_json(const std::string& path, const dns::Name& origin) {
  std::ifstream in(path);
  if (!in) return make_error("cannot read Route 53 JSON file", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_route53_json(ss.str(), origin, path);
}

}  // namespace meridian::zone
