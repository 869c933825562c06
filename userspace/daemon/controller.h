// Controller: the one writer of what meridiand serves. Config loads and reloads, and every change
// through the control API, go through it one at a time: the catalog validates the change whole,
// the policy engine is built for the result, the database commits it (the acknowledgement point),
// and then the new snapshot goes live in userspace and in the XDP maps. A change is INSYNC once
// the maps hold it (without XDP: once userspace serves it).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "config/daemon_config.h"
#include "daemon/fast_path_runtime.h"
#include "daemon/gslb_runtime.h"
#include "fleet/fleet_member.h"
#include "manage/catalog.h"
#include "manage/record_set_list.h"
#include "zone/zone_store.h"

namespace meridian::daemon {

struct ControllerDeps {
  zone::ZoneStore* store = nullptr;
  HealthRuntime* health = nullptr;
  HealthViewPtr health_view;
  // Where every installed snapshot is published next (FastPathRuntime::publish); null: nowhere,
  // a change is INSYNC once userspace serves it.
  FastPathRuntime* fast_path = nullptr;
  // Fleet mode (a "cluster" section): the shared state is written through it; null: single host.
  fleet::FleetMember* fleet = nullptr;
};

using manage::Refusal;

class Controller {
 public:
  // Opens the state database named by `config` (none: read-only catalog).
  static Result<std::unique_ptr<Controller>> open(const config::DaemonConfig& config,
                                                  ControllerDeps deps);

  // Start and SIGHUP: the config's zones and checks merged with the database, all or nothing.
  Status apply_config(const config::DaemonConfig& config);
  // Publishes what userspace serves to the XDP maps again (once the fast path started).
  void republish();
  // The whole pipeline without changing anything (--check-config).
  static Status check_config(const config::DaemonConfig& config);

  bool durable() const { return catalog_->durable(); }

  // --- fleet mode ---
  // A committed revision of the shared state from the watch: validated, installed whole and
  // reported as served; one that cannot be served is logged and the current state kept.
  void apply_shared(manage::SharedState next);
  // The shared revision served now (0: none).
  int64_t shared_revision();

  // --- control API (JSON in Route 53's shapes) ---
  nlohmann::json list_zones();
  Result<nlohmann::json> get_zone(const std::string& id_or_name);
  // {"Name": ..., "Comment"?: ...,  "ZoneFile"?: text | "ResourceRecordSets"?: [...]}
  Result<nlohmann::json> create_zone(const nlohmann::json& body);
  Result<nlohmann::json> delete_zone(const std::string& id_or_name);
  // One page in Route 53's order (manage/record_set_list.h).
  Result<nlohmann::json> list_record_sets(const std::string& id_or_name,
                                          const manage::ListRequest& request);
  Result<nlohmann::json> change_record_sets(const std::string& id_or_name,
                                            const nlohmann::json& batch);
  Result<nlohmann::json> get_change(const std::string& change_id);
  // The zone as text: {"format": ..., "text": ...}.
  Result<std::string> export_zone(const std::string& id_or_name, const std::string& format);
  // Replaces the zone's record sets with `text` (creates the zone when `id_or_name` is a name
  // that does not exist yet).
  Result<nlohmann::json> import_zone(const std::string& id_or_name, const std::string& format,
                                     const std::string& text);
  nlohmann::json list_health_checks();
  Result<nlohmann::json> get_health_check(const std::string& id);
  Result<nlohmann::json> put_health_check(const nlohmann::json& object);
  // Route 53's CreateHealthCheck ({"CallerReference", "HealthCheckConfig"}): the answer has
  // "Created" false when the same request had created the check before.
  Result<nlohmann::json> create_health_check(const nlohmann::json& body);
  // Route 53's UpdateHealthCheck: the fields given, HealthCheckVersion optional.
  Result<nlohmann::json> update_health_check(const std::string& id, const nlohmann::json& body);
  // ListTagsForResource / ChangeTagsForResource; `resource_type` "healthcheck" | "hostedzone".
  Result<nlohmann::json> list_tags(const std::string& resource_type, const std::string& id);
  Result<nlohmann::json> change_tags(const std::string& resource_type, const std::string& id,
                                     const nlohmann::json& body);
  Result<nlohmann::json> delete_health_check(const std::string& id);
  // Every check's state: healthy, last result, failure reason, latency, updated at.
  nlohmann::json health_status();

  // For metrics.
  struct Counters {
    uint64_t batches_applied = 0;
    uint64_t batches_rejected = 0;
    uint64_t changes_applied = 0;  // record set changes in applied batches
    uint64_t publish_failures = 0;
    uint64_t storage_errors = 0;         // writes the state database refused (503 to the client)
    uint64_t shared_apply_failures = 0;  // fleet revisions that could not be served
  };
  Counters counters() const;
  size_t zone_count();
  // The hosted zone id of the zone `qname` is in, for query logs; "-" if none. Lock-free: called
  // per logged query.
  std::string zone_id_for(const dns::Name& qname) const;
  // The same for a zone's own origin (one lookup).
  std::string zone_id_of_origin(const dns::Name& origin) const;

 private:
  Controller(config::DaemonConfig config, ControllerDeps deps,
             std::unique_ptr<manage::Catalog> catalog)
      : config_(std::move(config)), deps_(std::move(deps)), catalog_(std::move(catalog)) {}

  // Prepares, commits and installs a proposal (the lock is held); `health_changed`: the checks
  // may differ, apply them to the checker and log the GSLB inputs.
  // Refused with `invalid` when the proposal cannot be served, kUnavailable when the database
  // cannot take it.
  Result<bool> commit_and_install(manage::Proposal& proposal, const config::DaemonConfig& config,
                                  bool health_changed,
                                  manage::Refusal invalid = manage::Refusal::kInvalidInput);
  // Proposes and commits; in fleet mode, when another edge wrote first, catches up and proposes
  // again on the new state (a few times), so a change is never applied on stale state. `p` is
  // the proposal that was committed.
  Result<bool> propose_and_commit(const std::function<Result<manage::Proposal>()>& propose,
                                  manage::Proposal& p, bool health_changed,
                                  manage::Refusal invalid = manage::Refusal::kInvalidInput);
  Status apply_shared_locked(manage::SharedState next);
  // Fleet mode, before a write: this edge's state brought to etcd's newest (503 when etcd
  // cannot be reached: writes are refused then anyway).
  std::optional<Error> catch_up_for_write();
  nlohmann::json zone_json(const manage::ZoneEntry& entry) const;
  // Catches up, proposes and commits a health check write (the lock is held) and answers it.
  Result<nlohmann::json> write_health_check(
      const std::function<Result<manage::Proposal>()>& propose, manage::Proposal& p);
  // {"HealthCheck" (as stored, with its version), "InSync", "Warnings"?} for p.health_check_id.
  nlohmann::json health_check_answer(const manage::Proposal& p, bool in_sync) const;
  std::optional<std::string> resolve(const std::string& id_or_name) const;
  Result<nlohmann::json> change_json(const state::ChangeInfo& change) const;
  void refresh_zone_ids();
  // Every recorded change INSYNC: after a publish of everything the database holds.
  void mark_all_insync();

  std::mutex mutex_;
  config::DaemonConfig config_;
  ControllerDeps deps_;
  std::unique_ptr<manage::Catalog> catalog_;
  GeoDatabases geo_databases_;
  std::atomic<uint64_t> batches_applied_{0}, batches_rejected_{0}, changes_applied_{0},
      publish_failures_{0}, storage_errors_{0}, shared_apply_failures_{0};
  // Hosted zone ids by origin key for the query log (read by logging threads).
  std::atomic<std::shared_ptr<const std::map<std::string, std::string>>> zone_ids_;
};

}  // namespace meridian::daemon
