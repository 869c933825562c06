// meridiand: reads the configuration, loads the zones and the GSLB inputs (GeoIP database, health
// checks, latency table, regions, CIDR collections), runs the server and the health checker, and
// turns signals into reloads (SIGHUP) or a clean stop (SIGTERM/SIGINT). Thin by design: the work
// is in the libraries.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "answer/responder.h"
#include "config/daemon_config.h"
#include "config/zone_loading.h"
#include "dns/types.h"
#include "geo/geo_database.h"
#include "health/health_checker.h"
#include "server/server.h"
#include "zone/zone_store.h"
#ifdef MERIDIAN_WITH_POLICY
#include "policy/gslb_engine.h"
#include "policy/gslb_inputs.h"
#endif
#ifdef MERIDIAN_WITH_XDP
#include "fastpath/fast_path.h"
#endif

namespace {

using meridian::Result;
using meridian::Status;
using meridian::config::DaemonConfig;

// All components log to stderr through one sink, each under its own logger name.
void setup_logging() {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : {"daemon", "server", "config", "fastpath", "health", "gslb"}) {
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

// Every HealthCheckId a record set names must be a configured check: a typo would otherwise
// read as "always healthy" and hide an outage (Route 53 also rejects unknown ids).
Status check_health_check_references(const DaemonConfig& config,
                                     const meridian::zone::ZoneSet& zones) {
  std::set<std::string> ids;
  for (const auto& check : config.health_checks) ids.insert(check.id);
  for (const auto& zone : zones.zones()) {
    for (const auto& [key, node] : zone->nodes()) {
      for (const auto& rs : node.record_sets) {
        if (rs.health_check_id.empty() || ids.count(rs.health_check_id)) continue;
        return meridian::make_error(
            "record set " + node.owner.to_text() + " " + meridian::dns::type_to_text(rs.type) +
                (rs.set_identifier.empty() ? ""
                                           : " (SetIdentifier \"" + rs.set_identifier + "\")") +
                ": HealthCheckId \"" + rs.health_check_id + "\" is not a configured health check",
            "zone " + zone->origin().to_text());
      }
    }
  }
  return meridian::Ok{};
}

// GeoIP databases opened so far. One is reopened only when its file changed (path, inode, size or
// mtime), and none is ever closed: answers computed from an older one may still be running, and
// the inputs hold a plain pointer (policy/gslb_inputs.h). Reloads that replace the file are rare,
// so the memory kept is a few mappings at most.
class GeoDatabases {
 public:
  // The database at `path` (empty: none, returns null).
  Result<const meridian::geo::GeoDatabase*> open(const std::string& path) {
    if (path.empty()) return static_cast<const meridian::geo::GeoDatabase*>(nullptr);
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      return meridian::make_error(
          std::string("cannot open GeoIP database: ") + std::strerror(errno), path);
    }
    for (const auto& e : opened_) {
      if (e.path == path && e.inode == st.st_ino && e.device == st.st_dev && e.size == st.st_size &&
          e.mtime_ns == mtime_ns(st)) {
        return static_cast<const meridian::geo::GeoDatabase*>(e.db.get());
      }
    }
    auto db = meridian::geo::GeoDatabase::open(path);
    if (!db) return db.error();
    opened_.push_back(Entry{path, st.st_dev, st.st_ino, st.st_size, mtime_ns(st),
                            std::make_unique<meridian::geo::GeoDatabase>(std::move(*db))});
    return static_cast<const meridian::geo::GeoDatabase*>(opened_.back().db.get());
  }

 private:
  static int64_t mtime_ns(const struct stat& st) {
    return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  }
  struct Entry {
    std::string path;
    dev_t device;
    ino_t inode;
    off_t size;
    int64_t mtime_ns;
    std::unique_ptr<meridian::geo::GeoDatabase> db;
  };
  std::vector<Entry> opened_;
};

// The health checker as the daemon runs it: started when the first checks are configured (so a
// daemon without checks opens no state database), updated on reload, and every state it
// publishes mirrored into the policy engine's health view: transitions at once from the
// checker's thread, whole snapshots after start and update.
class HealthRuntime {
 public:
  using StateSink = std::function<void(const std::string& id, bool healthy)>;

  explicit HealthRuntime(StateSink sink) : sink_(std::move(sink)) {}
  ~HealthRuntime() { stop(); }

  // Starts or updates the checker with `checks`; then the sink has every check's current state.
  Status apply(const DaemonConfig& config) {
    if (!checker_) {
      if (config.health_checks.empty()) return meridian::Ok{};
      meridian::health::HealthCheckerOptions options;
      options.state_db_path = config.health.state_db;
      options.webhooks.urls = config.health.webhooks;
      if (!options.state_db_path.empty()) make_parent_directory(options.state_db_path);
      auto checker = std::make_unique<meridian::health::HealthChecker>(
          options, [this](const meridian::health::Transition& t) { on_transition(t); });
      if (auto started = checker->start(config.health_checks); !started) return started;
      checker_ = std::move(checker);
      state_db_ = config.health.state_db;
      webhooks_ = config.health.webhooks;
    } else {
      if (auto updated = checker_->update(config.health_checks); !updated) return updated;
      if (config.health.state_db != state_db_ || config.health.webhooks != webhooks_) {
        spdlog::get("config")->warn("reload: \"health\" changed; restart to apply");
      }
    }
    sync(config.health_checks);
    return meridian::Ok{};
  }

  void stop() {
    if (!checker_) return;
    checker_->stop();
    auto c = checker_->counters();
    spdlog::get("health")->info(
        "health checker stopped: {} probes ({} failed), {} transitions ({} applied to answers), "
        "webhooks {} delivered, {} failed",
        c.probes, c.probe_failures, c.transitions, transitions_.load(), c.webhooks_delivered,
        c.webhooks_failed);
    checker_.reset();
  }

 private:
  void on_transition(const meridian::health::Transition& t) {
    std::lock_guard lock(mutex_);
    sink_(t.check_id, t.new_state == meridian::health::HealthStatus::kHealthy);
    transitions_++;
    spdlog::get("health")->debug("answers now treat {} as {}", t.check_id,
                                 meridian::health::status_name(t.new_state));
  }

  // An update is applied by the checker's thread: wait (bounded) until its snapshot lists every
  // configured check, then copy it. Under the transition lock, so a transition published after
  // the snapshot is applied after it, never overwritten by it.
  void sync(const std::vector<meridian::health::HealthCheckConfig>& checks) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (;;) {
      std::lock_guard lock(mutex_);
      auto snapshot = checker_->snapshot();
      bool complete = snapshot.size() == checks.size();
      for (const auto& check : checks) complete = complete && snapshot.count(check.id);
      if (complete || std::chrono::steady_clock::now() >= deadline) {
        if (!complete) spdlog::get("health")->warn("health states not all published yet");
        for (const auto& [id, state] : snapshot) sink_(id, state.healthy());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  static void make_parent_directory(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return;
    std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
      spdlog::get("health")->warn("cannot create {}: {}", dir, std::strerror(errno));
    }
  }

  StateSink sink_;
  std::mutex mutex_;  // orders transitions against snapshot copies
  std::unique_ptr<meridian::health::HealthChecker> checker_;
  std::string state_db_;
  std::vector<std::string> webhooks_;
  std::atomic<uint64_t> transitions_{0};
};

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

// The XDP program limits the replies it sends with the userspace server's settings.
void configure_fast_path_rrl(meridian::fastpath::FastPath* fp,
                             const meridian::server::Server& server) {
  if (!fp) return;
  const auto limits = server.rrl_limits();
  if (auto s = fp->configure_rrl(limits->config, limits->settings.allow); !s)
    spdlog::get("fastpath")
        ->error("rate limiting settings not written to XDP: {}", s.error().to_string());
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
  const auto& c = report->compiled;
  log->info(
      "negative answers in XDP: NODATA at {} names, NXDOMAIN below {} names; left to userspace: "
      "{} at or below zone cuts, {} CNAME or wildcard owners, {} with too many types (NODATA), {} "
      "with a wildcard child (NXDOMAIN), {} not replayable exactly",
      c.nodata, c.nxdomain_enclosers, c.negative_cut, c.negative_cname, c.negative_types,
      c.negative_wildcard_child, c.negative_unverified);
  const auto& p = report->policy;
  if (p.groups + p.type + p.alias + p.oversize + p.mixed_ttl + p.not_policy > 0)
    log->info(
        "routing policies decided in XDP: {} groups; left to userspace: {} by type, {} with "
        "aliases, {} oversize, {} multivalue with mixed TTLs, {} not answered by the group",
        p.groups, p.type, p.alias, p.oversize, p.mixed_ttl, p.not_policy);
  if (report->geo_prefixes > 0)
    log->info("geolocation table written to XDP: {} prefixes", report->geo_prefixes);
  for (const auto& note : report->notes) log->info("{}", note);
  for (const auto& warning : report->warnings) log->warn("{}", warning);
}
#endif

#ifdef MERIDIAN_WITH_POLICY
using HealthViewPtr = std::shared_ptr<meridian::policy::HealthView>;

// The policy engine's inputs from the configuration (strings are validated already).
meridian::policy::GslbInputs gslb_inputs(const DaemonConfig& config,
                                         const meridian::geo::GeoDatabase* geo,
                                         HealthViewPtr health) {
  meridian::policy::GslbInputs in;
  in.geo = geo;
  for (const auto& [id, blocks] : config.cidr_collections) {
    auto& out = in.cidr_collections[id];
    for (const auto& b : blocks) out.push_back(meridian::policy::CidrBlock{b.prefix, b.location});
  }
  for (const auto& row : config.latency_table) {
    in.latency.push_back(meridian::policy::LatencyEntry{row.prefix, row.region, row.ms});
  }
  for (const auto& r : config.regions) {
    in.regions.push_back(
        meridian::policy::UserRegion{r.name, meridian::geo::LatLon{r.latitude, r.longitude}});
  }
  for (const auto& d : config.all_down) {
    meridian::policy::AllDownSetting setting;
    setting.name = d.name.to_text();
    setting.type = d.type;
    setting.mode =
        d.mode == meridian::config::AllDownMode::kNoData     ? meridian::policy::AllDown::kNoData
        : d.mode == meridian::config::AllDownMode::kServFail ? meridian::policy::AllDown::kServFail
                                                             : meridian::policy::AllDown::kFailOpen;
    in.all_down.push_back(std::move(setting));
  }
  in.health = std::move(health);
  return in;
}
#else
using HealthViewPtr = std::shared_ptr<void>;  // no policy engine in this build
#endif

// Every "all_down" entry must name a group of the zones that has a routing policy.
Status check_all_down_groups(const DaemonConfig& config, const meridian::zone::ZoneSet& zones) {
  for (const auto& d : config.all_down) {
    const meridian::zone::Zone* zone = zones.find_zone(d.name);
    const meridian::zone::Node* node = zone ? zone->find(d.name) : nullptr;
    bool routed = false;
    if (node) {
      for (const auto* rs : node->group(d.type)) routed = routed || !rs->is_simple();
    }
    if (!routed) {
      return meridian::make_error("no group " + d.name.to_text() + " " +
                                      meridian::dns::type_to_text(d.type) +
                                      " with a routing policy in the zones",
                                  config.source + ": " + d.json_path);
    }
  }
  return meridian::Ok{};
}

// What GSLB answers need beside the zones, prepared (and validated) before anything goes live.
struct GslbPrepared {
  const meridian::geo::GeoDatabase* geo = nullptr;
  // The snapshot to publish: `zones` with the policy engine built for them attached.
  std::shared_ptr<const meridian::zone::ZoneSet> zones;
};

// Validates the health-check and all_down references, opens the GeoIP database and builds the
// policy engine for `zones`. Nothing running changes: a failure leaves the current state as is.
Result<GslbPrepared> prepare_gslb(const DaemonConfig& config,
                                  std::shared_ptr<const meridian::zone::ZoneSet> zones,
                                  GeoDatabases& geo_databases, HealthViewPtr health) {
  if (auto refs = check_health_check_references(config, *zones); !refs) return refs.error();
  if (auto groups = check_all_down_groups(config, *zones); !groups) return groups.error();
  GslbPrepared out;
  auto geo = geo_databases.open(meridian::config::effective_geoip_database(config));
  if (!geo) return geo.error();
  out.geo = *geo;
#ifdef MERIDIAN_WITH_POLICY
  if (!health) health = std::make_shared<meridian::policy::HealthView>();
  auto attached = meridian::policy::attach_gslb(*zones, gslb_inputs(config, out.geo, health));
  if (!attached) return attached.error();
  out.zones = std::move(attached).value();
#else
  (void)health;
  out.zones = std::move(zones);
#endif
  return out;
}

void log_gslb_inputs(const DaemonConfig& config, const GslbPrepared& gslb) {
  auto log = spdlog::get("gslb");
  size_t blocks = 0;
  for (const auto& [id, list] : config.cidr_collections) blocks += list.size();
  log->info(
      "GeoIP database: {}; {} health checks; latency table: {} rows; {} user regions; {} CIDR "
      "collections ({} blocks)",
      gslb.geo ? gslb.geo->path() + " (" + gslb.geo->database_type() + ")" : std::string("none"),
      config.health_checks.size(), config.latency_table.size(), config.regions.size(),
      config.cidr_collections.size(), blocks);
}

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
  GeoDatabases geo;
  auto gslb = prepare_gslb(*config, *zones, geo, nullptr);
  if (!gslb) {
    std::fprintf(stderr, "meridiand: %s\n", gslb.error().to_string().c_str());
    return 1;
  }
  const std::string geoip = meridian::config::effective_geoip_database(*config);
  std::printf("%s: OK (%zu zones, %zu health checks, GeoIP database: %s)\n", path.c_str(),
              (*zones)->zones().size(), config->health_checks.size(),
              geoip.empty() ? "none" : geoip.c_str());
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
  GeoDatabases geo_databases;
#ifdef MERIDIAN_WITH_POLICY
  // Health states as answers read them: one view for the daemon's lifetime, shared by every
  // engine built on reloads, written by the checker's transitions (no rebuild).
  auto health_view = std::make_shared<meridian::policy::HealthView>();
#ifdef MERIDIAN_WITH_XDP
  // Where transitions go after the view: the fast path's health map, once it runs (its first
  // publish copies every slot, so transitions before it are not lost).
  std::atomic<meridian::fastpath::FastPath*> xdp_health{nullptr};
#endif
  HealthRuntime health([&](const std::string& id, bool healthy) {
    health_view->set(id, healthy);
#ifdef MERIDIAN_WITH_XDP
    auto* fp = xdp_health.load();
    auto slot = health_view->find(id);
    if (fp && slot)
      if (auto s = fp->update_health(*health_view, *slot); !s)
        spdlog::get("fastpath")->error("health map: {}", s.error().to_string());
#endif
  });
  log->info("gslb: policy engine built in (routing policies answered per query)");
#else
  HealthViewPtr health_view;
  HealthRuntime health([](const std::string&, bool) {});
  log->warn("gslb: no policy engine in this build; record sets with routing policies get NODATA");
#endif
  auto gslb = prepare_gslb(config, *zones, geo_databases, health_view);
  if (!gslb) {
    log->error("{}", gslb.error().to_string());
    return 1;
  }
  // Health states first, so the first answers already see them (restored or initial).
  if (auto started = health.apply(config); !started) {
    log->error("cannot start the health checker: {}", started.error().to_string());
    return 1;
  }
  meridian::zone::ZoneStore store;
  store.replace(gslb->zones);
  log->info("loaded {} zones from {}", (*zones)->zones().size(), path);
  log_gslb_inputs(config, *gslb);

  meridian::answer::Responder responder(responder_config(config));
  meridian::server::ServerOptions options;
  options.listen = config.listen;
  options.workers = config.workers;
  options.tcp = config.tcp;
  options.rrl = config.rrl;
  meridian::server::Server server(options, store, responder);
  if (auto started = server.start(); !started) {
    log->error("cannot start: {}", started.error().to_string());
    return 1;
  }
#ifdef MERIDIAN_WITH_XDP
  auto fast_path = start_fast_path(config);
#ifdef MERIDIAN_WITH_POLICY
  xdp_health.store(fast_path.get());
#endif
  publish_fast_path(fast_path.get(), *gslb->zones, responder);
  configure_fast_path_rrl(fast_path.get(), server);
#endif
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
      auto next_gslb = prepare_gslb(*next, *next_zones, geo_databases, health_view);
      if (!next_gslb) {
        log->error("reload failed, keeping the current zones: {}", next_gslb.error().to_string());
        continue;
      }
      // Last step that can fail: unchanged checks keep their states and schedules.
      if (auto applied = health.apply(*next); !applied) {
        log->error("reload failed, keeping the current zones and health checks: {}",
                   applied.error().to_string());
        continue;
      }
      store.replace(next_gslb->zones);
      log_gslb_inputs(*next, *next_gslb);
      if (next->rrl != config.rrl) {
        if (auto applied = server.configure_rrl(next->rrl); applied) {
          config.rrl = next->rrl;
#ifdef MERIDIAN_WITH_XDP
          configure_fast_path_rrl(fast_path.get(), server);
#endif
          log->info("response rate limiting: {}", server.rrl_summary());
        } else {
          log->error("reload: \"rrl\" not applied: {}", applied.error().to_string());
        }
      }
#ifdef MERIDIAN_WITH_XDP
      publish_fast_path(fast_path.get(), *next_gslb->zones, responder);
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
  health.stop();
  server.stop();
  auto stats = server.stats();
  log->info(
      "stopped: udp {} received, {} replied, {} dropped; tcp {} connections ({} refused, {} "
      "timed out), {} queries",
      stats.udp_received, stats.udp_replied, stats.udp_dropped, stats.tcp_accepted,
      stats.tcp_refused, stats.tcp_timed_out, stats.tcp_queries);
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
