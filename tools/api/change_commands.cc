// meridianctl change-resource-record-sets and get-change: Route 53 change batches and their status.
#include "api/command_groups.h"

#include "api/api_call.h"

namespace meridian::ctl {

using nlohmann::json;

void add_change_commands(CLI::App& app, ApiCommands& commands, CommandLine& line) {
  auto* cb = app.add_subcommand("change-resource-record-sets",
                                "Apply a Route 53 change batch, all or nothing");
  cb->add_option("--hosted-zone-id", line.opt("zone"),
                 "Hosted zone id (Z..., /hostedzone/Z...) or name")
      ->required();
  cb->add_option("--change-batch", line.opt("batch"),
                 "The batch: file://batch.json, a path, - (stdin) or inline JSON")
      ->required();
  add_connection(cb, line.connection);
  cb->footer(with_exit_text(R"(
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
  on_run(cb, commands, [&line] {
    std::string text;
    auto input = read_input(line.opt("batch"));
    if (!input) return fail(kExitUsage, input.error().to_string());
    text = std::move(*input);
    json batch = json::parse(text, nullptr, false);
    if (batch.is_discarded())
      return fail(kExitUsage, "--change-batch: not valid JSON (the daemon was not asked)");
    // `aws route53 change-resource-record-sets` input files may wrap it in "ChangeBatch".
    if (batch.is_object() && batch.contains("ChangeBatch")) batch = batch["ChangeBatch"];
    return send_batch(line.connection, line.opt("zone"), batch);
  });
  auto* gc = app.add_subcommand("get-change", "The status of a change batch: PENDING or INSYNC");
  gc->footer(with_exit_text(R"(
DESCRIPTION
  PENDING: committed to the state database (it survives a restart) and served by userspace, not
  yet in the XDP maps. INSYNC: the maps hold it (without XDP: userspace serves it).
)"));
  gc->add_option("ID", line.opt("id"), "Change id (C... or /change/C...)")->required();
  add_connection(gc, line.connection);
  on_run(gc, commands, [&line] {
    std::string id = line.opt("id");
    if (id.starts_with("/change/")) id = id.substr(8);
    auto r = call(line.connection, "GET", "/v1/changes/" + url_encode(id));
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    print_change(r.body);
    return kExitOk;
  });
}

}  // namespace meridian::ctl
