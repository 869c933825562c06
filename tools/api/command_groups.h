// The API command groups of meridianctl, one per control-API resource; add_api_commands adds them
// in this order, which is the order --help lists them in.
#pragma once

#include <CLI/CLI.hpp>

#include "api/api_call.h"
#include "api/api_commands.h"

namespace meridian::ctl {

void add_zone_commands(CLI::App& app, ApiCommands& commands, CommandLine& line);
void add_record_set_commands(CLI::App& app, ApiCommands& commands, CommandLine& line);
void add_change_commands(CLI::App& app, ApiCommands& commands, CommandLine& line);
void add_import_export_commands(CLI::App& app, ApiCommands& commands, CommandLine& line);
void add_health_check_commands(CLI::App& app, ApiCommands& commands, CommandLine& line);
void add_tag_commands(CLI::App& app, ApiCommands& commands, CommandLine& line);
void add_cluster_commands(CLI::App& app, ApiCommands& commands, CommandLine& line);

}  // namespace meridian::ctl
