// meridianctl tags (list, change): Route 53's ListTagsForResource and ChangeTagsForResource on a
// health check or a hosted zone.
#include <cstdio>
#include <string>
#include <vector>

#include "api/api_call.h"
#include "api/command_groups.h"

namespace meridian::ctl {

using nlohmann::json;

namespace {

void add_resource_options(CLI::App* cmd, CommandLine& line) {
  cmd->add_option("--resource-type", line.opt("resource_type"), "healthcheck or hostedzone")
      ->required()
      ->check(CLI::IsMember({"healthcheck", "hostedzone"}));
  cmd->add_option("--resource-id", line.opt("resource_id"),
                  "The health check's id, or the hosted zone's id or name")
      ->required();
}

std::string tags_path(CommandLine& line) {
  return "/v1/tags/" + line.opt("resource_type") + "/" + url_encode(line.opt("resource_id"));
}

void print_tags(const json& body) {
  const json& set = body["ResourceTagSet"];
  std::printf("%-32s %s\n", "key", "value");
  for (const auto& tag : set["Tags"])
    std::printf("%-32s %s\n", str(tag, "Key").c_str(), str(tag, "Value", "").c_str());
}

}  // namespace

void add_tag_commands(CLI::App& app, ApiCommands& commands, CommandLine& line) {
  // --add and --remove of tags change; they live as long as the program, like `line`.
  static std::vector<std::string> add_list;
  static std::vector<std::string> remove_list;
  auto* tags = app.add_subcommand("tags", "Tags of a health check or hosted zone: list, change");
  tags->require_subcommand(1);
  auto* tl = tags->add_subcommand("list", "A resource's tags (ListTagsForResource)");
  add_resource_options(tl, line);
  add_connection(tl, line.connection);
  tl->footer(with_exit_text(R"(
EXAMPLES
  meridianctl tags list --resource-type hostedzone --resource-id example.com
)"));
  on_run(tl, commands, [&line] {
    auto r = call(line.connection, "GET", tags_path(line));
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    print_tags(r.body);
    return kExitOk;
  });
  auto* tc = tags->add_subcommand("change", "Add, change or remove tags (ChangeTagsForResource)");
  add_resource_options(tc, line);
  tc->add_option("--add", add_list, "Key=Value: add the tag or change its value (repeat)");
  tc->add_option("--remove", remove_list, "Key: remove the tag (repeat)");
  add_connection(tc, line.connection);
  tc->footer(with_exit_text(R"(
DESCRIPTION
  At most 10 tags per resource; keys of 1-128 bytes, values of at most 256. Prints the tags the
  resource has afterwards.

EXAMPLES
  meridianctl tags change --resource-type healthcheck --resource-id web-eu --add team=edge \
      --add cost-center=42 --remove obsolete
)"));
  on_run(tc, commands, [&line] {
    if (add_list.empty() && remove_list.empty())
      return fail(kExitUsage, "nothing to change: give --add Key=Value or --remove Key");
    json body = json::object();
    if (!add_list.empty()) {
      body["AddTags"] = json::array();
      for (const auto& item : add_list) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
          return fail(kExitUsage, "--add " + item + ": expected Key=Value");
        body["AddTags"].push_back({{"Key", item.substr(0, eq)}, {"Value", item.substr(eq + 1)}});
      }
    }
    if (!remove_list.empty()) body["RemoveTagKeys"] = remove_list;
    auto r = call(line.connection, "POST", tags_path(line), body.dump());
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    print_tags(r.body);
    return kExitOk;
  });
}

}  // namespace meridian::ctl
