// meridianctl zones: list, show, create and delete hosted zones.
#include "api/command_groups.h"

#include <cstdio>

#include "api/api_call.h"

namespace meridian::ctl {

using nlohmann::json;

namespace {

int zones_list(const Connection& c) {
  auto r = call(c, "GET", "/v1/zones");
  if (r.code) return r.code;
  if (c.as_json) return print_json(r.body), kExitOk;
  std::printf("%-22s %-32s %8s %-7s %s\n", "id", "name", "rrsets", "source", "comment");
  for (const auto& z : r.body["HostedZones"]) {
    std::string id = str(z, "Id");
    if (id.starts_with("/hostedzone/")) id = id.substr(12);
    std::printf("%-22s %-32s %8s %-7s %s\n", id.c_str(), str(z, "Name").c_str(),
                str(z, "ResourceRecordSetCount").c_str(), str(z, "CreatedBy").c_str(),
                str(z["Config"], "Comment", "").c_str());
  }
  if (!r.body.value("Durable", true))
    std::printf("(no state database: zones come from the config file and are read-only)\n");
  return kExitOk;
}

int zones_show(const Connection& c, const std::string& zone) {
  auto r = call(c, "GET", "/v1/zones/" + url_encode(zone));
  if (r.code) return r.code;
  if (c.as_json) return print_json(r.body), kExitOk;
  const json& z = r.body["HostedZone"];
  std::printf(
      "id:            %s\nname:          %s\nrecord sets:   %s\ncreated by:    %s\n"
      "created at:    %s\ncomment:       %s\nSOA serial:    %s\nname servers: ",
      str(z, "Id").c_str(), str(z, "Name").c_str(), str(z, "ResourceRecordSetCount").c_str(),
      str(z, "CreatedBy").c_str(), str(z, "CreatedAt").c_str(),
      str(z["Config"], "Comment", "").c_str(), str(r.body, "SOASerial").c_str());
  for (const auto& ns : r.body["DelegationSet"]["NameServers"])
    std::printf(" %s", ns.get<std::string>().c_str());
  std::printf("\n");
  return kExitOk;
}

}  // namespace

void add_zone_commands(CLI::App& app, ApiCommands& commands, CommandLine& line) {
  auto* zones = app.add_subcommand("zones", "Hosted zones: list, show, create, delete");
  zones->require_subcommand(1);
  auto* zl = zones->add_subcommand("list", "List the hosted zones");
  add_connection(zl, line.connection);
  zl->footer(with_exit_text(R"(
DESCRIPTION
  Every hosted zone: its id, name, record set count, where it came from (config: seeded from the
  config file; api: created through the control API) and its comment. --json prints Route 53's
  ListHostedZones shape.
)"));
  on_run(zl, commands, [&line] { return zones_list(line.connection); });
  auto* zs = zones->add_subcommand("show", "One hosted zone: id, record set count, SOA serial");
  zs->footer(with_exit_text(R"(
EXAMPLES
  meridianctl zones show example.com
  meridianctl zones show Z3M3LMPEXAMPLE --json
)"));
  zs->add_option("ZONE", line.opt("zone"), "Hosted zone id (Z...) or name")->required();
  add_connection(zs, line.connection);
  on_run(zs, commands, [&line] { return zones_show(line.connection, line.opt("zone")); });
  auto* zc = zones->add_subcommand("create", "Create a hosted zone (SOA and NS made for it)");
  zc->add_option("NAME", line.opt("name"), "The zone's domain name, e.g. example.org")->required();
  zc->add_option("--comment", line.opt("comment"), "A comment kept with the zone");
  zc->add_option("--zone-file", line.opt("zone_file"), "Create it with this RFC 1035 master file");
  zc->add_option("--route53-json", line.opt("r53"),
                 "Create it with these record sets (list-resource-record-sets output)");
  add_connection(zc, line.connection);
  zc->footer(with_exit_text(R"(
DESCRIPTION
  Creates the zone in meridiand's state database and serves it at once. Without contents the
  zone gets an SOA (ns1.NAME, hostmaster.NAME) and an NS record set, as Route 53 does.

EXAMPLES
  meridianctl zones create example.org --comment "new site"
  meridianctl zones create example.org --zone-file example.org.zone
)"));
  on_run(zc, commands, [&line] {
    json body{{"Name", line.opt("name")}};
    if (!line.opt("comment").empty()) body["Comment"] = line.opt("comment");
    std::string text;
    if (!line.opt("zone_file").empty()) {
      auto input = read_input(line.opt("zone_file"));
      if (!input) return fail(kExitUsage, input.error().to_string());
      text = std::move(*input);
      body["ZoneFile"] = text;
    } else if (!line.opt("r53").empty()) {
      auto input = read_input(line.opt("r53"));
      if (!input) return fail(kExitUsage, input.error().to_string());
      text = std::move(*input);
      json j = json::parse(text, nullptr, false);
      if (j.is_discarded()) return fail(kExitUsage, line.opt("r53") + ": not valid JSON");
      body["ResourceRecordSets"] =
          j.is_object() && j.contains("ResourceRecordSets") ? j["ResourceRecordSets"] : j;
    }
    auto r = call(line.connection, "POST", "/v1/zones", body.dump());
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    std::printf("created %s %s\n", str(r.body["HostedZone"], "Id").c_str(),
                str(r.body["HostedZone"], "Name").c_str());
    return kExitOk;
  });
  auto* zd = zones->add_subcommand("delete", "Delete a hosted zone and all its record sets");
  zd->footer(with_exit_text(R"(
DESCRIPTION
  Deletes the zone from the state database and stops serving it at once (REFUSED afterwards).
  A zone still named in the config file is not recreated by a reload: delete it there too.
)"));
  zd->add_option("ZONE", line.opt("zone"), "Hosted zone id or name")->required();
  add_connection(zd, line.connection);
  on_run(zd, commands, [&line] {
    auto r = call(line.connection, "DELETE", "/v1/zones/" + url_encode(line.opt("zone")));
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    std::printf("deleted %s\n", str(r.body, "Deleted").c_str());
    return kExitOk;
  });
}

}  // namespace meridian::ctl
