// meridianctl record-sets: list, show, create and delete one zone's record sets.
#include "api/command_groups.h"

#include <cstdint>
#include <cstdio>
#include <vector>

#include "api/api_call.h"

namespace meridian::ctl {

using nlohmann::json;

namespace {

// A record set's values for tables: values joined, or the alias target.
std::string values_text(const json& rs) {
  if (rs.contains("AliasTarget")) return "ALIAS " + str(rs["AliasTarget"], "DNSName");
  std::string out;
  if (rs.contains("ResourceRecords"))
    for (const auto& v : rs["ResourceRecords"]) out += (out.empty() ? "" : ", ") + str(v, "Value");
  return out;
}

std::string routing_text(const json& rs) {
  if (rs.contains("Weight")) return "weight " + str(rs, "Weight");
  if (rs.contains("Failover")) return "failover " + str(rs, "Failover");
  if (rs.contains("GeoLocation")) {
    const json& g = rs["GeoLocation"];
    std::string where = str(g, "CountryCode", "");
    if (where.empty()) where = str(g, "ContinentCode", "*");
    if (g.contains("SubdivisionCode")) where += "-" + str(g, "SubdivisionCode");
    return "geo " + where;
  }
  if (rs.contains("Region")) return "latency " + str(rs, "Region");
  if (rs.contains("GeoProximityLocation")) return "geoproximity";
  if (rs.contains("CidrRoutingConfig"))
    return "cidr " + str(rs["CidrRoutingConfig"], "LocationName");
  if (rs.value("MultiValueAnswer", false)) return "multivalue";
  return "simple";
}

// The record sets of one name and type (all of a routing-policy group).
Call get_name_and_type(const Connection& c, const std::string& zone, const std::string& name,
                       const std::string& type) {
  return call(c, "GET",
              "/v1/zones/" + url_encode(zone) + "/rrsets?name=" + url_encode(name) +
                  "&type=" + url_encode(type));
}

// Every page of ListResourceRecordSets, following NextRecordName/Type/Identifier while the
// daemon says IsTruncated; `page_size` (MaxItems) empty: the daemon's default.
int rrsets_list(const Connection& c, const std::string& zone, const std::string& name,
                const std::string& type, const std::string& page_size) {
  const std::string path = "/v1/zones/" + url_encode(zone) + "/rrsets";
  std::string filters;
  auto add = [](std::string& q, const char* key, const std::string& value) {
    if (!value.empty()) q += std::string(q.empty() ? "" : "&") + key + "=" + url_encode(value);
  };
  add(filters, "name", name);
  add(filters, "type", type);
  add(filters, "MaxItems", page_size);
  json all = json::array();
  std::string next;  // the Start* parameters of the next page
  for (;;) {
    std::string q = filters;
    if (!next.empty()) q += std::string(q.empty() ? "" : "&") + next;
    auto r = call(c, "GET", path + (q.empty() ? "" : "?" + q));
    if (r.code) return r.code;
    for (auto& rs : r.body["ResourceRecordSets"]) all.push_back(std::move(rs));
    if (!r.body.value("IsTruncated", false)) break;
    next.clear();
    add(next, "StartRecordName", str(r.body, "NextRecordName"));
    add(next, "StartRecordType", str(r.body, "NextRecordType"));
    add(next, "StartRecordIdentifier", str(r.body, "NextRecordIdentifier", ""));
  }
  if (c.as_json)
    return print_json(json{{"ResourceRecordSets", all}, {"IsTruncated", false}}), kExitOk;
  std::printf("%-32s %-6s %-14s %-16s %7s %-14s %s\n", "name", "type", "set id", "routing", "ttl",
              "health check", "values");
  for (const auto& rs : all) {
    std::printf("%-32s %-6s %-14s %-16s %7s %-14s %s\n", str(rs, "Name").c_str(),
                str(rs, "Type").c_str(), str(rs, "SetIdentifier").c_str(), routing_text(rs).c_str(),
                str(rs, "TTL").c_str(), str(rs, "HealthCheckId").c_str(), values_text(rs).c_str());
  }
  return kExitOk;
}

}  // namespace

void add_record_set_commands(CLI::App& app, ApiCommands& commands, CommandLine& line) {
  // --value and --ttl of record-sets create; they live as long as the program, like `line`.
  static std::vector<std::string> value_list;
  static uint32_t ttl_value = 300;
  auto* values = &value_list;
  auto* ttl = &ttl_value;
  auto* rr = app.add_subcommand("record-sets", "Record sets of a zone: list, show, create, delete");
  rr->require_subcommand(1);
  auto* rl = rr->add_subcommand("list", "List a zone's record sets");
  rl->footer(with_exit_text(R"(
DESCRIPTION
  Every record set of the zone with its routing policy, TTL, health check and values, in
  Route 53's order (names with their labels reversed, then type, then set identifier). --name
  takes an absolute name (www.example.com) or one relative to the zone (www). The daemon answers
  in pages of at most 300 (--page-size: fewer); every page is fetched, following
  NextRecordName/Type/Identifier. --json prints Route 53's ListResourceRecordSets shape with all
  of them.
)"));
  rl->add_option("ZONE", line.opt("zone"), "Hosted zone id or name")->required();
  rl->add_option("--name", line.opt("name"), "Only this owner name");
  rl->add_option("--type", line.opt("type"), "Only this type");
  rl->add_option("--page-size", line.opt("page_size"), "Record sets per request (MaxItems, 1-300)");
  add_connection(rl, line.connection);
  on_run(rl, commands, [&line] {
    return rrsets_list(line.connection, line.opt("zone"), line.opt("name"), line.opt("type"),
                       line.opt("page_size"));
  });
  auto* rs_show = rr->add_subcommand("show", "The record sets of one name and type");
  rs_show->footer(with_exit_text(R"(
DESCRIPTION
  Prints the record sets of NAME and TYPE (all of a routing-policy group) as Route 53 JSON.
)"));
  rs_show->add_option("ZONE", line.opt("zone"), "Hosted zone id or name")->required();
  rs_show->add_option("NAME", line.opt("name"), "Owner name")->required();
  rs_show->add_option("TYPE", line.opt("type"), "Type")->required();
  add_connection(rs_show, line.connection);
  on_run(rs_show, commands, [&line] {
    auto r =
        get_name_and_type(line.connection, line.opt("zone"), line.opt("name"), line.opt("type"));
    if (r.code) return r.code;
    if (r.body["ResourceRecordSets"].empty())
      return fail(kExitRefused, "no record set " + line.opt("name") + " " + line.opt("type"));
    print_json(r.body["ResourceRecordSets"]);
    return kExitOk;
  });
  auto* rc = rr->add_subcommand("create", "Create one record set (a one-change CREATE batch)");
  rc->add_option("ZONE", line.opt("zone"), "Hosted zone id or name")->required();
  rc->add_option("--name", line.opt("name"), "Owner name");
  rc->add_option("--type", line.opt("type"), "Type, e.g. A");
  rc->add_option("--ttl", *ttl, "TTL in seconds")->capture_default_str();
  rc->add_option("--value", *values, "A value in presentation form (repeat for several)");
  rc->add_option("--record-set", line.opt("rrset"),
                 "Or the whole ResourceRecordSet as JSON: inline, file://PATH or -");
  add_connection(rc, line.connection);
  rc->footer(with_exit_text(R"(
EXAMPLES
  meridianctl record-sets create example.org --name www --type A --value 198.18.0.10
  meridianctl record-sets create example.org --record-set file://weighted-eu.json
)"));
  on_run(rc, commands, [&line, values, ttl] {
    json rs;
    if (!line.opt("rrset").empty()) {
      std::string text;
      auto input = read_input(line.opt("rrset"));
      if (!input) return fail(kExitUsage, input.error().to_string());
      text = std::move(*input);
      rs = json::parse(text, nullptr, false);
      if (rs.is_discarded()) return fail(kExitUsage, "--record-set: not valid JSON");
    } else {
      if (line.opt("name").empty() || line.opt("type").empty() || values->empty())
        return fail(kExitUsage, "give --name, --type and --value, or --record-set");
      json records = json::array();
      for (const auto& v : *values) records.push_back({{"Value", v}});
      rs = {{"Name", line.opt("name")},
            {"Type", line.opt("type")},
            {"TTL", *ttl},
            {"ResourceRecords", records}};
    }
    return send_batch(line.connection, line.opt("zone"),
                      json{{"Changes", {{{"Action", "CREATE"}, {"ResourceRecordSet", rs}}}}});
  });
  auto* rd = rr->add_subcommand("delete", "Delete one record set (a one-change DELETE batch)");
  rd->footer(with_exit_text(R"(
DESCRIPTION
  Reads the record set as it is and sends it back in a DELETE change (Route 53 deletes only an
  exact match). --set-identifier picks one record set of a routing-policy group.
)"));
  rd->add_option("ZONE", line.opt("zone"), "Hosted zone id or name")->required();
  rd->add_option("NAME", line.opt("name"), "Owner name")->required();
  rd->add_option("TYPE", line.opt("type"), "Type")->required();
  rd->add_option("--set-identifier", line.opt("setid"),
                 "Which record set of a routing policy group");
  add_connection(rd, line.connection);
  on_run(rd, commands, [&line] {
    // DELETE must match exactly (Route 53's rule): send the record set as it is now.
    auto r =
        get_name_and_type(line.connection, line.opt("zone"), line.opt("name"), line.opt("type"));
    if (r.code) return r.code;
    json match;
    for (const auto& rs : r.body["ResourceRecordSets"])
      if (rs.value("SetIdentifier", "") == line.opt("setid")) match = rs;
    if (match.is_null())
      return fail(kExitRefused,
                  "no record set " + line.opt("name") + " " + line.opt("type") +
                      (line.opt("setid").empty() ? "" : " (" + line.opt("setid") + ")"));
    return send_batch(line.connection, line.opt("zone"),
                      json{{"Changes", {{{"Action", "DELETE"}, {"ResourceRecordSet", match}}}}});
  });
}

}  // namespace meridian::ctl
