// GeoIP databases, the health checker runtime and GSLB preparation for meridiand.
#include "daemon/gslb_runtime.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "dns/types.h"
#include "policy/gslb_inputs.h"

namespace meridian::daemon {
namespace {

int64_t mtime_ns(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

void make_parent_directory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return;
  std::string dir = path.substr(0, slash);
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    spdlog::get("health")->warn("cannot create {}: {}", dir, std::strerror(errno));
  }
}

// Every "all_down" entry must name a group of the zones that has a routing policy.
Status check_all_down_groups(const config::DaemonConfig& config, const zone::ZoneSet& zones) {
  for (const auto& d : config.all_down) {
    const zone::Zone* zone = zones.find_zone(d.name);
    const zone::Node* node = zone ? zone->find(d.name) : nullptr;
    bool routed = false;
    if (node) {
      for (const auto* rs : node->group(d.type)) routed = routed || !rs->is_simple();
    }
    if (!routed) {
      return make_error("no group " + d.name.to_text() + " " + dns::type_to_text(d.type) +
                            " with a routing policy in the zones",
                        config.source + ": " + d.json_path);
    }
  }
  return Ok{};
}

// The policy engine's inputs from the configuration (strings are validated already).
policy::GslbInputs gslb_inputs(const config::DaemonConfig& config, const geo::GeoDatabase* geo,
                               HealthViewPtr health) {
  policy::GslbInputs in;
  in.geo = geo;
  for (const auto& [id, blocks] : config.cidr_collections) {
    auto& out = in.cidr_collections[id];
    for (const auto& b : blocks) out.push_back(policy::CidrBlock{b.prefix, b.location});
  }
  for (const auto& row : config.latency_table) {
    in.latency.push_back(policy::LatencyEntry{row.prefix, row.region, row.ms});
  }
  for (const auto& r : config.regions) {
    in.regions.push_back(policy::UserRegion{r.name, geo::LatLon{r.latitude, r.longitude}});
  }
  for (const auto& d : config.all_down) {
    policy::AllDownSetting setting;
    setting.name = d.name.to_text();
    setting.type = d.type;
    setting.mode = d.mode == config::AllDownMode::kNoData     ? policy::AllDown::kNoData
                   : d.mode == config::AllDownMode::kServFail ? policy::AllDown::kServFail
                                                              : policy::AllDown::kFailOpen;
    in.all_down.push_back(std::move(setting));
  }
  in.health = std::move(health);
  return in;
}

}  // namespace

Result<const geo::GeoDatabase*> GeoDatabases::open(const std::string& path) {
  if (path.empty()) return static_cast<const geo::GeoDatabase*>(nullptr);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return make_error(std::string("cannot open GeoIP database: ") + std::strerror(errno), path);
  }
  for (const auto& e : opened_) {
    if (e.path == path && e.inode == st.st_ino && e.device == st.st_dev && e.size == st.st_size &&
        e.mtime_ns == mtime_ns(st)) {
      return static_cast<const geo::GeoDatabase*>(e.db.get());
    }
  }
  auto db = geo::GeoDatabase::open(path);
  if (!db) return db.error();
  opened_.push_back(Entry{path, st.st_dev, st.st_ino, st.st_size, mtime_ns(st),
                          std::make_unique<geo::GeoDatabase>(std::move(*db))});
  return static_cast<const geo::GeoDatabase*>(opened_.back().db.get());
}

Status HealthRuntime::apply(const config::DaemonConfig& config,
                            const std::vector<health::HealthCheckConfig>& checks) {
  const std::string state_db = config::effective_health_state_db(config);
  if (!checker_) {
    if (checks.empty()) return Ok{};
    health::HealthCheckerOptions options;
    options.state_db_path = state_db;
    // A fleet edge's own transitions are one vote: the fleet sends the webhooks once.
    if (!config.cluster) options.webhooks.urls = config.health.webhooks;
    if (!options.state_db_path.empty()) make_parent_directory(options.state_db_path);
    auto checker = std::make_unique<health::HealthChecker>(
        options, [this](const health::Transition& t) { on_transition(t); });
    if (auto started = checker->start(checks); !started) return started;
    std::lock_guard lock(mutex_);
    checker_ = std::move(checker);
    state_db_ = state_db;
    webhooks_ = config.health.webhooks;
  } else {
    if (auto updated = checker_->update(checks); !updated) return updated;
    if (state_db != state_db_ || config.health.webhooks != webhooks_) {
      spdlog::get("config")->warn("reload: \"health\" changed; restart to apply");
    }
  }
  sync(checks);
  return Ok{};
}

void HealthRuntime::stop() {
  if (!checker_) return;
  checker_->stop();
  auto c = checker_->counters();
  spdlog::get("health")->info(
      "health checker stopped: {} probes ({} failed), {} transitions ({} applied to answers), "
      "webhooks {} delivered, {} failed",
      c.probes, c.probe_failures, c.transitions, transitions_.load(), c.webhooks_delivered,
      c.webhooks_failed);
  std::lock_guard lock(mutex_);
  checker_.reset();
}

std::map<std::string, health::CheckState> HealthRuntime::snapshot() const {
  std::lock_guard lock(mutex_);
  if (!checker_) return {};
  return checker_->snapshot();
}

health::HealthCheckerCounters HealthRuntime::counters() const {
  std::lock_guard lock(mutex_);
  if (!checker_) return {};
  return checker_->counters();
}

void HealthRuntime::on_transition(const health::Transition& t) {
  std::lock_guard lock(mutex_);
  sink_(t.check_id, t.new_state == health::HealthStatus::kHealthy);
  transitions_++;
  spdlog::get("health")->debug("answers now treat {} as {}", t.check_id,
                               health::status_name(t.new_state));
}

// An update is applied by the checker's thread: wait (bounded) until its snapshot lists every
// configured check, then copy it. Under the transition lock, so a transition published after
// the snapshot is applied after it, never overwritten by it.
void HealthRuntime::sync(const std::vector<health::HealthCheckConfig>& checks) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      auto snapshot = checker_->snapshot();
      bool complete = snapshot.size() == checks.size();
      for (const auto& check : checks) complete = complete && snapshot.count(check.id);
      if (complete || std::chrono::steady_clock::now() >= deadline) {
        if (!complete) spdlog::get("health")->warn("health states not all published yet");
        for (const auto& [id, state] : snapshot) sink_(id, state.healthy());
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<GslbPrepared> prepare_gslb(const config::DaemonConfig& config,
                                  std::shared_ptr<const zone::ZoneSet> zones,
                                  GeoDatabases& geo_databases, HealthViewPtr health) {
  if (auto groups = check_all_down_groups(config, *zones); !groups) return groups.error();
  GslbPrepared out;
  auto geo = geo_databases.open(config::effective_geoip_database(config));
  if (!geo) return geo.error();
  out.geo = *geo;
  if (!health) health = std::make_shared<policy::HealthView>();
  auto attached = policy::attach_gslb(*zones, gslb_inputs(config, out.geo, health));
  if (!attached) return attached.error();
  out.zones = std::move(attached).value();
  return out;
}

void log_gslb_inputs(const config::DaemonConfig& config, size_t health_checks,
                     const GslbPrepared& gslb) {
  auto log = spdlog::get("gslb");
  size_t blocks = 0;
  for (const auto& [id, list] : config.cidr_collections) blocks += list.size();
  log->info(
      "GeoIP database: {}; {} health checks; latency table: {} rows; {} user regions; {} CIDR "
      "collections ({} blocks)",
      gslb.geo ? gslb.geo->path() + " (" + gslb.geo->database_type() + ")" : std::string("none"),
      health_checks, config.latency_table.size(), config.regions.size(),
      config.cidr_collections.size(), blocks);
}

}  // namespace meridian::daemon
