// Catalog: the hosted zones and health checks meridiand serves, as the state database holds them
// (or, without a database, as the config file names them). It validates every change on an
// in-memory copy first (zone rules, change-batch rules, health-check references), writes what
// passed to the database (the acknowledgement point), and only then replaces its own view.
//
// The config file's zones seed the database: a zone the database does not have yet is created
// from its file; a file that changed since it was last read is applied as a difference (record
// sets it added or changed are upserted, those it removed are deleted), so changes made through
// the API to other record sets are kept. The config file's health checks win for their ids.
//
// Not thread safe: the daemon's controller serialises every call.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/resource_tags.h"
#include "common/result.h"
#include "config/daemon_config.h"
#include "health/health_check_config.h"
#include "manage/shared_state.h"
#include "state/state_store.h"
#include "zone/route53_json.h"
#include "zone/zone.h"
#include "zone/zone_set.h"

namespace meridian::manage {

// The HTTP-facing class of a refusal, so the API can answer like Route 53: the `code` of the
// catalog's and the controller's errors (common/result.h). An unclassified error is kInternal.
enum class Refusal : uint8_t {
  kInternal = 0,        // 500: something that should not happen
  kInvalidInput,        // 400 InvalidInput: malformed request
  kInvalidChangeBatch,  // 400 InvalidChangeBatch: a change violates a rule
  kNoSuchZone,          // 404 NoSuchHostedZone
  kNoSuchHealthCheck,   // 404 NoSuchHealthCheck
  kNoSuchChange,        // 404 NoSuchChange
  kConflict,            // 409: exists already, in use, or read-only (no state database)
  kHealthCheckExists,   // 409 HealthCheckAlreadyExists: CallerReference taken, other settings
  kVersionMismatch,     // 409 HealthCheckVersionMismatch: UpdateHealthCheck on a stale version
  kUnavailable,         // 503 ServiceUnavailable: the database cannot write now (retryable)
};

// `e` as a refusal of class `r`, and the class of an error (kInternal when it has none).
inline Error refused(Refusal r, Error e) {
  return with_code(std::move(e), r);
}
inline Refusal refusal_of(const Error& e) {
  return static_cast<Refusal>(e.code);
}

struct ZoneEntry {
  state::ZoneInfo info;
  std::shared_ptr<const zone::Zone> zone;
};

// The database writes a proposal is made of, each named for what it writes, so a reader can go
// from Catalog::commit() to the SQL. Each is its own transaction and idempotent when repeated.
namespace state_write {
// A config-file zone the database does not have yet, with its seed snapshot.
struct SeedZone {
  state::ZoneInfo info;
  std::vector<zone::RecordSet> record_sets;
};
// The config file's difference since it was last read, applied to the zone as stored.
struct ApplyFileDifference {
  std::string zone_id;
  zone::ChangeBatch difference;
};
// The config file's record sets as last read: what its next difference is taken against.
struct SetSeedSnapshot {
  std::string zone_id;
  std::vector<zone::RecordSet> record_sets;
};
// The config file's health checks (those it no longer names are dropped).
struct SyncConfigHealthChecks {
  std::vector<nlohmann::json> objects;
};
// A change batch through the API, recorded as a change (Proposal::change).
struct ApplyChangeBatch {
  std::string zone_id;
  zone::ChangeBatch batch;
};
// A zone created through the API: the store picks its id, which replaces `placeholder` as the
// proposal's key for it.
struct CreateZone {
  state::ZoneInfo info;
  std::vector<zone::RecordSet> record_sets;
  std::shared_ptr<const zone::Zone> zone;
  std::string placeholder;
};
struct DeleteZone {
  std::string zone_id;
};
// Every record set of a zone (an import), recorded as a change (Proposal::change).
struct ReplaceRecordSets {
  std::string zone_id;
  std::vector<zone::RecordSet> record_sets;
  std::string comment;
};
struct PutHealthCheck {
  nlohmann::json object;
};
struct DeleteHealthCheck {
  std::string id;
};
// A hosted zone's tags, all of them (ChangeTagsForResource).
struct SetZoneTags {
  std::string zone_id;
  ResourceTags tags;
};
}  // namespace state_write

using StateWrite =
    std::variant<state_write::SeedZone, state_write::ApplyFileDifference,
                 state_write::SetSeedSnapshot, state_write::SyncConfigHealthChecks,
                 state_write::ApplyChangeBatch, state_write::CreateZone, state_write::DeleteZone,
                 state_write::ReplaceRecordSets, state_write::PutHealthCheck,
                 state_write::DeleteHealthCheck, state_write::SetZoneTags>;

// A validated next state, not yet written: what the daemon prepares and installs, and what
// commit() writes.
struct Proposal {
  std::map<std::string, ZoneEntry> zones;  // by zone id
  std::vector<nlohmann::json> health_check_objects;
  std::vector<health::HealthCheckConfig> health_checks;
  // Writes that make the database hold this state, run by commit() in order.
  std::vector<StateWrite> writes;
  std::vector<std::string> notes;           // for the log (zones seeded, differences applied)
  std::string change_zone_id;               // the zone a change batch or import went to
  std::string health_check_id;              // the check created, updated or found
  std::optional<state::ChangeInfo> change;  // set by commit() for a batch or import
  // Fleet mode: the shared state read from etcd that this proposal adopts (commit() writes it to
  // the local cache only); and, set by commit(), that the shared state moved on before it could
  // be written (validate again on the new state).
  std::optional<SharedState> shared_next;
  bool conflict = false;

  std::shared_ptr<const zone::ZoneSet> zone_set() const;
};

class Catalog {
 public:
  // Without a database (`db_path` empty) the catalog is read-only: the config file is its source.
  static Result<std::unique_ptr<Catalog>> open(const std::string& db_path);

  // A fleet edge's catalog (docs/fleet.md): the shared state is etcd's, written through `shared`
  // (which must outlive the catalog); the database at `db_path` caches the last applied state,
  // loaded here so the edge serves at once.
  static Result<std::unique_ptr<Catalog>> open_fleet(const std::string& db_path,
                                                     SharedStore* shared);

  bool durable() const { return store_ != nullptr; }
  bool fleet() const { return shared_ != nullptr; }
  // Fleet mode: the shared state this catalog holds (revision 0: none applied yet).
  const SharedState& shared_state() const { return shared_state_; }
  // Fleet mode: `next` (read from etcd or the cache) as a proposal to adopt; unchanged zones
  // keep their parsed form. Fails when the state is not valid (the edge keeps what it serves).
  Result<Proposal> propose_shared(SharedState next) const;
  // Read-only: the database is written through commit() and the mark_* calls alone.
  const state::StateStore* store() const { return store_.get(); }
  const std::map<std::string, ZoneEntry>& zones() const { return zones_; }
  const std::vector<nlohmann::json>& health_check_objects() const { return check_objects_; }
  const std::vector<health::HealthCheckConfig>& health_checks() const { return checks_; }
  // Resolves an id, or a zone name ("example.com" / "example.com.") to an id.
  std::optional<std::string> resolve_zone(std::string_view id_or_name) const;

  // The state `config` asks for, merged with the database (seeding, differences, checks).
  // `zones` are the config file's zones as loaded from their files.
  Result<Proposal> propose_config(const config::DaemonConfig& config,
                                  const zone::ZoneSet& file_zones) const;

  // A Route 53 change batch ({"Comment", "Changes"}) for zone `zone_id`, validated whole.
  Result<Proposal> propose_change_batch(const std::string& zone_id,
                                        const nlohmann::json& batch) const;
  // A new zone: {"Name": "example.com", "Comment": "..."} with optional record sets (import).
  Result<Proposal> propose_create_zone(const dns::Name& origin, std::string_view comment,
                                       std::optional<zone::Zone> contents) const;
  Result<Proposal> propose_delete_zone(const std::string& zone_id) const;
  // Replaces every record set of the zone (import of a whole zone).
  Result<Proposal> propose_replace_zone(const std::string& zone_id, zone::Zone contents,
                                        std::string_view comment) const;
  // A health check (Route 53 HealthCheckConfig fields plus "Id"); replaces one with that id,
  // keeping its CallerReference and Tags unless the object has its own; HealthCheckVersion
  // becomes the replaced one's + 1 (1 for a new check).
  Result<Proposal> propose_put_health_check(const nlohmann::json& object) const;
  // Route 53's CreateHealthCheck: {"CallerReference", "HealthCheckConfig"}, the id generated
  // (a UUID). A check created with the same CallerReference and the same settings is found, not
  // created again (a proposal with no writes, its id in health_check_id); with other settings
  // it is refused (kHealthCheckExists).
  Result<Proposal> propose_create_health_check(const nlohmann::json& body) const;
  // Route 53's UpdateHealthCheck: the given configuration fields merged into the check,
  // "ResetElements" reset to their defaults; with "HealthCheckVersion" only when that is the
  // current version (else kVersionMismatch). The version goes up by one.
  Result<Proposal> propose_update_health_check(const std::string& id,
                                               const nlohmann::json& body) const;
  // Route 53's ChangeTagsForResource on "healthcheck" or "hostedzone" (`id` a check id or a
  // resolved zone id): {"AddTags": [{"Key", "Value"}], "RemoveTagKeys": [...]}.
  Result<Proposal> propose_change_tags(std::string_view resource_type, const std::string& id,
                                       const nlohmann::json& body) const;
  // The tags of a check or a zone (kNoSuchHealthCheck / kNoSuchZone when there is none).
  Result<ResourceTags> tags_of(std::string_view resource_type, const std::string& id) const;
  Result<Proposal> propose_delete_health_check(const std::string& id) const;

  // Writes the proposal (each write its own transaction, each idempotent when repeated) and
  // makes it the catalog's state. On error the catalog keeps its state; the database may hold
  // a prefix of the writes, which the next start reconciles.
  // Fleet mode: a proposal with writes is written to etcd in one transaction conditioned on the
  // shared state it was validated against (proposal.conflict when that moved on); one with
  // `shared_next` is adopted. Either is then cached in the local database.
  Status commit(Proposal& proposal);

  // A recorded change is INSYNC once what it changed is served (after the publish that follows
  // commit()). Nothing to mark without a database.
  // The proposal's change (a batch or an import): in the database, then in `proposal.change`.
  Status mark_insync(Proposal& proposal);
  // Every recorded change: after a publish of everything the database holds.
  Status mark_all_insync();
  // A recorded change by id (without the "/change/" prefix); nullopt when there is none.
  Result<std::optional<state::ChangeInfo>> find_change(std::string_view change_id) const;

 private:
  explicit Catalog(std::unique_ptr<state::StateStore> store, SharedStore* shared = nullptr)
      : store_(std::move(store)), shared_(shared) {}
  Status commit_shared(Proposal& proposal);
  void cache_shared_state();
  Proposal base() const;  // a proposal that changes nothing
  Error refuse(Refusal r, std::string what, std::string where = {}) const;
  // The first record set naming a health check not in `checks`.
  std::optional<Error> check_references(const zone::Zone& zone,
                                        const std::vector<health::HealthCheckConfig>& checks,
                                        const std::string& where_prefix) const;
  // A proposal with `stored` in place of the check with its id (or added), `parsed` its
  // configuration.
  Result<Proposal> propose_check_object(nlohmann::json stored, health::HealthCheckConfig parsed,
                                        std::vector<std::string> notes) const;
  // The index of the check with `id` in checks_ / check_objects_.
  std::optional<size_t> check_index(std::string_view id) const;
  // The same over every zone of a proposal, with its checks.
  std::optional<Error> first_missing_reference(const Proposal& p) const;

  std::unique_ptr<state::StateStore> store_;
  SharedStore* shared_ = nullptr;
  SharedState shared_state_;
  std::map<std::string, ZoneEntry> zones_;
  std::vector<nlohmann::json> check_objects_;
  std::vector<health::HealthCheckConfig> checks_;
};

// A stored check's HealthCheckVersion (1 when it has none: the config file's, or older ones).
int64_t health_check_version(const nlohmann::json& object);

// Builds a Zone from stored record sets (adds every one, then validate()).
Result<zone::Zone> zone_from_record_sets(const dns::Name& origin,
                                         const std::vector<zone::RecordSet>& record_sets);
// Every record set of a zone, sorted by (owner, type, set identifier).
std::vector<zone::RecordSet> record_sets_of(const zone::Zone& zone);

}  // namespace meridian::manage
