// meridianctl import and export: a whole zone in or out as a zone file or Route 53 JSON.
#include "api/command_groups.h"

#include <cstdio>
#include <fstream>

#include "api/api_call.h"

namespace meridian::ctl {

using nlohmann::json;

void add_import_export_commands(CLI::App& app, ApiCommands& commands, CommandLine& line) {
  auto* im = app.add_subcommand("import", "Replace a zone's record sets with a file (creates it)");
  im->add_option("FILE", line.opt("file"), "The zone: a path or - (stdin)")->required();
  im->add_option("--zone", line.opt("zone"), "Hosted zone id or name")->required();
  im->add_option("--format", line.opt("format"), "zonefile (RFC 1035) or route53-json")->required();
  add_connection(im, line.connection);
  im->footer(with_exit_text(R"(
DESCRIPTION
  The whole zone is replaced in one transaction: record sets not in the file are deleted. A name
  that is not a hosted zone yet is created. The file is parsed and validated by meridiand; an
  error names the file's line (zonefile) or JSON path (route53-json) and changes nothing.

EXAMPLES
  meridianctl import --zone example.org --format zonefile example.org.zone
  aws route53 list-resource-record-sets --hosted-zone-id Z1 > z.json
  meridianctl import --zone example.org --format route53-json z.json
)"));
  on_run(im, commands, [&line] {
    std::string text;
    const std::string& file = line.opt("file");
    auto input = read_input(file == "-" || file.starts_with("file://") ? file : "file://" + file);
    if (!input) return fail(kExitUsage, input.error().to_string());
    text = std::move(*input);
    auto r = call(line.connection, "PUT",
                  "/v1/zones/" + url_encode(line.opt("zone")) +
                      "/import?format=" + url_encode(line.opt("format")),
                  text, "text/plain");
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    std::printf("%s %s %s (%s record sets)\n",
                r.body.value("Created", false) ? "created" : "replaced",
                str(r.body["HostedZone"], "Id").c_str(), str(r.body["HostedZone"], "Name").c_str(),
                str(r.body["HostedZone"], "ResourceRecordSetCount").c_str());
    return kExitOk;
  });
  auto* ex = app.add_subcommand("export", "Print a whole zone as a zone file or Route 53 JSON");
  ex->add_option("ZONE", line.opt("zone"), "Hosted zone id or name")->required();
  ex->add_option("--format", line.opt("eformat"), "zonefile or route53-json (default)");
  ex->add_option("-o,--output", line.opt("output"), "Write to this file instead of stdout");
  add_connection(ex, line.connection);
  ex->footer(with_exit_text(R"(
DESCRIPTION
  Route 53 JSON holds every record set; a zone file cannot hold routing policies, so exporting a
  zone that has them as zonefile is refused (exit 3).
)"));
  on_run(ex, commands, [&line] {
    const std::string format = line.opt("eformat").empty() ? "route53-json" : line.opt("eformat");
    auto r =
        call(line.connection, "GET",
             "/v1/zones/" + url_encode(line.opt("zone")) + "/export?format=" + url_encode(format));
    if (r.code) return r.code;
    if (line.opt("output").empty()) {
      std::fwrite(r.text.data(), 1, r.text.size(), stdout);
      return kExitOk;
    }
    std::ofstream out(line.opt("output"), std::ios::binary | std::ios::trunc);
    out << r.text;
    if (!out) return fail(kExitUsage, "cannot write " + line.opt("output"));
    return kExitOk;
  });
}

}  // namespace meridian::ctl
