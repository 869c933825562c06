// The one HTTP call every meridianctl API command makes (connection options, token, exit codes
// from the status), and the input and printing pieces those commands share.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/api_commands.h"
#include "common/result.h"

namespace meridian::ctl {

// Where the daemon is and how to authenticate: shared by every API command.
struct Connection {
  std::string socket = "/run/meridian/control.sock";
  std::string url;
  std::string token_file;
  std::string ca_file;
  bool as_json = false;
};

// The parsed command line of the API commands: CLI11 writes into it, the chosen command's action
// reads it after parsing, so it must outlive add_api_commands (it is a static there).
struct CommandLine {
  Connection connection;
  std::map<std::string, std::string> strings;  // option values by name ("zone", "name", ...)

  std::string& opt(const std::string& key) { return strings[key]; }
};

// Adds --socket, --url, --token-file, --cacert and --json to `cmd`.
void add_connection(CLI::App* cmd, Connection& c);

// Makes `action` the program's action when `cmd` is the command parsed.
void on_run(CLI::App* cmd, ApiCommands& commands, std::function<int()> action);

// A command's help footer: `text`, then the exit codes every command shares.
std::string with_exit_text(const std::string& text);

// A failed command: message on stderr, exit code returned.
int fail(int code, const std::string& message);

// Text of "file://PATH", "-" (stdin), a plain path, or inline JSON (starts with '{' or '[').
Result<std::string> read_input(const std::string& spec);

struct Call {
  int code = kExitOk;
  nlohmann::json body;
  std::string text;
};

// One request. Non-2xx answers print the daemon's error and give the exit code.
Call call(const Connection& c, const std::string& method, const std::string& path,
          const std::string& body = {}, const std::string& content_type = "application/json");

// Sends a change batch to `zone` and prints the change it made (or the daemon's JSON).
int send_batch(const Connection& c, const std::string& zone, const nlohmann::json& batch);

// Prints a ChangeInfo (or an object holding one) on one line.
void print_change(const nlohmann::json& j);

std::string url_encode(const std::string& s);

void print_json(const nlohmann::json& j);

// `j[key]` as table text: strings as they are, other values as JSON, `fallback` when absent.
std::string str(const nlohmann::json& j, const char* key, const char* fallback = "-");

}  // namespace meridian::ctl
