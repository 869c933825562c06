// StateStore: Meridian's durable state in one embedded SQLite database (WAL, synchronous=FULL):
// hosted zones, their record sets, health checks, and the change batches applied to them. A
// write returns only after its transaction committed, so whatever the control API acknowledged
// survives kill -9 and a restart; a write that did not commit is absent as a whole.
//
// The store persists; it does not judge. Callers validate a change (zone rules, batch rules) on
// an in-memory copy first and write only what passed. Every method is one transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/resource_tags.h"
#include "common/result.h"
#include "dns/name.h"
#include "zone/record_set.h"
#include "zone/route53_json.h"

struct sqlite3;

namespace meridian::state {

// Where a zone first came from.
enum class ZoneOrigin : uint8_t { kConfig, kApi };
std::string_view zone_origin_name(ZoneOrigin o);  // "config" | "api"

struct ZoneInfo {
  std::string id;  // Route 53-style hosted zone id, e.g. "Z3M3LMPEXAMPLE"
  dns::Name origin;
  ZoneOrigin created_by = ZoneOrigin::kApi;
  std::string comment;
  int64_t created_at_ms = 0;  // Unix epoch milliseconds
  size_t record_set_count = 0;
  ResourceTags tags;  // ChangeTagsForResource (hostedzone)
};

enum class ChangeStatus : uint8_t { kPending, kInsync };
std::string_view change_status_name(ChangeStatus s);  // "PENDING" | "INSYNC"

struct ChangeInfo {
  std::string id;  // "C" + 20 upper-case alphanumerics, unique
  std::string zone_id;
  ChangeStatus status = ChangeStatus::kPending;
  int64_t submitted_at_ms = 0;
  std::string comment;
  size_t change_count = 0;
};

// One stored health check: its id and the JSON object it was given as (Route 53 HealthCheckConfig
// field names plus Meridian's extensions, "Id" included), parsed again by the caller on load.
struct StoredHealthCheck {
  std::string id;
  nlohmann::json config;
  bool from_config = false;  // defined in the config file (the file wins for these ids)
  int64_t created_at_ms = 0;
};

// A deterministic hosted zone id for a zone seeded from the config file (the same origin gets the
// same id on every machine): "Z" + 13 upper-case base-32 characters of a 64-bit FNV-1a hash of
// the lower-cased origin text.
std::string zone_id_for_origin(const dns::Name& origin);

// Unix epoch milliseconds now.
int64_t now_ms();
// A random upper-case identifier: `prefix` + `length` characters of [A-Z0-9].
std::string random_id(char prefix, size_t length);
// A PENDING change of `count` record set changes, with a fresh id, submitted now.
ChangeInfo new_change(std::string_view zone_id, std::string_view comment, size_t count);

// A fleet edge's cached shared state (docs/fleet.md): opaque text and its etcd revision.
struct FleetCache {
  int64_t revision = 0;
  std::string state;
};

class StateStore {
 public:
  // Opens or creates the database at `path` (its directory must exist) and its tables; an
  // existing database with a newer schema version is refused with a clear error.
  static Result<std::unique_ptr<StateStore>> open(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::string& path() const { return path_; }
  // "wal" when the database is in WAL mode.
  std::string journal_mode() const;

  // --- zones and record sets ---
  Result<std::vector<ZoneInfo>> list_zones() const;  // ordered by origin text
  Result<std::optional<ZoneInfo>> find_zone(std::string_view id) const;
  // Every record set of the zone, as stored (order: owner, type, set identifier).
  Result<std::vector<zone::RecordSet>> record_sets(std::string_view zone_id) const;
  // A new zone with these record sets. `id` empty: a fresh random id ("Z" + 13 characters).
  // Fails if the id or the origin exists already.
  Result<ZoneInfo> create_zone(const dns::Name& origin, std::string id, ZoneOrigin created_by,
                               std::string_view comment,
                               const std::vector<zone::RecordSet>& record_sets);
  // Replaces the zone's tags; fails when there is no such zone.
  Status set_zone_tags(std::string_view zone_id, const ResourceTags& tags);
  // Removes the zone, its record sets, tags and seed snapshot; false if there was none.
  Result<bool> delete_zone(std::string_view zone_id);
  // Writes a batch that the caller has validated: each change's rows (CREATE inserts, DELETE
  // deletes, UPSERT inserts or replaces), plus a change row with status PENDING, in one
  // transaction. Returns the change.
  Result<ChangeInfo> apply_change_batch(std::string_view zone_id, const zone::ChangeBatch& batch);
  // Replaces all record sets of the zone (import) and records it as a change, in one
  // transaction.
  Result<ChangeInfo> replace_record_sets(std::string_view zone_id,
                                         const std::vector<zone::RecordSet>& record_sets,
                                         std::string_view comment);

  // --- change batches ---
  Result<std::optional<ChangeInfo>> find_change(std::string_view change_id) const;
  // Marks every PENDING change up to and including `change_id` (in commit order) INSYNC.
  Status mark_insync_through(std::string_view change_id);
  // The newest changes first, at most `limit`.
  Result<std::vector<ChangeInfo>> list_changes(size_t limit) const;

  // --- the config file's view of a zone (what the file held when last imported), so a changed
  // file can be applied as a difference on top of the API's changes ---
  Result<std::optional<std::vector<zone::RecordSet>>> seed_snapshot(std::string_view zone_id) const;
  Status set_seed_snapshot(std::string_view zone_id,
                           const std::vector<zone::RecordSet>& record_sets);

  // --- health checks ---
  Result<std::vector<StoredHealthCheck>> health_checks() const;  // ordered by id
  // Inserts or replaces the check with config["Id"] (from_config = false).
  Status put_health_check(const nlohmann::json& config);
  Result<bool> delete_health_check(std::string_view id);
  // The config file's checks, in one transaction: each inserted or replaced with from_config =
  // true; rows with from_config = true whose id is not among them are deleted.
  Status sync_config_health_checks(const std::vector<nlohmann::json>& configs);

  // --- a fleet edge's last applied shared state (nullopt: none yet) ---
  Result<std::optional<FleetCache>> fleet_cache() const;
  Status set_fleet_cache(const FleetCache& cache);

 private:
  StateStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
};

}  // namespace meridian::state
