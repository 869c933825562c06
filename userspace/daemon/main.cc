// meridiand: reads the configuration, loads the zones, runs the server, and turns signals into
// reloads (SIGHUP) or a clean stop (SIGTERM/SIGINT). Thin by design: the work is in the libraries.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "answer/responder.h"
#include "config/daemon_config.h"
#include "config/zone_loading.h"
#include "server/server.h"
#include "zone/zone_store.h"
#ifdef MERIDIAN_WITH_XDP
#include "fastpath/fast_path.h"
#endif

namespace {

using meridian::config::DaemonConfig;

// All components log to stderr through one sink, each under its own logger name.
void setup_logging() {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : {"daemon", "server", "config", "fastpath"}) {
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
  if (running.tcp.idle_timeout_ms != next.tcp.idle_timeout_ms ||
      running.tcp.max_connections != next.tcp.max_connections ||
      running.tcp.max_connections_per_source != next.tcp.max_connections_per_source) {
    log->warn("reload: \"tcp\" changed; restart to apply");
  }
  if (running.edns.udp_payload != next.edns.udp_payload || running.edns.nsid != next.edns.nsid) {
    log->warn("reload: \"edns\" changed; restart to apply");
  }
}

#ifdef MERIDIAN_WITH_XDP
// Loads and attaches the XDP program when the configuration asks for it. Returns null (after
// logging why) when it cannot: the userspace server keeps serving everything.
std::unique_ptr<meridian::fastpath::FastPath> start_fast_path(const DaemonConfig& config) {
  if (!config.xdp) return nullptr;
  auto log = spdlog::get("fastpath");
  meridian::fastpath::FastPathSettings settings;
  settings.interfaces = config.xdp->interfaces;
  settings.mode = *meridian::fastpath::attach_mode_from_text(config.xdp->mode);
  settings.pin_dir = config.xdp->pin_dir;
  settings.max_entries_per_class = config.xdp->max_names;
  settings.keep_attached_on_exit = config.xdp->keep_on_exit;
  settings.advertised_udp_payload = config.edns.udp_payload;
  settings.dns_ports.clear();
  for (const auto& a : config.listen) {
    const uint16_t port = a.port();
    bool seen = false;
    for (uint16_t p : settings.dns_ports) seen = seen || p == port;
    if (!seen && settings.dns_ports.size() < MDN_MAX_PORTS) settings.dns_ports.push_back(port);
  }
  std::vector<std::string> warnings;
  auto fp = meridian::fastpath::FastPath::start(settings, &warnings);
  for (const auto& w : warnings) log->warn("{}", w);
  if (!fp) {
    log->error("XDP fast path not started, userspace serves everything: {}",
               fp.error().to_string());
    return nullptr;
  }
  for (const auto& a : (*fp)->attachments())
    log->info("XDP program attached to {} ({} mode)", a->interface(),
              a->generic() ? "generic" : "native");
  return std::move(fp).value();
}

void publish_fast_path(meridian::fastpath::FastPath* fp, const meridian::zone::ZoneSet& zones,
                       const meridian::answer::Responder& responder) {
  if (!fp) return;
  auto log = spdlog::get("fastpath");
  auto report = fp->publish(zones, responder);
  if (!report) {
    log->error("publishing to the XDP maps failed, the previous data stays live: {}",
               report.error().to_string());
    return;
  }
  log->info(
      "published {} answers to XDP (generation {}); left to userspace: {} oversize, {} "
      "map full",
      report->published.published, report->published.generation, report->compiled.oversize,
      report->published.map_full);
}
#endif

int check_config(const std::string& path) {
  auto config = meridian::config::load_daemon_config(path);
  if (!config) {
    std::fprintf(stderr, "meridiand: %s\n", config.error().to_string().c_str());
    return 1;
  }
  auto zones = meridian::config::load_zones(*config);
  if (!zones) {
    std::fprintf(stderr, "meridiand: %s\n", zones.error().to_string().c_str());
    return 1;
  }
  std::printf("%s: OK (%zu zones)\n", path.c_str(), (*zones)->zones().size());
  return 0;
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
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto loaded = meridian::config::load_daemon_config(path);
  if (!loaded) {
    log->error("{}", loaded.error().to_string());
    return 1;
  }
  DaemonConfig config = std::move(loaded).value();
  set_log_level(cli_log_level.empty() ? config.log_level : cli_log_level);

  auto zones = meridian::config::load_zones(config);
  if (!zones) {
    log->error("{}", zones.error().to_string());
    return 1;
  }
  meridian::zone::ZoneStore store;
  store.replace(*zones);
  log->info("loaded {} zones from {}", (*zones)->zones().size(), path);

  meridian::answer::Responder responder(responder_config(config));
  meridian::server::ServerOptions options;
  options.listen = config.listen;
  options.workers = config.workers;
  options.tcp = config.tcp;
  meridian::server::Server server(options, store, responder);
  if (auto started = server.start(); !started) {
    log->error("cannot start: {}", started.error().to_string());
    return 1;
  }
#ifdef MERIDIAN_WITH_XDP
  auto fast_path = start_fast_path(config);
  publish_fast_path(fast_path.get(), **zones, responder);
#endif
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
    if (sig == SIGHUP) {
      log->info("SIGHUP: reloading {}", path);
      auto next = meridian::config::load_daemon_config(path);
      if (!next) {
        log->error("reload failed, keeping the current zones: {}", next.error().to_string());
        continue;
      }
      auto next_zones = meridian::config::load_zones(*next);
      if (!next_zones) {
        log->error("reload failed, keeping the current zones: {}", next_zones.error().to_string());
        continue;
      }
      store.replace(*next_zones);
#ifdef MERIDIAN_WITH_XDP
      publish_fast_path(fast_path.get(), **next_zones, responder);
#endif
      warn_about_ignored_changes(config, *next);
      if (cli_log_level.empty()) set_log_level(next->log_level);
      // Settings that need a restart stay as they are; compare the next reload with them.
      config.zones = next->zones;
      config.log_level = next->log_level;
      log->info("reloaded: {} zones", (*next_zones)->zones().size());
      continue;
    }
    log->info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  server.stop();
  auto stats = server.stats();
  log->info(
      "stopped: udp {} received, {} replied, {} dropped; tcp {} connections ({} refused, {} "
      "timed out), {} queries",
      stats.udp_received, stats.udp_replied, stats.udp_dropped, stats.tcp_accepted,
      stats.tcp_refused, stats.tcp_timed_out, stats.tcp_queries);
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
  CLI11_PARSE(app, argc, argv);

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
