// The control-API commands of meridianctl, one group per resource (files *_commands.cc): each
// builds one request, prints the answer as a table (or the daemon's JSON with --json), and maps
// failures to the exit codes listed here.
#include "api/api_commands.h"

#include "api/api_call.h"
#include "api/command_groups.h"

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

void add_api_commands(CLI::App& app, ApiCommands& commands) {
  // Shared state of the parsed command line; lives as long as the program.
  static CommandLine line;
  add_zone_commands(app, commands, line);
  add_record_set_commands(app, commands, line);
  add_change_commands(app, commands, line);
  add_import_export_commands(app, commands, line);
  add_health_check_commands(app, commands, line);
  add_tag_commands(app, commands, line);
  add_cluster_commands(app, commands, line);
}

}  // namespace meridian::ctl
