// meridianctl cluster: status (this edge's view of its fleet, from the control API) and import (a
// single-host state database into an empty etcd prefix, straight to etcd: no daemon involved).
#include <cinttypes>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "api/api_call.h"
#include "api/command_groups.h"
#include "daemon/instance_lock.h"
#include "fleet/fleet_member.h"
#include "fleet/state_import.h"

namespace meridian::ctl {

using nlohmann::json;

namespace {

std::string lease_text(const json& status) {
  if (!status.contains("Lease") || !status["Lease"].is_number_integer())
    return "none (not joined: no lease granted yet)";
  char hex[32];
  std::snprintf(hex, sizeof hex, "%" PRIx64, status["Lease"].get<int64_t>());
  return std::string(hex) + ", ttl " + str(status, "LeaseTtlSeconds") + " s";
}

int cluster_status(const Connection& c) {
  auto r = call(c, "GET", "/v1/cluster");
  if (r.code) return r.code;
  if (c.as_json) return print_json(r.body), kExitOk;
  const json& s = r.body;
  std::printf("edge:              %s (vantage %s)\n", str(s, "Edge").c_str(),
              str(s, "Vantage").c_str());
  if (s.value("Connected", false))
    std::printf("etcd:              connected (%s), prefix %s\n", str(s, "Endpoint").c_str(),
                str(s, "Prefix").c_str());
  else
    std::printf(
        "etcd:              unreachable since %s: %s\n"
        "                   (serving the last applied state; writes are refused)\n",
        str(s, "UnreachableSince").c_str(), str(s, "LastError").c_str());
  std::printf("lease:             %s\n", lease_text(s).c_str());
  std::printf("applied revision:  %s (shared state at %s)\n", str(s, "AppliedRevision").c_str(),
              str(s, "SharedRevision").c_str());
  const json edges = s.value("Edges", json::array());
  std::printf("edges:             %zu live%s\n\n", edges.size(),
              s.value("Connected", false) ? "" : " when etcd was last reached");
  std::printf("%-24s %-20s %10s %6s  %-16s  %s\n", "edge", "vantage", "applied", "lag",
              "local inputs", "started");
  for (const auto& e : edges)
    std::printf("%-24s %-20s %10s %6s  %-16s  %s\n", str(e, "Name").c_str(),
                str(e, "Vantage").c_str(), str(e, "AppliedRevision").c_str(), str(e, "Lag").c_str(),
                str(e, "Inputs").c_str(), str(e, "Started").c_str());
  if (!s.value("InputsConsistent", true))
    std::printf(
        "\nwarning: the edges' local inputs differ (CIDR collections, latency table, regions,\n"
        "all_down, rrl are read from each edge's config file): they may answer differently\n");
  return kExitOk;
}

// The options of `cluster import`.
struct ImportArgs {
  std::string state_db;
  std::vector<std::string> endpoints;
  config::ClusterSettings etcd;  // TLS, user and password file, prefix
  fleet::ImportLimits limits;
  bool as_json = false;
};

int cluster_import(ImportArgs& a) {
  config::ClusterSettings& s = a.etcd;
  if (s.prefix.empty() || s.prefix.front() != '/' || s.prefix.back() != '/')
    return fail(kExitUsage, "--prefix must start and end with \"/\" (e.g. /meridian/)");
  for (auto url : a.endpoints) {
    if (!url.starts_with("http://") && !url.starts_with("https://"))
      return fail(kExitUsage, "--endpoints: " + url + " must start with http:// or https://");
    while (url.ends_with("/")) url.pop_back();
    s.endpoints.push_back(url);
  }
  if (s.cert_file.empty() != s.key_file.empty())
    return fail(kExitUsage, "--cert and --key go together");
  if (s.username.empty() != s.password_file.empty())
    return fail(kExitUsage, "--user and --password-file go together");
  auto etcd_options = fleet::FleetMember::etcd_options(s);
  if (!etcd_options) return fail(kExitUsage, etcd_options.error().to_string());

  // No meridiand may write to the database while it is read (nor start on it meanwhile).
  std::FILE* readable = std::fopen(a.state_db.c_str(), "rb");
  if (!readable) return fail(kExitUsage, "cannot read the state database " + a.state_db);
  std::fclose(readable);
  auto lock = daemon::InstanceLock::acquire(a.state_db + ".lock", "state database");
  if (!lock) return fail(kExitRefused, "cannot import: " + lock.error().to_string());
  auto plan = fleet::plan_import(a.state_db, s.prefix);
  if (!plan) return fail(kExitUsage, "cannot import: " + plan.error().to_string());
  auto transactions = fleet::import_transactions(*plan, a.limits);
  if (!transactions) return fail(kExitUsage, "cannot import: " + transactions.error().to_string());

  fleet::EtcdClient etcd(std::move(etcd_options).value());
  auto written = fleet::write_import(etcd, s.prefix, *transactions);
  if (const auto* e = std::get_if<fleet::ImportError>(&written)) {
    const int code = e->failure == fleet::ImportFailure::kUnavailable ? kExitUnavailable
                     : e->failure == fleet::ImportFailure::kNotEmpty  ? kExitRefused
                                                                      : kExitServerError;
    return fail(code, "cannot import into " + s.prefix + ": " + e->error.to_string());
  }
  const auto& done = std::get<fleet::ImportDone>(written);
  const json report{{"StateDatabase", a.state_db},
                    {"Prefix", s.prefix},
                    {"Endpoint", etcd.current_endpoint()},
                    {"Zones", plan->zones},
                    {"RecordSets", plan->record_sets},
                    {"HealthChecks", plan->health_checks},
                    {"Changes", plan->changes},
                    {"Transactions", done.transactions},
                    {"Revision", done.revision}};
  if (a.as_json) return print_json(report), kExitOk;
  std::printf(
      "imported %zu zones (%zu record sets), %zu health checks and %zu changes from %s\n"
      "into %s at %s: %zu transaction%s, head at revision %" PRId64 "\n",
      plan->zones, plan->record_sets, plan->health_checks, plan->changes, a.state_db.c_str(),
      s.prefix.c_str(), etcd.current_endpoint().c_str(), done.transactions,
      done.transactions == 1 ? "" : "s", done.revision);
  return kExitOk;
}

}  // namespace

void add_cluster_commands(CLI::App& app, ApiCommands& commands, CommandLine& line) {
  auto* cluster = app.add_subcommand("cluster", "A fleet of edges over etcd: status, import");
  cluster->require_subcommand(1);
  auto* cs = cluster->add_subcommand("status", "This edge's view of its fleet");
  add_connection(cs, line.connection);
  cs->footer(with_exit_text(R"(
DESCRIPTION
  For a meridiand with a "cluster" section: this edge's name and vantage label, whether it
  reaches etcd (or "unreachable since TIME: reason": it then serves its last applied state and
  refuses writes), its lease, the revision it serves, and every live edge (those whose lease is
  alive) with the revision it serves and its lag behind the shared state's head revision.
  --json prints the daemon's answer (GET /v1/cluster). A single-host meridiand answers
  NotAFleetMember: exit 3.

EXAMPLES
  meridianctl cluster status
  meridianctl cluster status --json | jq '.Edges[] | select(.Lag > 0)'
)"));
  on_run(cs, commands, [&line] { return cluster_status(line.connection); });

  static ImportArgs args;
  auto* ci = cluster->add_subcommand(
      "import", "Copy a single-host state database into an empty etcd prefix (migration)");
  ci->add_option("--state-db", args.state_db, "The single-host state database (state.database)")
      ->required();
  ci->add_option("--endpoints", args.endpoints, "etcd client URLs, comma separated")
      ->required()
      ->delimiter(',');
  ci->add_option("--prefix", args.etcd.prefix, "The fleet's key prefix (cluster.prefix)")
      ->capture_default_str();
  ci->add_option("--cacert", args.etcd.ca_file, "CA file (PEM) for https:// endpoints");
  ci->add_option("--cert", args.etcd.cert_file, "Client certificate (PEM), with --key");
  ci->add_option("--key", args.etcd.key_file, "Client certificate's key (PEM)");
  ci->add_option("--user", args.etcd.username, "etcd user, with --password-file");
  ci->add_option("--password-file", args.etcd.password_file,
                 "File whose first line is the etcd password (mode 0600)");
  ci->add_option("--max-txn-ops", args.limits.max_ops,
                 "Operations per transaction: etcd's --max-txn-ops")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  ci->add_option("--max-txn-bytes", args.limits.max_bytes,
                 "Bytes of keys and values per transaction, below etcd's --max-request-bytes")
      ->capture_default_str()
      ->check(CLI::Range(1024, 1 << 30));
  ci->add_flag("--json", args.as_json, "Print what was imported as JSON");
  ci->footer(with_exit_text(R"(
DESCRIPTION
  Moves a single-host deployment to fleet mode: the zones with their record sets, the health
  checks and the change history of a state database are written into an etcd prefix in the keys
  fleet edges read, then edges started with a "cluster" section on that prefix serve them. The
  database is read as meridiand reads it (stop meridiand first: the import takes its lock) and
  validated as a fleet edge will validate it; it is not changed.

  The prefix must be empty: an import never merges into or overwrites a fleet's state (exit 3).
  Everything is one transaction when it fits etcd's limits on one request (--max-txn-ops,
  --max-txn-bytes). A larger database is written in batches, each conditioned on the prefix's
  head key not existing, and the head key last: edges serve nothing of the prefix until that
  last transaction, so they never see half an import. If a batch fails (exit 4) the keys written
  have no head; remove them (etcdctl del --prefix PREFIX) and import again.

  Here exit 2 means etcd cannot be reached (nothing written), 3 that the prefix is not empty or
  a meridiand holds the database, 4 that a batch failed after earlier ones were written.

EXAMPLES
  meridianctl cluster import --state-db /var/lib/meridian/state.db \
      --endpoints https://10.0.0.1:2379,https://10.0.0.2:2379 --prefix /meridian/ \
      --cacert /etc/meridian/etcd-ca.pem --cert /etc/meridian/edge.pem --key /etc/meridian/edge.key
)"));
  on_run(ci, commands, [] { return cluster_import(args); });
}

}  // namespace meridian::ctl
