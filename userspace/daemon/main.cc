// meridiand: reads the configuration, brings up the controller (state database, zones, health
// checks, GSLB inputs), the DNS server, the XDP fast path, the control API, metrics and query logs,
// and turns signals into reloads (SIGHUP), query-log reopening (SIGUSR1) or a clean stop
// (SIGTERM/SIGINT). Thin by design: the work is in the libraries and the daemon's modules.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "answer/responder.h"
#include "config/daemon_config.h"
#include "control/http_server.h"
#include "daemon/api_routes.h"
#include "daemon/controller.h"
#include "daemon/fast_path_runtime.h"
#include "daemon/gslb_runtime.h"
#include "daemon/instance_lock.h"
#include "daemon/observability.h"
#include "fleet/local_inputs.h"
#include "server/server.h"
#include "zone/zone_store.h"

namespace {

using meridian::Result;
using meridian::Status;
using meridian::config::DaemonConfig;
using meridian::daemon::Controller;

// All components log to stderr through one sink, each under its own logger name.
void setup_logging() {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : {"daemon", "server", "config", "fastpath", "health", "gslb", "control",
                           "querylog", "fleet"}) {
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    spdlog::register_logger(logger);
  }
  spdlog::set_default_logger(spdlog::get("daemon"));
}

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

std::string join_addresses(const std::vector<meridian::config::ListenAddress>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += (out.empty() ? "" : ", ") + a.to_text();
  return out;
}

meridian::answer::ResponderConfig responder_config(const DaemonConfig& config) {
  meridian::answer::ResponderConfig out;
  out.advertised_udp_payload = config.edns.udp_payload;
  if (config.edns.nsid)
    out.nsid = std::vector<uint8_t>(config.edns.nsid->begin(), config.edns.nsid->end());
  return out;
}

// What a reload cannot change without restarting: said once per reload so operators know.
void warn_about_ignored_changes(const DaemonConfig& running, const DaemonConfig& next) {
  auto log = spdlog::get("config");
  auto texts = [](const DaemonConfig& c) {
    std::vector<std::string> out;
    for (const auto& a : c.listen) out.push_back(a.to_text());
    return out;
  };
  if (texts(running) != texts(next)) log->warn("reload: \"listen\" changed; restart to apply");
  if (running.workers != next.workers) log->warn("reload: \"workers\" changed; restart to apply");
  if (running.tcp != next.tcp) log->warn("reload: \"tcp\" changed; restart to apply");
  if (running.edns.udp_payload != next.edns.udp_payload || running.edns.nsid != next.edns.nsid) {
    log->warn("reload: \"edns\" changed; restart to apply");
  }
  if (running.state.database != next.state.database)
    log->warn("reload: \"state\" changed; restart to apply");
  if (running.control.socket != next.control.socket ||
      running.control.listen != next.control.listen ||
      running.control.token_file != next.control.token_file ||
      running.control.max_body_bytes != next.control.max_body_bytes)
    log->warn("reload: \"control\" changed; restart to apply");
  if (running.metrics.listen != next.metrics.listen)
    log->warn("reload: \"metrics\" changed; restart to apply");
  if (running.query_log != next.query_log)
    log->warn("reload: \"query_log\" changed; restart to apply");
}

int check_config(const std::string& path) {
  auto config = meridian::config::load_daemon_config(path);
  if (!config) {
    std::fprintf(stderr, "meridiand: %s\n", config.error().to_string().c_str());
    return 1;
  }
  if (auto s = Controller::check_config(*config); !s) {
    std::fprintf(stderr, "meridiand: %s\n", s.error().to_string().c_str());
    return 1;
  }
  for (const auto& w : config->health_check_warnings)
    std::fprintf(stderr, "meridiand: warning: %s\n", w.c_str());
  const std::string geoip = meridian::config::effective_geoip_database(*config);
  std::printf(
      "%s: OK (%zu zones in the file, %zu health checks, GeoIP database: %s, state "
      "database: %s)\n",
      path.c_str(), config->zones.size(), config->health_checks.size(),
      geoip.empty() ? "none" : geoip.c_str(),
      config->state.database.empty() ? "none" : config->state.database.c_str());
  return 0;
}

// The control API on the Unix socket and, when configured, on TCP with a bearer token. Null when
// neither is configured; an error when one cannot be started (the daemon does not run without
// the API its operators configured).
Result<std::unique_ptr<meridian::control::ControlServer>> start_control(
    const DaemonConfig& config, Controller& controller, meridian::daemon::ApiExtras extras) {
  using Server = std::unique_ptr<meridian::control::ControlServer>;
  if (config.control.socket.empty() && config.control.listen.empty()) return Server();
  auto token = meridian::config::read_control_token(config);
  if (!token) return token.error();
  meridian::control::ControlServerOptions options;
  options.unix_socket = config.control.socket;
  options.tcp_listen = config.control.listen;
  options.token = *token;
  options.max_body_bytes = config.control.max_body_bytes;
  options.max_connections = config.control.max_connections;
  options.max_connections_per_source = config.control.max_connections_per_source;
  options.request_timeout_ms = config.control.request_timeout_ms;
  options.connection_timeout_s = (config.control.request_timeout_ms + 999) / 1000;
  if (!config.control.tls_cert_file.empty()) {
    std::ifstream cert(config.control.tls_cert_file, std::ios::binary);
    if (!cert)
      return meridian::make_error(
          "cannot open the control TLS certificate: " + std::string(std::strerror(errno)),
          config.control.tls_cert_file);
    options.tls_certificate_pem.assign(std::istreambuf_iterator<char>(cert), {});
    auto key = meridian::config::read_secret_file(config.control.tls_key_file, "control TLS key");
    if (!key) return key.error();
    options.tls_key_pem = std::move(key).value();
  } else if (!config.control.listen.empty()) {
    auto address = meridian::config::parse_listen_address(config.control.listen);
    if (address && !meridian::config::is_loopback(*address)) {
      spdlog::get("control")->warn(
          "control API on {} without TLS (\"insecure\": true): the bearer token travels in "
          "clear text",
          config.control.listen);
    }
  }
  auto server = std::make_unique<meridian::control::ControlServer>(options);
  meridian::daemon::add_api_routes(*server, controller, std::move(extras));
  if (auto s = server->start(); !s)
    return meridian::make_error("control API: " + s.error().to_string());
  spdlog::get("control")->info(
      "control API on {}{}{}", config.control.socket,
      !config.control.socket.empty() && !config.control.listen.empty() ? " and " : "",
      config.control.listen.empty()
          ? ""
          : "tcp " + server->tcp_address() +
                (config.control.tls_cert_file.empty() ? " (token)" : " (TLS, token)"));
  return server;
}

// The Prometheus page on its own TCP address: read-only, so no token (like every exporter).
Result<std::unique_ptr<meridian::control::ControlServer>> start_metrics(
    const DaemonConfig& config, const meridian::daemon::ApiExtras& extras) {
  using Server = std::unique_ptr<meridian::control::ControlServer>;
  if (config.metrics.listen.empty()) return Server();
  meridian::control::ControlServerOptions options;
  options.tcp_listen = config.metrics.listen;
  options.tcp_requires_token = false;
  options.max_body_bytes = 1024;
  auto server = std::make_unique<meridian::control::ControlServer>(options);
  server->route("GET", "/metrics", [text = extras.metrics_text](const auto&) {
    return meridian::control::HttpResponse::text(200, text(),
                                                 "text/plain; version=0.0.4; charset=utf-8");
  });
  if (auto s = server->start(); !s)
    return meridian::make_error("metrics: " + s.error().to_string());
  spdlog::get("control")->info("metrics on http://{}/metrics", server->tcp_address());
  return server;
}

// The locks this instance holds for its lifetime (see InstanceLock).
Result<std::vector<meridian::daemon::InstanceLock>> lock_instance(const DaemonConfig& config) {
  using meridian::daemon::InstanceLock;
  std::vector<InstanceLock> locks;
  if (!config.state.database.empty()) {
    // A file of its own beside the database: SQLite's own locks are per transaction.
    auto lock = InstanceLock::acquire(config.state.database + ".lock", "state database");
    if (!lock) return lock.error();
    locks.push_back(std::move(lock).value());
  }
  // A pin directory that cannot be made is not locked: the fast path then fails to start with
  // that reason and userspace serves everything, as it would have anyway.
  if (auto pin_dir = meridian::daemon::FastPathRuntime::pin_dir_to_lock(config); !pin_dir.empty()) {
    auto lock = InstanceLock::acquire(pin_dir, "XDP pin directory");
    if (!lock) return lock.error();
    locks.push_back(std::move(lock).value());
  }
  return locks;
}

int run(const std::string& path, const std::string& cli_log_level) {
  auto log = spdlog::get("daemon");

  // Blocked before any thread exists, so every worker inherits the mask and only the sigwait
  // below ever sees these signals: no work in asynchronous handlers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto loaded = meridian::config::load_daemon_config(path);
  if (!loaded) {
    log->error("{}", loaded.error().to_string());
    return 1;
  }
  DaemonConfig config = std::move(loaded).value();
  set_log_level(cli_log_level.empty() ? config.log_level : cli_log_level);
  for (const auto& w : config.health_check_warnings) spdlog::get("config")->warn("{}", w);

  // Before anything is opened, bound or attached: one instance per state database and pin
  // directory, so a second meridiand cannot take over a live one's program or share its port.
  auto locks = lock_instance(config);
  if (!locks) {
    log->error("cannot start: {}", locks.error().to_string());
    return 1;
  }

  // Health states as answers read them: one view for the daemon's lifetime, shared by every
  // engine built on reloads, written by the checker's transitions (no rebuild).
  auto health_view = std::make_shared<meridian::policy::HealthView>();
  meridian::answer::Responder responder(responder_config(config));
  // Started after the server; until then (or in a build without it) every call is a no-op.
  meridian::daemon::FastPathRuntime fast_path(responder);
  auto serve_health = [&](const std::string& id, bool healthy) {
    health_view->set(id, healthy);
    // After the view: the fast path's health map, once it runs (its first publish copies every
    // slot, so transitions before it are not lost).
    fast_path.on_health_transition(*health_view, id);
  };
  // A fleet edge (docs/fleet.md): its probes are one vote among the edges'; what is served is
  // the fleet's decision.
  std::unique_ptr<meridian::fleet::FleetMember> fleet;
  if (config.cluster) {
    auto etcd = meridian::fleet::FleetMember::etcd_options(*config.cluster);
    if (!etcd) {
      log->error("cannot start: {}", etcd.error().to_string());
      return 1;
    }
    fleet = std::make_unique<meridian::fleet::FleetMember>(*config.cluster, std::move(*etcd),
                                                           config.health.webhooks);
  }
  meridian::daemon::HealthRuntime health([&](const std::string& id, bool healthy) {
    if (fleet)
      fleet->observe(id, healthy, "");
    else
      serve_health(id, healthy);
  });

  log->info("gslb: policy engine built in (routing policies answered per query)");

  meridian::zone::ZoneStore store;
  meridian::daemon::ControllerDeps deps;
  deps.store = &store;
  deps.health = &health;
  deps.health_view = health_view;
  deps.fast_path = &fast_path;
  deps.fleet = fleet.get();
  auto controller = Controller::open(config, deps);
  if (!controller) {
    log->error("{}", controller.error().to_string());
    return 1;
  }
  if (auto applied = (*controller)->apply_config(config); !applied) {
    log->error("{}", applied.error().to_string());
    return 1;
  }
  log->info("loaded {} zones ({}) from {}", (*controller)->zone_count(),
            fleet ? "fleet cache at revision " + std::to_string((*controller)->shared_revision()) +
                        " in " + config.state.database
            : (*controller)->durable() ? "state database " + config.state.database
                                       : std::string("config file only, no state database"),
            path);
  // The fleet member calls the controller from its threads: it stops before the controller goes,
  // on every way out of this function.
  struct StopFleetFirst {
    meridian::fleet::FleetMember* fleet;
    ~StopFleetFirst() {
      if (fleet) fleet->stop();
    }
  } stop_fleet_first{fleet.get()};
  if (fleet) {
    meridian::fleet::FleetCallbacks callbacks;
    callbacks.apply_state = [c = controller->get()](meridian::manage::SharedState next) {
      c->apply_shared(std::move(next));
    };
    callbacks.health_decided = [&](const std::string& id, bool healthy,
                                   const meridian::fleet::Vote&) { serve_health(id, healthy); };
    fleet->set_local_inputs(meridian::fleet::local_inputs_digest(config));
    fleet->start(std::move(callbacks), (*controller)->shared_revision());
    log->info("fleet: edge {} (vantage {}), etcd {}", config.cluster->edge, config.cluster->vantage,
              config.cluster->endpoints.front());
  }

  auto obs = meridian::daemon::Observability::open(config, **controller, health);
  if (!obs) {
    log->error("{}", obs.error().to_string());
    return 1;
  }

  meridian::server::ServerOptions options;
  options.listen = config.listen;
  options.workers = config.workers;
  options.tcp = config.tcp;
  options.rrl = config.rrl;
  options.on_query = [o = obs->get()](const meridian::server::QueryEvent& e) { o->on_query(e); };
  meridian::server::Server server(options, store, responder);
  (*obs)->set_server(&server);
  (*obs)->set_fleet(fleet.get());
  if (auto started = server.start(); !started) {
    log->error("cannot start: {}", started.error().to_string());
    return 1;
  }
  fast_path.start(config);
  (*obs)->attach_fast_path(fast_path, config);
  (*controller)->republish();
  fast_path.configure_rrl(server);
  meridian::daemon::ApiExtras extras;
  extras.status = [&]() {
    return nlohmann::json{{"Version", "meridiand"},
                          {"Config", path},
                          {"StateDatabase", config.state.database},
                          {"Zones", (*controller)->zone_count()}};
  };
  extras.cluster = [&fleet]() { return fleet ? fleet->status() : nlohmann::json(nullptr); };
  extras.metrics_text = [o = obs->get()]() { return o->metrics_text(); };
  extras.stats = [o = obs->get()]() { return nlohmann::json{{"userspace", o->userspace_stats()}}; };
  auto control = start_control(config, **controller, extras);
  if (!control) {
    log->error("cannot start: {}", control.error().to_string());
    return 1;
  }
  (*obs)->set_control(control->get());
  auto metrics = start_metrics(config, extras);
  if (!metrics) {
    log->error("cannot start: {}", metrics.error().to_string());
    return 1;
  }
  log->info("response rate limiting: {}", server.rrl_summary());
  log->info("meridiand ready: listening on {} (udp+tcp, {} workers)",
            join_addresses(server.bound_addresses()), server.worker_count());

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&signals, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      log->error("sigwaitinfo failed: {}", std::strerror(errno));
      break;
    }
    if (sig == SIGUSR1) {
      (*obs)->reopen_query_log();
      continue;
    }
    if (sig == SIGHUP) {
      log->info("SIGHUP: reloading {}", path);
      auto next = meridian::config::load_daemon_config(path);
      if (!next) {
        log->error("reload failed, keeping the current zones: {}", next.error().to_string());
        continue;
      }
      // Fleet or single host is decided at start: the running mode stays (warned below).
      const bool cluster_changed = next->cluster != config.cluster;
      next->cluster = config.cluster;
      if (auto applied = (*controller)->apply_config(*next); !applied) {
        log->error("reload failed, keeping the current zones: {}", applied.error().to_string());
        continue;
      }
      for (const auto& w : next->health_check_warnings) spdlog::get("config")->warn("{}", w);
      if (next->rrl != config.rrl) {
        if (auto applied = server.configure_rrl(next->rrl); applied) {
          config.rrl = next->rrl;
          fast_path.configure_rrl(server);
          log->info("response rate limiting: {}", server.rrl_summary());
        } else {
          log->error("reload: \"rrl\" not applied: {}", applied.error().to_string());
        }
      }
      // The one "xdp" setting a reload changes: the program reads it from mdn_control.
      if (config.xdp && next->xdp && next->xdp->stale_after != config.xdp->stale_after &&
          fast_path.set_stale_after(next->xdp->stale_after))
        config.xdp->stale_after = next->xdp->stale_after;
      warn_about_ignored_changes(config, *next);
      if (cluster_changed) log->warn("reload: \"cluster\" changed; restart to apply");
      if (cli_log_level.empty()) set_log_level(next->log_level);
      if (fleet) fleet->set_local_inputs(meridian::fleet::local_inputs_digest(*next));
      // Settings that need a restart stay as they are; compare the next reload with them.
      config.zones = next->zones;
      config.log_level = next->log_level;
      log->info("reloaded: {} zones", (*controller)->zone_count());
      continue;
    }
    log->info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  if (*metrics) (*metrics)->stop();
  if (*control) (*control)->stop();
  if (fleet) fleet->stop();
  health.stop();
  server.stop();
  auto stats = server.stats();
  log->info(
      "stopped: udp {} received, {} replied, {} dropped; tcp {} connections ({} refused, {} "
      "timed out idle, {} timed out receiving a query, {} evicted), {} queries",
      stats.udp_received, stats.udp_replied, stats.udp_dropped, stats.tcp_accepted,
      stats.tcp_refused, stats.tcp_timed_out, stats.tcp_query_timed_out, stats.tcp_evicted,
      stats.tcp_queries);
  log->info(
      "rate limited (answer/nxdomain/error): {}/{}/{} dropped, {}/{}/{} slipped (TC=1); {} busy "
      "buckets evicted",
      stats.rrl_dropped[MDN_RRL_CLASS_ANSWER], stats.rrl_dropped[MDN_RRL_CLASS_NXDOMAIN],
      stats.rrl_dropped[MDN_RRL_CLASS_ERROR], stats.rrl_slipped[MDN_RRL_CLASS_ANSWER],
      stats.rrl_slipped[MDN_RRL_CLASS_NXDOMAIN], stats.rrl_slipped[MDN_RRL_CLASS_ERROR],
      stats.rrl_evicted_busy);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meridiand: authoritative GSLB DNS server"};
  std::string config_path;
  std::string check_path;
  std::string log_level;
  auto* run_option =
      app.add_option("--config", config_path, "Serve with this configuration file (foreground)");
  auto* check_option = app.add_option("--check-config", check_path,
                                      "Validate this configuration and its zones, then exit");
  run_option->excludes(check_option);
  app.add_option("--log-level", log_level, "Override the configured log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.footer(R"(
DESCRIPTION
  Authoritative GSLB DNS server: answers from zones kept in its state database (seeded from the
  config file's zones), with routing policies decided per query from live health checks, an
  XDP fast path answering hot queries on the NIC, a control API for meridianctl, Prometheus
  metrics and Route 53-format query logs. Runs in the foreground and logs to stderr; it is
  ready when it logs "meridiand ready".

SIGNALS
  SIGHUP    reload the configuration and merge its zones and health checks (a failed reload
            keeps everything as it was and logs why)
  SIGUSR1   reopen the query log (after log rotation renamed it)
  SIGTERM, SIGINT   stop cleanly

FILES
  /etc/meridian/meridian.json        configuration (docs/configuration.md)
  /var/lib/meridian/state.db         zones, record sets, health checks and states (SQLite)
  /run/meridian/control.sock         control API (meridianctl)
  /sys/fs/bpf/meridian/default/      the XDP program's pinned maps

EXIT STATUS
  0  stopped by SIGTERM or SIGINT, or --check-config found everything valid
  1  the configuration, a zone, the state database, the control socket, the metrics address or
     the query log could not be used (the message says which and where)
  2  bad command line)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help prints and exits 0
  }

  setup_logging();
  if (!log_level.empty()) set_log_level(log_level);
  if (!check_path.empty()) return check_config(check_path);
  if (config_path.empty()) {
    std::fprintf(stderr, "meridiand: one of --config or --check-config is required\n%s",
                 app.help().c_str());
    return 2;
  }
  return run(config_path, log_level);
}
