// meridianctl's commands that talk to a running meridiand over its control API: zones, record
// sets, change batches, import/export, health checks and their status, userspace counters.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace meridian::ctl {

// Exit codes shared by every meridianctl command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;        // bad arguments, unknown map, name, type or address
inline constexpr int kExitUnavailable = 2;  // maps unreadable, or the daemon cannot be reached
inline constexpr int kExitRefused = 3;      // the daemon refused the request (4xx)
inline constexpr int kExitServerError = 4;  // the daemon failed (5xx)

extern const char* const kExitText;

// Adds the API commands to `app`; `run` is set to the chosen command's action after parsing.
struct ApiCommands {
  std::function<int()> run;
};
void add_api_commands(CLI::App& app, ApiCommands& commands);

}  // namespace meridian::ctl
