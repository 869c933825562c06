// The control-API commands of meridianctl: each builds one request, prints the answer as a table
// (or as the daemon's JSON with --json), and maps failures to the documented exit codes.
#include "api/api_commands.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "control/control_client.h"

namespace meridian::ctl {

const char* const kExitText =
    "EXIT STATUS\n"
    "  0  success\n"
    "  1  usage error: bad arguments, unknown map, name, type or address, unreadable file\n"
    "  2  unavailable: the maps cannot be read (no pin dir, no permission), or meridiand cannot\n"
    "     be reached on its control socket (not running, wrong --socket) or URL\n"
    "  3  refused by meridiand: unknown zone or health check, invalid change batch (the message\n"
    "     names the change index and field), conflict; nothing was changed\n"
    "  4  meridiand failed to carry out the request (server error)\n";

namespace {

using nlohmann::json;

// Where the daemon is and how to authenticate: shared by every API command.
struct Connection {
  std::string socket = "/run/meridian/control.sock";
  std::string url;
  std::string token_file;
  std::string ca_file;
  bool as_json = false;
};

void add_connection(CLI::App* cmd, Connection& c) {
  cmd->add_option("--socket", c.socket, "meridiand's control socket")->capture_default_str();
  cmd->add_option("--url", c.url,
                  "Reach the control API over TCP instead, e.g. http://127.0.0.1:8053 (needs "
                  "--token-file or MERIDIAN_TOKEN)");
  cmd->add_option("--token-file", c.token_file, "File whose first line is the bearer token");
  cmd->add_option("--cacert", c.ca_file,
                  "With an https:// --url: verify meridiand's certificate with this CA file (PEM)");
  cmd->add_flag("--json", c.as_json, "Print the daemon's JSON answer");
}

// A failed command: message on stderr, exit code returned.
int fail(int code, const std::string& message) {
  std::fprintf(stderr, "meridianctl: %s\n", message.c_str());
  return code;
}

// Text of "file://PATH", "-" (stdin), a plain path, or inline JSON (starts with '{' or '[').
bool read_input(const std::string& spec, std::string* out, std::string* error) {
  if (spec.starts_with("{") || spec.starts_with("[")) {
    *out = spec;
    return true;
  }
  std::string path = spec.starts_with("file://") ? spec.substr(7) : spec;
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      *error = "cannot read " + path + ": " + std::strerror(errno);
      return false;
    }
    text << in.rdbuf();
  }
  *out = text.str();
  return true;
}

struct Call {
  int code = kExitOk;
  json body;
  std::string text;
};

// One request. Non-2xx answers print the daemon's error and give the exit code.
Call call(const Connection& c, const std::string& method, const std::string& path,
          const std::string& body = {}, const std::string& content_type = "application/json") {
  control::ClientOptions options;
  options.unix_socket = c.socket;
  options.url_base = c.url;
  options.ca_file = c.ca_file;
  std::string token_file = c.token_file;
  if (const char* env = std::getenv("MERIDIAN_TOKEN"); env && token_file.empty())
    options.token = env;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return Call{fail(kExitUsage, "cannot read the token file " + token_file), {}, {}};
    std::getline(in, options.token);
    while (!options.token.empty() && (options.token.back() == '\r' || options.token.back() == ' '))
      options.token.pop_back();
  }
  control::ControlClient client(options);
  auto response = client.request(method, path, body, content_type);
  if (!response) return Call{fail(kExitUnavailable, response.error().to_string()), {}, {}};
  Call out;
  out.text = response->body;
  if (auto j = response->json()) out.body = *j;
  if (response->status >= 200 && response->status < 300) return out;
  std::string message = "HTTP " + std::to_string(response->status);
  if (out.body.is_object() && out.body.contains("Error")) {
    const json& e = out.body["Error"];
    message = e.value("Code", "Error") + ": " + e.value("Message", "");
  } else if (!out.text.empty()) {
    message += ": " + out.text;
  }
  out.code = fail(response->status >= 500                              ? kExitServerError
                  : response->status == 401 || response->status == 403 ? kExitUnavailable
                                                                       : kExitRefused,
                  message);
  return out;
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

void print_json(const json& j) {
  std::printf("%s\n", j.dump(2).c_str());
}

std::string str(const json& j, const char* key, const char* fallback = "-") {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

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

void print_change(const json& j) {
  const json& c = j.contains("ChangeInfo") ? j["ChangeInfo"] : j;
  std::printf("change %s: %s (submitted %s, %s changes)%s%s\n", str(c, "Id").c_str(),
              str(c, "Status").c_str(), str(c, "SubmittedAt").c_str(), str(c, "Changes").c_str(),
              c.contains("Comment") ? ", " : "",
              c.contains("Comment") ? str(c, "Comment").c_str() : "");
}

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

int rrsets_list(const Connection& c, const std::string& zone, const std::string& name,
                const std::string& type) {
  std::string path = "/v1/zones/" + url_encode(zone) + "/rrsets";
  std::string q;
  if (!name.empty()) q += "name=" + url_encode(name);
  if (!type.empty()) q += std::string(q.empty() ? "" : "&") + "type=" + url_encode(type);
  auto r = call(c, "GET", path + (q.empty() ? "" : "?" + q));
  if (r.code) return r.code;
  if (c.as_json) return print_json(r.body), kExitOk;
  std::printf("%-32s %-6s %-14s %-16s %7s %-14s %s\n", "name", "type", "set id", "routing", "ttl",
              "health check", "values");
  for (const auto& rs : r.body["ResourceRecordSets"]) {
    std::printf("%-32s %-6s %-14s %-16s %7s %-14s %s\n", str(rs, "Name").c_str(),
                str(rs, "Type").c_str(), str(rs, "SetIdentifier").c_str(), routing_text(rs).c_str(),
                str(rs, "TTL").c_str(), str(rs, "HealthCheckId").c_str(), values_text(rs).c_str());
  }
  return kExitOk;
}

int send_batch(const Connection& c, const std::string& zone, const json& batch) {
  auto r = call(c, "POST", "/v1/zones/" + url_encode(zone) + "/rrsets", batch.dump());
  if (r.code) return r.code;
  if (c.as_json) return print_json(r.body), kExitOk;
  print_change(r.body);
  return kExitOk;
}

}  // namespace

void add_api_commands(CLI::App& app, ApiCommands& commands) {
  // Shared state of the parsed command line; lives as long as the program.
  static Connection connection;
  static std::map<std::string, std::string> strings;
  static std::vector<std::string> value_list;
  static uint32_t ttl_value = 300;
  auto* conn = &connection;
  auto* s = &strings;
  auto* values = &value_list;
  auto* ttl = &ttl_value;
  auto opt = [s](const std::string& k) -> std::string& { return (*s)[k]; };
  auto footer = [](const std::string& text) { return text + "\n" + kExitText; };

  // --- zones ---
  auto* zones = app.add_subcommand("zones", "Hosted zones: list, show, create, delete");
  zones->require_subcommand(1);
  auto* zl = zones->add_subcommand("list", "List the hosted zones");
  add_connection(zl, *conn);
  zl->footer(footer(R"(
DESCRIPTION
  Every hosted zone: its id, name, record set count, where it came from (config: seeded from the
  config file; api: created through the control API) and its comment. --json prints Route 53's
  ListHostedZones shape.
)"));
  zl->callback([&commands, conn] { commands.run = [conn] { return zones_list(*conn); }; });
  auto* zs = zones->add_subcommand("show", "One hosted zone: id, record set count, SOA serial");
  zs->footer(footer(R"(
EXAMPLES
  meridianctl zones show example.com
  meridianctl zones show Z3M3LMPEXAMPLE --json
)"));
  zs->add_option("ZONE", opt("zone"), "Hosted zone id (Z...) or name")->required();
  add_connection(zs, *conn);
  zs->callback([&commands, conn, s] {
    commands.run = [conn, s] { return zones_show(*conn, (*s)["zone"]); };
  });
  auto* zc = zones->add_subcommand("create", "Create a hosted zone (SOA and NS made for it)");
  zc->add_option("NAME", opt("name"), "The zone's domain name, e.g. example.org")->required();
  zc->add_option("--comment", opt("comment"), "A comment kept with the zone");
  zc->add_option("--zone-file", opt("zone_file"), "Create it with this RFC 1035 master file");
  zc->add_option("--route53-json", opt("r53"),
                 "Create it with these record sets (list-resource-record-sets output)");
  add_connection(zc, *conn);
  zc->footer(footer(R"(
DESCRIPTION
  Creates the zone in meridiand's state database and serves it at once. Without contents the
  zone gets an SOA (ns1.NAME, hostmaster.NAME) and an NS record set, as Route 53 does.

EXAMPLES
  meridianctl zones create example.org --comment "new site"
  meridianctl zones create example.org --zone-file example.org.zone
)"));
  zc->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      json body{{"Name", (*s)["name"]}};
      if (!(*s)["comment"].empty()) body["Comment"] = (*s)["comment"];
      std::string text, error;
      if (!(*s)["zone_file"].empty()) {
        if (!read_input((*s)["zone_file"], &text, &error)) return fail(kExitUsage, error);
        body["ZoneFile"] = text;
      } else if (!(*s)["r53"].empty()) {
        if (!read_input((*s)["r53"], &text, &error)) return fail(kExitUsage, error);
        json j = json::parse(text, nullptr, false);
        if (j.is_discarded()) return fail(kExitUsage, (*s)["r53"] + ": not valid JSON");
        body["ResourceRecordSets"] =
            j.is_object() && j.contains("ResourceRecordSets") ? j["ResourceRecordSets"] : j;
      }
      auto r = call(*conn, "POST", "/v1/zones", body.dump());
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      std::printf("created %s %s\n", str(r.body["HostedZone"], "Id").c_str(),
                  str(r.body["HostedZone"], "Name").c_str());
      return kExitOk;
    };
  });
  auto* zd = zones->add_subcommand("delete", "Delete a hosted zone and all its record sets");
  zd->footer(footer(R"(
DESCRIPTION
  Deletes the zone from the state database and stops serving it at once (REFUSED afterwards).
  A zone still named in the config file is not recreated by a reload: delete it there too.
)"));
  zd->add_option("ZONE", opt("zone"), "Hosted zone id or name")->required();
  add_connection(zd, *conn);
  zd->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      auto r = call(*conn, "DELETE", "/v1/zones/" + url_encode((*s)["zone"]));
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      std::printf("deleted %s\n", str(r.body, "Deleted").c_str());
      return kExitOk;
    };
  });

  // --- record sets ---
  auto* rr = app.add_subcommand("record-sets", "Record sets of a zone: list, show, create, delete");
  rr->require_subcommand(1);
  auto* rl = rr->add_subcommand("list", "List a zone's record sets");
  rl->footer(footer(R"(
DESCRIPTION
  Every record set of the zone with its routing policy, TTL, health check and values. --name
  takes an absolute name (www.example.com) or one relative to the zone (www). --json prints
  Route 53's ListResourceRecordSets shape.
)"));
  rl->add_option("ZONE", opt("zone"), "Hosted zone id or name")->required();
  rl->add_option("--name", opt("name"), "Only this owner name");
  rl->add_option("--type", opt("type"), "Only this type");
  add_connection(rl, *conn);
  rl->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      return rrsets_list(*conn, (*s)["zone"], (*s)["name"], (*s)["type"]);
    };
  });
  auto* rs_show = rr->add_subcommand("show", "The record sets of one name and type");
  rs_show->footer(footer(R"(
DESCRIPTION
  Prints the record sets of NAME and TYPE (all of a routing-policy group) as Route 53 JSON.
)"));
  rs_show->add_option("ZONE", opt("zone"), "Hosted zone id or name")->required();
  rs_show->add_option("NAME", opt("name"), "Owner name")->required();
  rs_show->add_option("TYPE", opt("type"), "Type")->required();
  add_connection(rs_show, *conn);
  rs_show->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      auto r = call(*conn, "GET",
                    "/v1/zones/" + url_encode((*s)["zone"]) + "/rrsets?name=" +
                        url_encode((*s)["name"]) + "&type=" + url_encode((*s)["type"]));
      if (r.code) return r.code;
      if (r.body["ResourceRecordSets"].empty())
        return fail(kExitRefused, "no record set " + (*s)["name"] + " " + (*s)["type"]);
      print_json(r.body["ResourceRecordSets"]);
      return kExitOk;
    };
  });
  auto* rc = rr->add_subcommand("create", "Create one record set (a one-change CREATE batch)");
  rc->add_option("ZONE", opt("zone"), "Hosted zone id or name")->required();
  rc->add_option("--name", opt("name"), "Owner name");
  rc->add_option("--type", opt("type"), "Type, e.g. A");
  rc->add_option("--ttl", *ttl, "TTL in seconds")->capture_default_str();
  rc->add_option("--value", *values, "A value in presentation form (repeat for several)");
  rc->add_option("--record-set", opt("rrset"),
                 "Or the whole ResourceRecordSet as JSON: inline, file://PATH or -");
  add_connection(rc, *conn);
  rc->footer(footer(R"(
EXAMPLES
  meridianctl record-sets create example.org --name www --type A --value 198.18.0.10
  meridianctl record-sets create example.org --record-set file://weighted-eu.json
)"));
  rc->callback([&commands, conn, s, values, ttl] {
    commands.run = [conn, s, values, ttl] {
      json rs;
      if (!(*s)["rrset"].empty()) {
        std::string text, error;
        if (!read_input((*s)["rrset"], &text, &error)) return fail(kExitUsage, error);
        rs = json::parse(text, nullptr, false);
        if (rs.is_discarded()) return fail(kExitUsage, "--record-set: not valid JSON");
      } else {
        if ((*s)["name"].empty() || (*s)["type"].empty() || values->empty())
          return fail(kExitUsage, "give --name, --type and --value, or --record-set");
        json records = json::array();
        for (const auto& v : *values) records.push_back({{"Value", v}});
        rs = {{"Name", (*s)["name"]},
              {"Type", (*s)["type"]},
              {"TTL", *ttl},
              {"ResourceRecords", records}};
      }
      return send_batch(*conn, (*s)["zone"],
                        json{{"Changes", {{{"Action", "CREATE"}, {"ResourceRecordSet", rs}}}}});
    };
  });
  auto* rd = rr->add_subcommand("delete", "Delete one record set (a one-change DELETE batch)");
  rd->footer(footer(R"(
DESCRIPTION
  Reads the record set as it is and sends it back in a DELETE change (Route 53 deletes only an
  exact match). --set-identifier picks one record set of a routing-policy group.
)"));
  rd->add_option("ZONE", opt("zone"), "Hosted zone id or name")->required();
  rd->add_option("NAME", opt("name"), "Owner name")->required();
  rd->add_option("TYPE", opt("type"), "Type")->required();
  rd->add_option("--set-identifier", opt("setid"), "Which record set of a routing policy group");
  add_connection(rd, *conn);
  rd->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      // DELETE must match exactly (Route 53's rule): send the record set as it is now.
      auto r = call(*conn, "GET",
                    "/v1/zones/" + url_encode((*s)["zone"]) + "/rrsets?name=" +
                        url_encode((*s)["name"]) + "&type=" + url_encode((*s)["type"]));
      if (r.code) return r.code;
      json match;
      for (const auto& rs : r.body["ResourceRecordSets"])
        if (rs.value("SetIdentifier", "") == (*s)["setid"]) match = rs;
      if (match.is_null())
        return fail(kExitRefused, "no record set " + (*s)["name"] + " " + (*s)["type"] +
                                      ((*s)["setid"].empty() ? "" : " (" + (*s)["setid"] + ")"));
      return send_batch(*conn, (*s)["zone"],
                        json{{"Changes", {{{"Action", "DELETE"}, {"ResourceRecordSet", match}}}}});
    };
  });

  // --- change batches ---
  auto* cb = app.add_subcommand("change-resource-record-sets",
                                "Apply a Route 53 change batch, all or nothing");
  cb->add_option("--hosted-zone-id", opt("zone"), "Hosted zone id (Z..., /hostedzone/Z...) or name")
      ->required();
  cb->add_option("--change-batch", opt("batch"),
                 "The batch: file://batch.json, a path, - (stdin) or inline JSON")
      ->required();
  add_connection(cb, *conn);
  cb->footer(footer(R"(
DESCRIPTION
  Takes Route 53's ChangeBatch JSON unchanged: {"Comment": "...", "Changes": [{"Action":
  "CREATE|DELETE|UPSERT", "ResourceRecordSet": {...}}]}. The batch is validated whole; on any
  error nothing changes and the message names the change index and field, e.g.
  "InvalidChangeBatch: /Changes/999/ResourceRecordSet/TTL: ...". On success prints the change id
  and its status: INSYNC once the XDP maps (or, without XDP, the userspace server) hold it.

EXAMPLES
  meridianctl change-resource-record-sets --hosted-zone-id Z3M3LMPEXAMPLE \
      --change-batch file://batch.json
  meridianctl change-resource-record-sets --hosted-zone-id example.org --change-batch - < b.json
)"));
  cb->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      std::string text, error;
      if (!read_input((*s)["batch"], &text, &error)) return fail(kExitUsage, error);
      json batch = json::parse(text, nullptr, false);
      if (batch.is_discarded())
        return fail(kExitUsage, "--change-batch: not valid JSON (the daemon was not asked)");
      // `aws route53 change-resource-record-sets` input files may wrap it in "ChangeBatch".
      if (batch.is_object() && batch.contains("ChangeBatch")) batch = batch["ChangeBatch"];
      return send_batch(*conn, (*s)["zone"], batch);
    };
  });
  auto* gc = app.add_subcommand("get-change", "The status of a change batch: PENDING or INSYNC");
  gc->footer(footer(R"(
DESCRIPTION
  PENDING: committed to the state database (it survives a restart) and served by userspace, not
  yet in the XDP maps. INSYNC: the maps hold it (without XDP: userspace serves it).
)"));
  gc->add_option("ID", opt("id"), "Change id (C... or /change/C...)")->required();
  add_connection(gc, *conn);
  gc->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      std::string id = (*s)["id"];
      if (id.starts_with("/change/")) id = id.substr(8);
      auto r = call(*conn, "GET", "/v1/changes/" + url_encode(id));
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      print_change(r.body);
      return kExitOk;
    };
  });

  // --- import / export ---
  auto* im = app.add_subcommand("import", "Replace a zone's record sets with a file (creates it)");
  im->add_option("FILE", opt("file"), "The zone: a path or - (stdin)")->required();
  im->add_option("--zone", opt("zone"), "Hosted zone id or name")->required();
  im->add_option("--format", opt("format"), "zonefile (RFC 1035) or route53-json")->required();
  add_connection(im, *conn);
  im->footer(footer(R"(
DESCRIPTION
  The whole zone is replaced in one transaction: record sets not in the file are deleted. A name
  that is not a hosted zone yet is created. The file is parsed and validated by meridiand; an
  error names the file's line (zonefile) or JSON path (route53-json) and changes nothing.

EXAMPLES
  meridianctl import --zone example.org --format zonefile example.org.zone
  aws route53 list-resource-record-sets --hosted-zone-id Z1 > z.json
  meridianctl import --zone example.org --format route53-json z.json
)"));
  im->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      std::string text, error;
      const std::string& file = (*s)["file"];
      if (!read_input(file == "-" || file.starts_with("file://") ? file : "file://" + file, &text,
                      &error))
        return fail(kExitUsage, error);
      auto r = call(
          *conn, "PUT",
          "/v1/zones/" + url_encode((*s)["zone"]) + "/import?format=" + url_encode((*s)["format"]),
          text, "text/plain");
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      std::printf(
          "%s %s %s (%s record sets)\n", r.body.value("Created", false) ? "created" : "replaced",
          str(r.body["HostedZone"], "Id").c_str(), str(r.body["HostedZone"], "Name").c_str(),
          str(r.body["HostedZone"], "ResourceRecordSetCount").c_str());
      return kExitOk;
    };
  });
  auto* ex = app.add_subcommand("export", "Print a whole zone as a zone file or Route 53 JSON");
  ex->add_option("ZONE", opt("zone"), "Hosted zone id or name")->required();
  ex->add_option("--format", opt("eformat"), "zonefile or route53-json (default)");
  ex->add_option("-o,--output", opt("output"), "Write to this file instead of stdout");
  add_connection(ex, *conn);
  ex->footer(footer(R"(
DESCRIPTION
  Route 53 JSON holds every record set; a zone file cannot hold routing policies, so exporting a
  zone that has them as zonefile is refused (exit 3).
)"));
  ex->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      const std::string format = (*s)["eformat"].empty() ? "route53-json" : (*s)["eformat"];
      auto r =
          call(*conn, "GET",
               "/v1/zones/" + url_encode((*s)["zone"]) + "/export?format=" + url_encode(format));
      if (r.code) return r.code;
      if ((*s)["output"].empty()) {
        std::fwrite(r.text.data(), 1, r.text.size(), stdout);
        return kExitOk;
      }
      std::ofstream out((*s)["output"], std::ios::binary | std::ios::trunc);
      out << r.text;
      if (!out) return fail(kExitUsage, "cannot write " + (*s)["output"]);
      return kExitOk;
    };
  });

  // --- health checks ---
  auto* hc = app.add_subcommand("health-checks", "Health checks: list, show, create, delete");
  hc->require_subcommand(1);
  auto* hl = hc->add_subcommand("list", "List the health checks");
  hl->footer(footer(R"(
DESCRIPTION
  Every health check's id, type, target, interval and failure threshold; --json prints their
  HealthCheckConfig objects. Their states: 'meridianctl health'.
)"));
  add_connection(hl, *conn);
  hl->callback([&commands, conn] {
    commands.run = [conn] {
      auto r = call(*conn, "GET", "/v1/healthchecks");
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      std::printf("%-24s %-16s %-28s %9s %9s\n", "id", "type", "target", "interval", "threshold");
      for (const auto& h : r.body["HealthChecks"]) {
        std::string target = str(h, "IPAddress", "");
        if (target.empty()) target = str(h, "FullyQualifiedDomainName", "");
        if (h.contains("Port")) target += ":" + str(h, "Port");
        if (h.contains("ResourcePath")) target += str(h, "ResourcePath");
        std::printf("%-24s %-16s %-28s %9s %9s\n", str(h, "Id").c_str(), str(h, "Type").c_str(),
                    target.c_str(), str(h, "RequestInterval").c_str(),
                    str(h, "FailureThreshold").c_str());
      }
      return kExitOk;
    };
  });
  auto* hs = hc->add_subcommand("show", "One health check's configuration");
  hs->footer(footer("\nEXAMPLES\n  meridianctl health-checks show web-eu\n"));
  hs->add_option("ID", opt("id"), "Health check id")->required();
  add_connection(hs, *conn);
  hs->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      auto r = call(*conn, "GET", "/v1/healthchecks/" + url_encode((*s)["id"]));
      if (r.code) return r.code;
      print_json(r.body["HealthCheck"]);
      return kExitOk;
    };
  });
  auto* hcr = hc->add_subcommand("create", "Create or replace a health check");
  hcr->add_option("CONFIG", opt("config"),
                  "HealthCheckConfig JSON with \"Id\": file://PATH, a path, - or inline")
      ->required();
  add_connection(hcr, *conn);
  hcr->footer(footer(R"(
EXAMPLES
  meridianctl health-checks create '{"Id": "web-eu", "Type": "HTTP", "IPAddress": "198.18.2.10",
      "Port": 80, "ResourcePath": "/health", "RequestInterval": 10, "FailureThreshold": 3}'
)"));
  hcr->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      std::string text, error;
      if (!read_input((*s)["config"], &text, &error)) return fail(kExitUsage, error);
      json j = json::parse(text, nullptr, false);
      if (j.is_discarded()) return fail(kExitUsage, "CONFIG: not valid JSON");
      auto r = call(*conn, "POST", "/v1/healthchecks", j.dump());
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      std::printf("health check %s saved\n", str(r.body["HealthCheck"], "Id").c_str());
      return kExitOk;
    };
  });
  auto* hd = hc->add_subcommand("delete", "Delete a health check no record set uses");
  hd->footer(footer(R"(
DESCRIPTION
  Refused (exit 3) while a record set names the check or a CALCULATED check has it as a child.
)"));
  hd->add_option("ID", opt("id"), "Health check id")->required();
  add_connection(hd, *conn);
  hd->callback([&commands, conn, s] {
    commands.run = [conn, s] {
      auto r = call(*conn, "DELETE", "/v1/healthchecks/" + url_encode((*s)["id"]));
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      std::printf("deleted health check %s\n", (*s)["id"].c_str());
      return kExitOk;
    };
  });
  auto* hst = app.add_subcommand("health", "Every health check's state, last result and reason");
  hst->footer(footer(R"(
DESCRIPTION
  For each health check: healthy or unhealthy as answers see it, the last probe's result
  (success/failure, after Inverted), its failure reason (kept after later successes: the last
  one seen), the probe's duration, consecutive successes and failures, and when it was last
  updated. States persist in the state database across restarts.

EXAMPLES
  meridianctl health
  meridianctl health --json | jq '.HealthCheckStatuses[] | select(.Status == "unhealthy")'
)"));
  add_connection(hst, *conn);
  hst->callback([&commands, conn] {
    commands.run = [conn] {
      auto r = call(*conn, "GET", "/v1/health");
      if (r.code) return r.code;
      if (conn->as_json) return print_json(r.body), kExitOk;
      std::printf("%-24s %-10s %-8s %9s %-25s %s\n", "id", "status", "last", "latency", "updated",
                  "last failure reason");
      for (const auto& h : r.body["HealthCheckStatuses"]) {
        char latency[32] = "-";
        if (h.contains("LastLatencyMs") && h["LastLatencyMs"].is_number())
          std::snprintf(latency, sizeof latency, "%.1f ms", h["LastLatencyMs"].get<double>());
        std::printf("%-24s %-10s %-8s %9s %-25s %s\n", str(h, "Id").c_str(),
                    str(h, "Status").c_str(), str(h, "LastResult").c_str(), latency,
                    str(h, "UpdatedAt").c_str(), str(h, "LastFailureReason", "").c_str());
      }
      return kExitOk;
    };
  });
}

}  // namespace meridian::ctl
