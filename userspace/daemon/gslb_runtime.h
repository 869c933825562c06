// What GSLB answers need beside the zones, kept for the daemon's lifetime: the GeoIP databases
// opened so far, the health checker (its transitions go straight to the answers), and the
// preparation of a zone snapshot with its policy engine before anything goes live.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/daemon_config.h"
#include "geo/geo_database.h"
#include "health/health_checker.h"
#include "policy/gslb_engine.h"
#include "zone/zone_set.h"

namespace meridian::daemon {

// GeoIP databases opened so far. One is reopened only when its file changed (path, inode, size or
// mtime), and none is ever closed: answers computed from an older one may still be running, and
// the inputs hold a plain pointer (policy/gslb_inputs.h). Reloads that replace the file are rare,
// so the memory kept is a few mappings at most.
class GeoDatabases {
 public:
  // The database at `path` (empty: none, returns null).
  Result<const geo::GeoDatabase*> open(const std::string& path);

 private:
  struct Entry {
    std::string path;
    dev_t device;
    ino_t inode;
    off_t size;
    int64_t mtime_ns;
    std::unique_ptr<geo::GeoDatabase> db;
  };
  std::vector<Entry> opened_;
};

using HealthViewPtr = std::shared_ptr<policy::HealthView>;

// The health checker as the daemon runs it: started when the first checks exist (so a daemon
// without checks opens no state database), updated on every change, and every state it
// publishes mirrored into the policy engine's health view: transitions at once from the
// checker's thread, whole snapshots after start and update.
class HealthRuntime {
 public:
  using StateSink = std::function<void(const std::string& id, bool healthy)>;

  explicit HealthRuntime(StateSink sink) : sink_(std::move(sink)) {}
  ~HealthRuntime() { stop(); }

  // Starts or updates the checker with `checks`; then the sink has every check's current state.
  Status apply(const config::DaemonConfig& config,
               const std::vector<health::HealthCheckConfig>& checks);
  void stop();

  // Every check's state (empty before the first check).
  std::map<std::string, health::CheckState> snapshot() const;
  health::HealthCheckerCounters counters() const;
  uint64_t transitions_applied() const { return transitions_.load(); }

 private:
  void on_transition(const health::Transition& t);
  void sync(const std::vector<health::HealthCheckConfig>& checks);

  StateSink sink_;
  mutable std::mutex mutex_;  // orders transitions against snapshot copies
  std::unique_ptr<health::HealthChecker> checker_;
  std::string state_db_;
  std::vector<std::string> webhooks_;
  std::atomic<uint64_t> transitions_{0};
};

// The snapshot to publish: `zones` with the policy engine built for them attached.
struct GslbPrepared {
  const geo::GeoDatabase* geo = nullptr;
  std::shared_ptr<const zone::ZoneSet> zones;
};

// Validates the all_down references, opens the GeoIP database and builds the policy engine for
// `zones` (health-check references are the catalog's to check). Nothing running changes: a
// failure leaves the current state as is.
Result<GslbPrepared> prepare_gslb(const config::DaemonConfig& config,
                                  std::shared_ptr<const zone::ZoneSet> zones,
                                  GeoDatabases& geo_databases, HealthViewPtr health);

void log_gslb_inputs(const config::DaemonConfig& config, size_t health_checks,
                     const GslbPrepared& gslb);

}  // namespace meridian::daemon
