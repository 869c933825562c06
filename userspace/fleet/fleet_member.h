// FleetMember: this edge's part in a fleet (docs/fleet.md). It writes the catalog's changes to
// etcd (manage::SharedStore), watches the shared state and hands every committed revision to the
// daemon whole, keeps this edge's record and health observations alive under one lease, and
// decides each check's status by the fleet's vote.
//
// Keys, all under the configured prefix P:
//   P state/head            {"Edge", "At", "Change"}: rewritten by every write (the compare key)
//   P state/zones/<id>      a zone with its record sets       (manage/shared_state.h)
//   P state/checks/<id>     a health check
//   P changes/<id>          a change batch's record; INSYNC once every live edge applied it
//   P edges/<edge>          {"Name", "Vantage", "Applied", "Started"}, under the edge's lease
//   P obs/<check>/<edge>    {"Healthy", "At", "Reason"}, under the edge's lease, written on change
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/daemon_config.h"
#include "fleet/etcd_client.h"
#include "fleet/fleet_webhooks.h"
#include "fleet/health_vote.h"
#include "health/health_check_config.h"
#include "manage/shared_state.h"

namespace meridian::fleet {

// The keys above, relative to the prefix.
inline constexpr std::string_view kStatePrefix = "state/";
inline constexpr std::string_view kHeadKey = "state/head";
inline constexpr std::string_view kEdgesPrefix = "edges/";
inline constexpr std::string_view kObservationsPrefix = "obs/";
inline constexpr std::string_view kChangesPrefix = "changes/";

struct FleetCallbacks {
  // A committed revision of the shared state, whole (called on the watch thread, in order).
  std::function<void(manage::SharedState)> apply_state;
  // A check's decided status changed (or was decided for the first time).
  std::function<void(const std::string& check, bool healthy, const Vote& vote)> health_decided;
};

struct ChangeStatusInfo {
  state::ChangeInfo change;
  int64_t revision = 0;  // the revision that committed it
};

struct FleetCounters {
  uint64_t writes = 0;
  uint64_t write_conflicts = 0;
  uint64_t revisions_applied = 0;
  uint64_t full_reloads = 0;
  uint64_t watch_restarts = 0;
  uint64_t observations_written = 0;
  uint64_t webhooks_delivered = 0;
  uint64_t webhooks_failed = 0;
};

class FleetMember : public manage::SharedStore {
 public:
  // The etcd options from the "cluster" section (reads the password file).
  static Result<EtcdOptions> etcd_options(const config::ClusterSettings& settings);

  // `webhooks`: URLs POSTed once per fleet-wide health transition, by the lowest live edge.
  FleetMember(config::ClusterSettings settings, EtcdOptions etcd,
              std::vector<std::string> webhooks = {});
  ~FleetMember() override;  // stop()

  // Starts the session (lease, edge record) and the watch from `applied_revision` + 1.
  void start(FleetCallbacks callbacks, int64_t applied_revision);
  // Stops both threads and revokes the lease (the edge's observations vanish at once).
  void stop();

  // manage::SharedStore
  Result<std::optional<int64_t>> write(const manage::SharedState& current,
                                       const std::map<std::string, std::string>& next,
                                       const state::ChangeInfo* change) override;

  // The shared state as etcd holds it now (to catch up before validating again).
  Result<manage::SharedState> read_state();
  // The head key's mod revision now (a linearizable read; 0: nothing written yet).
  Result<int64_t> head_revision();
  // The digest of this edge's unshared GSLB inputs (fleet/local_inputs.h), published in its
  // edge record; set at start and on every reload.
  void set_local_inputs(std::string digest);
  // This edge serves `revision` now (reported under its lease).
  void applied(int64_t revision);
  // A change by id with the revision that committed it; nullopt when there is none.
  Result<std::optional<ChangeStatusInfo>> find_change(const std::string& id);
  // Whether every live edge serves `revision`.
  Result<bool> all_edges_serve(int64_t revision);

  // Health: the checks in force, and this edge's own state of one check.
  void set_checks(std::vector<health::HealthCheckConfig> checks);
  void observe(const std::string& check, bool healthy, const std::string& reason);
  // Decided votes of every check.
  std::map<std::string, Vote> votes() const;

  bool connected() const { return connected_.load(); }
  // "etcd unreachable since 2026-12-08T10:00:00.000Z: <last error>" (empty when connected).
  std::string unreachable_reason() const;
  // `meridianctl cluster status`.
  nlohmann::json status() const;
  FleetCounters counters() const;
  const config::ClusterSettings& settings() const { return settings_; }

 private:
  std::string key(std::string_view suffix) const { return settings_.prefix + std::string(suffix); }
  void session_loop();
  void watch_loop();
  // Reads the whole shared state, edges and observations at one revision.
  Status full_reload();
  // The live edges' records (every keep-alive): who is live, their applied revisions, drift.
  Status refresh_edges();
  void take_edges(const std::vector<EtcdKeyValue>& kvs);
  void on_events(const EtcdWatchBatch& batch);
  void deliver_state(int64_t revision);
  void revote();
  void mark_connected();
  void mark_unreachable(const Error& error);
  Status publish_edge_record(int64_t lease);
  // Up to kObservationsPerTxn of `checks`' own observations in one transaction; `checks` loses
  // the ones written.
  Status publish_observations(std::vector<std::string>& checks, int64_t lease);

  config::ClusterSettings settings_;
  EtcdClient etcd_;
  FleetCallbacks callbacks_;
  FleetWebhooks webhooks_;
  std::chrono::system_clock::time_point started_at_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> restart_watch_{false};  // set on reconnecting: the stream may be stale
  std::thread session_thread_, watch_thread_;

  mutable std::mutex mutex_;  // everything below
  std::condition_variable wake_;
  int64_t lease_ = 0;
  int64_t applied_ = 0;           // the revision this edge serves
  int64_t applied_reported_ = 0;  // the one its edge record says
  std::string inputs_;            // local_inputs_digest() of its config
  bool inputs_reported_ = false;
  std::map<std::string, std::string> drift_logged_;  // edge -> digest already warned about
  std::chrono::system_clock::time_point unreachable_since_;
  std::string last_error_;
  bool ever_connected_ = false;
  // The watch's mirror of etcd.
  int64_t watched_revision_ = 0;
  int64_t head_revision_ = 0;
  std::map<std::string, std::string> state_values_;  // relative to "state/", head excluded
  std::map<std::string, nlohmann::json> edges_;      // by edge name
  std::map<std::string, std::map<std::string, bool>> observations_;  // check -> edge -> healthy
  // Health.
  std::vector<health::HealthCheckConfig> checks_;
  struct Own {
    bool healthy = true;
    std::string reason;
    bool published = false;
  };
  std::map<std::string, Own> own_;
  std::map<std::string, Vote> decided_;
  FleetCounters counters_;
};

}  // namespace meridian::fleet
