// meridianctl health-checks (list, show, create, update, delete), health (every check's state)
// and tags (ListTagsForResource, ChangeTagsForResource on checks and zones).
#include "api/command_groups.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "api/api_call.h"

namespace meridian::ctl {
namespace {

// The fields the daemon ignored (read-only or not applicable), one line each on stderr.
void print_warnings(const nlohmann::json& body) {
  if (!body.contains("Warnings")) return;
  for (const auto& w : body["Warnings"])
    std::fprintf(stderr, "warning: %s\n", w.get<std::string>().c_str());
}

}  // namespace

using nlohmann::json;

void add_health_check_commands(CLI::App& app, ApiCommands& commands, CommandLine& line) {
  auto* hc = app.add_subcommand("health-checks", "Health checks: list, show, create, delete");
  hc->require_subcommand(1);
  auto* hl = hc->add_subcommand("list", "List the health checks");
  hl->footer(with_exit_text(R"(
DESCRIPTION
  Every health check's id, type, target, interval and failure threshold; --json prints their
  HealthCheckConfig objects. Their states: 'meridianctl health'.
)"));
  add_connection(hl, line.connection);
  on_run(hl, commands, [&line] {
    auto r = call(line.connection, "GET", "/v1/healthchecks");
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    std::printf("%-24s %-16s %-28s %9s %9s\n", "id", "type", "target", "interval", "threshold");
    for (const auto& check : r.body["HealthChecks"]) {
      // Flat, or as Route 53 prints it ({"Id", "HealthCheckConfig": {...}}).
      const json& h = check.contains("HealthCheckConfig") ? check["HealthCheckConfig"] : check;
      std::string target = str(h, "IPAddress", "");
      if (target.empty()) target = str(h, "FullyQualifiedDomainName", "");
      if (h.contains("Port")) target += ":" + str(h, "Port");
      if (h.contains("ResourcePath")) target += str(h, "ResourcePath");
      std::printf("%-24s %-16s %-28s %9s %9s\n", str(check, "Id").c_str(), str(h, "Type").c_str(),
                  target.c_str(), str(h, "RequestInterval").c_str(),
                  str(h, "FailureThreshold").c_str());
    }
    return kExitOk;
  });
  auto* hs = hc->add_subcommand("show", "One health check's configuration");
  hs->footer(with_exit_text("\nEXAMPLES\n  meridianctl health-checks show web-eu\n"));
  hs->add_option("ID", line.opt("id"), "Health check id")->required();
  add_connection(hs, line.connection);
  on_run(hs, commands, [&line] {
    auto r = call(line.connection, "GET", "/v1/healthchecks/" + url_encode(line.opt("id")));
    if (r.code) return r.code;
    print_json(r.body["HealthCheck"]);
    return kExitOk;
  });
  auto* hcr = hc->add_subcommand("create", "Create or replace a health check");
  hcr->add_option("CONFIG", line.opt("config"),
                  "HealthCheckConfig JSON with \"Id\", or Route 53's CreateHealthCheck request "
                  "{\"CallerReference\", \"HealthCheckConfig\"}: file://PATH, a path, - or inline")
      ->required();
  add_connection(hcr, line.connection);
  hcr->footer(with_exit_text(R"(
DESCRIPTION
  With an "Id" the check is created, or replaced when it exists ("saved"). Route 53's
  CreateHealthCheck request (CallerReference and HealthCheckConfig, no Id) gets a generated id
  ("created"); sent again with the same CallerReference and settings it names the check it
  created ("exists"), with other settings it is refused (HealthCheckAlreadyExists, exit 3).

EXAMPLES
  meridianctl health-checks create '{"Id": "web-eu", "Type": "HTTP", "IPAddress": "198.18.2.10",
      "Port": 80, "ResourcePath": "/health", "RequestInterval": 10, "FailureThreshold": 3}'
  meridianctl health-checks create '{"CallerReference": "web-eu-2026-01",
      "HealthCheckConfig": {"Type": "TCP", "IPAddress": "198.18.2.10", "Port": 443}}'
)"));
  on_run(hcr, commands, [&line] {
    std::string text;
    auto input = read_input(line.opt("config"));
    if (!input) return fail(kExitUsage, input.error().to_string());
    text = std::move(*input);
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail(kExitUsage, "CONFIG: not valid JSON");
    auto r = call(line.connection, "POST", "/v1/healthchecks", j.dump());
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    print_warnings(r.body);
    const char* what = !r.body.contains("Created")     ? "saved"
                       : r.body["Created"].get<bool>() ? "created"
                                                       : "exists (same CallerReference)";
    std::printf("health check %s %s\n", str(r.body["HealthCheck"], "Id").c_str(), what);
    return kExitOk;
  });
  auto* hu = hc->add_subcommand("update", "Change some fields of a health check");
  hu->add_option("ID", line.opt("id"), "Health check id")->required();
  hu->add_option("CONFIG", line.opt("config"),
                 "The fields to change, as UpdateHealthCheck takes them: file://PATH, a path, - "
                 "or inline")
      ->required();
  hu->add_option("--version", line.opt("version"),
                 "Only if the check is still at this HealthCheckVersion (from 'show')");
  add_connection(hu, line.connection);
  hu->footer(with_exit_text(R"(
DESCRIPTION
  Route 53's UpdateHealthCheck: the fields given replace the check's, the others stay
  ("ResetElements": ["ResourcePath", ...] resets fields to their defaults); Id, Type and
  CallerReference cannot change. With --version the update is refused (exit 3,
  HealthCheckVersionMismatch) when somebody changed the check since that version was read.
  Every update adds one to HealthCheckVersion.

EXAMPLES
  meridianctl health-checks update web-eu --version 3 '{"FailureThreshold": 5, "Disabled": true}'
)"));
  on_run(hu, commands, [&line] {
    std::string text;
    auto input = read_input(line.opt("config"));
    if (!input) return fail(kExitUsage, input.error().to_string());
    text = std::move(*input);
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return fail(kExitUsage, "CONFIG: not a JSON object");
    if (!line.opt("version").empty()) {
      json v = json::parse(line.opt("version"), nullptr, false);
      if (!v.is_number_integer()) return fail(kExitUsage, "--version: not a whole number");
      j["HealthCheckVersion"] = v;
    }
    auto r =
        call(line.connection, "POST", "/v1/healthchecks/" + url_encode(line.opt("id")), j.dump());
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    print_warnings(r.body);
    std::printf("health check %s updated to version %s\n", str(r.body["HealthCheck"], "Id").c_str(),
                str(r.body["HealthCheck"], "HealthCheckVersion").c_str());
    return kExitOk;
  });
  auto* hd = hc->add_subcommand("delete", "Delete a health check no record set uses");
  hd->footer(with_exit_text(R"(
DESCRIPTION
  Refused (exit 3) while a record set names the check or a CALCULATED check has it as a child.
)"));
  hd->add_option("ID", line.opt("id"), "Health check id")->required();
  add_connection(hd, line.connection);
  on_run(hd, commands, [&line] {
    auto r = call(line.connection, "DELETE", "/v1/healthchecks/" + url_encode(line.opt("id")));
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    std::printf("deleted health check %s\n", line.opt("id").c_str());
    return kExitOk;
  });
  auto* hst = app.add_subcommand("health", "Every health check's state, last result and reason");
  hst->footer(with_exit_text(R"(
DESCRIPTION
  For each health check: healthy or unhealthy as answers see it, the last probe's result
  (success/failure, after Inverted), its failure reason (kept after later successes: the last
  one seen), the probe's duration, consecutive successes and failures, and when it was last
  updated. States persist in the state database across restarts.

  On a fleet edge (a "cluster" section) a "fleet vote" column shows the status every edge serves
  and the vote it was decided by, e.g. "healthy: 2 of 3 vantage points healthy"; "status" is
  then this edge's own probe state, one of those votes.

EXAMPLES
  meridianctl health
  meridianctl health --json | jq '.HealthCheckStatuses[] | select(.Status == "unhealthy")'
)"));
  add_connection(hst, line.connection);
  on_run(hst, commands, [&line] {
    auto r = call(line.connection, "GET", "/v1/health");
    if (r.code) return r.code;
    if (line.connection.as_json) return print_json(r.body), kExitOk;
    const json& statuses = r.body["HealthCheckStatuses"];
    // A fleet edge's answer carries each check's vote: the status every edge serves.
    const bool fleet = std::any_of(statuses.begin(), statuses.end(),
                                   [](const json& h) { return h.contains("Vote"); });
    const auto vote = [fleet](const json& h) {
      if (!fleet) return std::string();
      if (!h.contains("Vote")) return std::string("-");
      return str(h, "FleetStatus") + ": " + str(h["Vote"], "Summary");
    };
    std::printf("%-24s %-10s %-*s%-8s %9s %-25s %s\n", "id", "status", fleet ? 50 : 0,
                fleet ? "fleet vote " : "", "last", "latency", "updated", "last failure reason");
    for (const auto& h : statuses) {
      char latency[32] = "-";
      if (h.contains("LastLatencyMs") && h["LastLatencyMs"].is_number())
        std::snprintf(latency, sizeof latency, "%.1f ms", h["LastLatencyMs"].get<double>());
      std::printf("%-24s %-10s %-*s%-8s %9s %-25s %s\n", str(h, "Id").c_str(),
                  str(h, "Status").c_str(), fleet ? 50 : 0, (vote(h) + (fleet ? " " : "")).c_str(),
                  str(h, "LastResult").c_str(), latency, str(h, "UpdatedAt").c_str(),
                  str(h, "LastFailureReason", "").c_str());
    }
    return kExitOk;
  });
}

}  // namespace meridian::ctl
