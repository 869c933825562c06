// Catalog: validation on copies, then database writes, then the in-memory view.
#include "manage/catalog.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <tuple>

#include <spdlog/spdlog.h>

#include "common/json_fields.h"
#include "common/json_parse.h"
#include "dns/types.h"
#include "zone/route53_json.h"

namespace meridian::manage {
namespace {

std::string identity(const zone::RecordSet& rs) {
  return rs.name.key() + "/" + std::to_string(rs.type) + "/" + rs.set_identifier;
}

std::string describe(const zone::RecordSet& rs) {
  return rs.name.to_text() + " " + dns::type_to_text(rs.type) +
         (rs.set_identifier.empty() ? "" : " (SetIdentifier \"" + rs.set_identifier + "\")");
}

bool same(const zone::RecordSet& a, const zone::RecordSet& b) {
  return zone::record_set_to_json(a) == zone::record_set_to_json(b);
}

// The SQL of each StateWrite (commit() runs them in order); a write that records a change or
// learns a zone's id puts it into the proposal.
Status write_to(state::StateStore& s, const state_write::SeedZone& w, Proposal& p) {
  auto created =
      s.create_zone(w.info.origin, w.info.id, w.info.created_by, w.info.comment, w.record_sets);
  if (!created) return created.error();
  p.zones.at(w.info.id).info = *created;
  return s.set_seed_snapshot(w.info.id, w.record_sets);
}

Status write_to(state::StateStore& s, const state_write::ApplyFileDifference& w, Proposal&) {
  auto applied = s.apply_change_batch(w.zone_id, w.difference);
  if (!applied) return applied.error();
  return Ok{};
}

Status write_to(state::StateStore& s, const state_write::SetSeedSnapshot& w, Proposal&) {
  return s.set_seed_snapshot(w.zone_id, w.record_sets);
}

Status write_to(state::StateStore& s, const state_write::SyncConfigHealthChecks& w, Proposal&) {
  return s.sync_config_health_checks(w.objects);
}

Status write_to(state::StateStore& s, const state_write::ApplyChangeBatch& w, Proposal& p) {
  auto applied = s.apply_change_batch(w.zone_id, w.batch);
  if (!applied) return applied.error();
  p.change = std::move(applied).value();
  return Ok{};
}

Status write_to(state::StateStore& s, const state_write::CreateZone& w, Proposal& p) {
  auto created = s.create_zone(w.info.origin, "", w.info.created_by, w.info.comment, w.record_sets);
  if (!created) return created.error();
  p.zones.erase(w.placeholder);
  p.zones[created->id] = ZoneEntry{*created, w.zone};
  p.change_zone_id = created->id;
  return Ok{};
}

Status write_to(state::StateStore& s, const state_write::DeleteZone& w, Proposal&) {
  auto deleted = s.delete_zone(w.zone_id);
  if (!deleted) return deleted.error();
  return Ok{};
}

Status write_to(state::StateStore& s, const state_write::ReplaceRecordSets& w, Proposal& p) {
  auto replaced = s.replace_record_sets(w.zone_id, w.record_sets, w.comment);
  if (!replaced) return replaced.error();
  p.change = std::move(replaced).value();
  return Ok{};
}

Status write_to(state::StateStore& s, const state_write::PutHealthCheck& w, Proposal&) {
  return s.put_health_check(w.object);
}

Status write_to(state::StateStore& s, const state_write::DeleteHealthCheck& w, Proposal&) {
  auto deleted = s.delete_health_check(w.id);
  if (!deleted) return deleted.error();
  return Ok{};
}

Status write_to(state::StateStore& s, const state_write::SetZoneTags& w, Proposal&) {
  return s.set_zone_tags(w.zone_id, w.tags);
}

// A health check id as Route 53 makes them: a random (version 4) UUID in lower-case hex.
std::string new_health_check_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t hi = (rng() & ~uint64_t{0xf000}) | 0x4000;                  // version 4
  const uint64_t lo = (rng() & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);  // RFC 4122 variant
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return text;
}

// The fields kept beside a check's configuration (in either form), not part of it.
constexpr std::array<std::string_view, 6> kOuterFields = {"Id",
                                                          "CallerReference",
                                                          "Tags",
                                                          "HealthCheckVersion",
                                                          "LinkedService",
                                                          "CloudWatchAlarmConfiguration"};

// The configuration fields of a stored check (HealthCheckConfig, or the flat object without
// the fields beside it).
nlohmann::json config_of(const nlohmann::json& stored) {
  if (stored.contains("HealthCheckConfig")) return stored["HealthCheckConfig"];
  nlohmann::json config = stored;
  for (std::string_view key : kOuterFields) config.erase(std::string(key));
  return config;
}

// Record sets that name a health check, with where each is.
struct Reference {
  std::string zone;
  const zone::RecordSet* rs;
};

}  // namespace

std::vector<zone::RecordSet> record_sets_of(const zone::Zone& z) {
  std::vector<zone::RecordSet> out;
  for (const auto& [key, node] : z.nodes())
    for (const auto& rs : node.record_sets) out.push_back(rs);
  // The state database's order: lower-cased owner text, type, set identifier.
  auto owner = [](const zone::RecordSet& rs) {
    std::string text = rs.name.to_text();
    for (char& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return text;
  };
  std::sort(out.begin(), out.end(), [&](const zone::RecordSet& a, const zone::RecordSet& b) {
    return std::make_tuple(owner(a), a.type, a.set_identifier) <
           std::make_tuple(owner(b), b.type, b.set_identifier);
  });
  return out;
}

Result<zone::Zone> zone_from_record_sets(const dns::Name& origin,
                                         const std::vector<zone::RecordSet>& record_sets) {
  zone::Zone z(origin);
  for (const auto& rs : record_sets) {
    if (auto s = z.add(rs); !s) return make_error(s.error().what, "zone " + origin.to_text());
  }
  if (auto s = z.validate(); !s) return make_error(s.error().what, "zone " + origin.to_text());
  return z;
}

std::shared_ptr<const zone::ZoneSet> Proposal::zone_set() const {
  std::vector<std::shared_ptr<const zone::Zone>> list;
  for (const auto& [id, entry] : zones) list.push_back(entry.zone);
  return std::make_shared<const zone::ZoneSet>(std::move(list));
}

Result<std::unique_ptr<Catalog>> Catalog::open(const std::string& db_path) {
  if (db_path.empty()) return std::unique_ptr<Catalog>(new Catalog(nullptr));
  auto store = state::StateStore::open(db_path);
  if (!store) return store.error();
  std::unique_ptr<Catalog> catalog(new Catalog(std::move(store).value()));
  auto zones = catalog->store_->list_zones();
  if (!zones) return zones.error();
  for (auto& info : *zones) {
    auto records = catalog->store_->record_sets(info.id);
    if (!records) return records.error();
    auto z = zone_from_record_sets(info.origin, *records);
    if (!z) return make_error("stored zone is not valid: " + z.error().what, db_path);
    ZoneEntry entry{info, std::make_shared<const zone::Zone>(std::move(z).value())};
    catalog->zones_.emplace(info.id, std::move(entry));
  }
  auto checks = catalog->store_->health_checks();
  if (!checks) return checks.error();
  for (const auto& stored : *checks) {
    auto parsed = health::parse_health_check(stored.config, "/HealthChecks/" + stored.id);
    if (!parsed)
      return make_error("stored health check is not valid: " + parsed.error().to_string(), db_path);
    catalog->check_objects_.push_back(stored.config);
    catalog->checks_.push_back(std::move(parsed).value());
  }
  return catalog;
}

Result<std::unique_ptr<Catalog>> Catalog::open_fleet(const std::string& db_path,
                                                     SharedStore* shared) {
  if (db_path.empty()) return make_error("a fleet edge needs a state database (its cache)");
  auto store = state::StateStore::open(db_path);
  if (!store) return store.error();
  std::unique_ptr<Catalog> catalog(new Catalog(std::move(store).value(), shared));
  auto cached = catalog->store_->fleet_cache();
  if (!cached) return cached.error();
  if (!cached->has_value()) return catalog;  // nothing applied yet: empty until etcd answers
  auto state = shared_state_from_text((*cached)->state);
  if (!state) return make_error("the cached fleet state: " + state.error().to_string(), db_path);
  auto proposal = catalog->propose_shared(std::move(state).value());
  if (!proposal)
    return make_error("the cached fleet state is not valid: " + proposal.error().to_string(),
                      db_path);
  catalog->zones_ = proposal->zones;
  catalog->check_objects_ = proposal->health_check_objects;
  catalog->checks_ = proposal->health_checks;
  catalog->shared_state_ = std::move(*proposal->shared_next);
  return catalog;
}

Result<Proposal> Catalog::propose_shared(SharedState next) const {
  Proposal p;
  for (const auto& [key, text] : next.values) {
    if (key.starts_with(kZoneKeyPrefix)) {
      const std::string id = key.substr(kZoneKeyPrefix.size());
      auto same_text = shared_state_.values.find(key);
      auto current = zones_.find(id);
      if (same_text != shared_state_.values.end() && same_text->second == text &&
          current != zones_.end()) {
        p.zones[id] = current->second;
        continue;
      }
      auto decoded = zone_from_value(key, text);
      if (!decoded) return decoded.error();
      decoded->info.id = id;
      p.zones[id] =
          ZoneEntry{decoded->info, std::make_shared<const zone::Zone>(std::move(decoded->zone))};
    } else if (key.starts_with(kCheckKeyPrefix)) {
      auto object = parse_json(text);
      if (!object) return make_error(object.error().what, key);
      auto parsed = health::parse_health_check(
          *object, "/HealthChecks/" + key.substr(kCheckKeyPrefix.size()));
      if (!parsed) return parsed.error();
      p.health_check_objects.push_back(std::move(object).value());
      p.health_checks.push_back(std::move(parsed).value());
    }
    // Keys of later versions are kept in the state and ignored here.
  }
  if (auto v = health::validate_health_checks(p.health_checks); !v) return v.error();
  if (auto e = first_missing_reference(p)) return *e;
  p.shared_next = std::move(next);
  return p;
}

std::optional<std::string> Catalog::resolve_zone(std::string_view id_or_name) const {
  if (zones_.count(std::string(id_or_name))) return std::string(id_or_name);
  // A name without its trailing dot is absolute here: "example.com" is example.com.
  std::string text(id_or_name);
  if (text.empty()) return std::nullopt;
  if (text.back() != '.') text += '.';
  auto name = dns::Name::from_text(text);
  if (!name) return std::nullopt;
  for (const auto& [id, entry] : zones_)
    if (entry.info.origin.equals(*name)) return id;
  return std::nullopt;
}

Proposal Catalog::base() const {
  Proposal p;
  p.zones = zones_;
  p.health_check_objects = check_objects_;
  p.health_checks = checks_;
  return p;
}

Error Catalog::refuse(Refusal r, std::string what, std::string where) const {
  return refused(r, make_error(std::move(what), std::move(where)));
}

std::optional<Error> Catalog::check_references(const zone::Zone& z,
                                               const std::vector<health::HealthCheckConfig>& checks,
                                               const std::string& where_prefix) const {
  std::set<std::string> ids;
  for (const auto& c : checks) ids.insert(c.id);
  for (const auto& rs : record_sets_of(z)) {
    if (!rs.health_check_id.empty() && !ids.count(rs.health_check_id))
      return refuse(Refusal::kInvalidChangeBatch,
                    "record set " + describe(rs) + ": HealthCheckId \"" + rs.health_check_id +
                        "\" is not a configured health check",
                    where_prefix);
  }
  return std::nullopt;
}

std::optional<Error> Catalog::first_missing_reference(const Proposal& p) const {
  for (const auto& [id, entry] : p.zones)
    if (auto e =
            check_references(*entry.zone, p.health_checks, "zone " + entry.info.origin.to_text()))
      return e;
  return std::nullopt;
}

Result<Proposal> Catalog::propose_config(const config::DaemonConfig& config,
                                         const zone::ZoneSet& file_zones) const {
  Proposal p = base();
  // A fleet's zones and checks are etcd's (the config file may not name any).
  if (shared_) return p;
  if (!store_) {
    // No database: the config file is the whole truth.
    p.zones.clear();
    for (const auto& z : file_zones.zones()) {
      state::ZoneInfo info;
      info.id = state::zone_id_for_origin(z->origin());
      info.origin = z->origin();
      info.created_by = state::ZoneOrigin::kConfig;
      info.record_set_count = z->record_set_count();
      p.zones[info.id] = ZoneEntry{info, z};
    }
    p.health_check_objects = config.health_check_objects;
    p.health_checks = config.health_checks;
    if (auto e = first_missing_reference(p)) return *e;
    return p;
  }

  for (const auto& file_zone : file_zones.zones()) {
    const auto file_records = record_sets_of(*file_zone);
    std::optional<std::string> id = resolve_zone(file_zone->origin().to_text());
    const std::string source = "zone " + file_zone->origin().to_text();
    if (!id) {
      state::ZoneInfo info;
      info.id = state::zone_id_for_origin(file_zone->origin());
      info.origin = file_zone->origin();
      info.created_by = state::ZoneOrigin::kConfig;
      info.comment = "seeded from the config file";
      info.record_set_count = file_records.size();
      p.zones[info.id] = ZoneEntry{info, file_zone};
      p.writes.push_back(state_write::SeedZone{info, file_records});
      p.notes.push_back(source + ": seeded into the state database from its file (" +
                        std::to_string(file_records.size()) + " record sets)");
      continue;
    }
    auto snapshot = store_->seed_snapshot(*id);
    if (!snapshot) return snapshot.error();
    const std::vector<zone::RecordSet> before =
        snapshot->has_value() ? **snapshot : std::vector<zone::RecordSet>{};
    // The file's difference since it was last read, applied to the zone as it is now.
    std::map<std::string, const zone::RecordSet*> old_by_id;
    for (const auto& rs : before) old_by_id[identity(rs)] = &rs;
    std::set<std::string> new_ids;
    zone::ChangeBatch diff;
    diff.comment = "config file changed";
    const zone::Zone& current = *p.zones.at(*id).zone;
    for (const auto& rs : file_records) {
      new_ids.insert(identity(rs));
      auto it = old_by_id.find(identity(rs));
      if (it != old_by_id.end() && same(*it->second, rs)) continue;
      const zone::Node* node = current.find(rs.name);
      bool unchanged = false;
      if (node)
        for (const auto& cur : node->record_sets)
          unchanged = unchanged || (identity(cur) == identity(rs) && same(cur, rs));
      if (!unchanged) diff.changes.push_back(zone::Change{zone::ChangeAction::kUpsert, rs});
    }
    for (const auto& rs : before) {
      if (new_ids.count(identity(rs))) continue;
      const zone::Node* node = current.find(rs.name);
      if (!node) continue;
      for (const auto& cur : node->record_sets)
        if (identity(cur) == identity(rs))
          diff.changes.push_back(zone::Change{zone::ChangeAction::kDelete, cur});
    }
    const bool snapshot_stale =
        !snapshot->has_value() || before.size() != file_records.size() ||
        !std::equal(before.begin(), before.end(), file_records.begin(),
                    [](const auto& a, const auto& b) { return same(a, b); });
    if (!diff.changes.empty()) {
      zone::Zone next = current;
      if (auto s = zone::apply_change_batch(next, diff); !s)
        return make_error(
            "the config file's changes conflict with the state database: " + s.error().to_string(),
            source);
      ZoneEntry& entry = p.zones.at(*id);
      entry.zone = std::make_shared<const zone::Zone>(std::move(next));
      entry.info.record_set_count = entry.zone->record_set_count();
      p.writes.push_back(state_write::ApplyFileDifference{*id, diff});
      p.notes.push_back(source + ": its file changed; " + std::to_string(diff.changes.size()) +
                        " record sets updated in the state database");
    }
    if (snapshot_stale) {
      p.writes.push_back(state_write::SetSeedSnapshot{*id, file_records});
    }
  }

  // Health checks: the file's win for their ids; the API's stay.
  std::set<std::string> config_ids;
  for (const auto& c : config.health_checks) config_ids.insert(c.id);
  auto stored = store_->health_checks();
  if (!stored) return stored.error();
  p.health_check_objects = config.health_check_objects;
  p.health_checks = config.health_checks;
  for (const auto& s : *stored) {
    if (s.from_config || config_ids.count(s.id)) continue;
    auto parsed = health::parse_health_check(s.config, "/HealthChecks/" + s.id);
    if (!parsed) return make_error(parsed.error().to_string(), store_->path());
    p.health_check_objects.push_back(s.config);
    p.health_checks.push_back(std::move(parsed).value());
  }
  if (auto v = health::validate_health_checks(p.health_checks); !v)
    return make_error(
        "health checks of the config file and the state database: " + v.error().to_string(),
        config.source);
  p.writes.push_back(state_write::SyncConfigHealthChecks{config.health_check_objects});
  if (auto e = first_missing_reference(p)) return *e;
  return p;
}

Result<Proposal> Catalog::propose_change_batch(const std::string& zone_id,
                                               const nlohmann::json& batch_json) const {
  if (!store_)
    return refuse(Refusal::kConflict,
                  "no state database is configured (\"state\": {\"database\": null}): zones "
                  "change only through the config file");
  auto it = zones_.find(zone_id);
  if (it == zones_.end())
    return refuse(Refusal::kNoSuchZone, "no hosted zone with id \"" + zone_id + "\"");
  auto batch = zone::change_batch_from_json(batch_json, it->second.info.origin);
  if (!batch) return refused(Refusal::kInvalidChangeBatch, batch.error());
  // References first, so the error names the change that makes them.
  std::set<std::string> ids;
  for (const auto& c : checks_) ids.insert(c.id);
  for (size_t i = 0; i < batch->changes.size(); ++i) {
    const auto& c = batch->changes[i];
    if (c.action == zone::ChangeAction::kDelete || c.record_set.health_check_id.empty()) continue;
    if (!ids.count(c.record_set.health_check_id))
      return refuse(Refusal::kInvalidChangeBatch,
                    "no health check with id \"" + c.record_set.health_check_id + "\"",
                    "/Changes/" + std::to_string(i) + "/ResourceRecordSet/HealthCheckId");
  }
  zone::Zone next = *it->second.zone;
  if (auto s = zone::apply_change_batch(next, *batch); !s)
    return refused(Refusal::kInvalidChangeBatch, s.error());
  Proposal p = base();
  ZoneEntry& entry = p.zones.at(zone_id);
  entry.zone = std::make_shared<const zone::Zone>(std::move(next));
  entry.info.record_set_count = entry.zone->record_set_count();
  p.change_zone_id = zone_id;
  p.writes.push_back(state_write::ApplyChangeBatch{zone_id, std::move(batch).value()});
  return p;
}

Result<Proposal> Catalog::propose_create_zone(const dns::Name& origin, std::string_view comment,
                                              std::optional<zone::Zone> contents) const {
  if (!store_)
    return refuse(Refusal::kConflict,
                  "no state database is configured: zones are created only in the config file");
  if (resolve_zone(origin.to_text()))
    return refuse(Refusal::kConflict, "hosted zone " + origin.to_text() + " already exists");
  zone::Zone z(origin);
  if (contents) {
    z = std::move(*contents);
  } else {
    // A new zone gets the SOA and NS every zone needs, as Route 53 creates them.
    const std::string o = origin.to_text();
    auto soa = zone::record_set_from_json(
        nlohmann::json{
            {"Name", o},
            {"Type", "SOA"},
            {"TTL", 900},
            {"ResourceRecords",
             {{{"Value", "ns1." + o + " hostmaster." + o + " 1 7200 900 1209600 86400"}}}}},
        origin, "/SOA");
    auto ns =
        zone::record_set_from_json(nlohmann::json{{"Name", o},
                                                  {"Type", "NS"},
                                                  {"TTL", 172800},
                                                  {"ResourceRecords", {{{"Value", "ns1." + o}}}}},
                                   origin, "/NS");
    if (!soa || !ns) return refuse(Refusal::kInternal, "cannot build the default SOA and NS");
    (void)z.add(std::move(*soa));
    (void)z.add(std::move(*ns));
  }
  if (auto s = z.validate(); !s) return refused(Refusal::kInvalidInput, s.error());
  if (auto e = check_references(z, checks_, "zone " + origin.to_text())) return *e;
  Proposal p = base();
  state::ZoneInfo info;
  info.origin = origin;
  info.created_by = state::ZoneOrigin::kApi;
  info.comment = std::string(comment);
  info.record_set_count = z.record_set_count();
  // The id is chosen by the store: the entry is keyed by a placeholder until commit().
  auto records = record_sets_of(z);
  auto shared = std::make_shared<const zone::Zone>(std::move(z));
  const std::string placeholder = "new:" + origin.key();
  p.zones[placeholder] = ZoneEntry{info, shared};
  p.writes.push_back(state_write::CreateZone{info, std::move(records), shared, placeholder});
  return p;
}

Result<Proposal> Catalog::propose_delete_zone(const std::string& zone_id) const {
  if (!store_) return refuse(Refusal::kConflict, "no state database is configured");
  if (!zones_.count(zone_id))
    return refuse(Refusal::kNoSuchZone, "no hosted zone with id \"" + zone_id + "\"");
  Proposal p = base();
  p.notes.push_back("zone " + p.zones.at(zone_id).info.origin.to_text() + " deleted");
  p.zones.erase(zone_id);
  p.change_zone_id = zone_id;
  p.writes.push_back(state_write::DeleteZone{zone_id});
  return p;
}

Result<Proposal> Catalog::propose_replace_zone(const std::string& zone_id, zone::Zone contents,
                                               std::string_view comment) const {
  if (!store_) return refuse(Refusal::kConflict, "no state database is configured");
  auto it = zones_.find(zone_id);
  if (it == zones_.end())
    return refuse(Refusal::kNoSuchZone, "no hosted zone with id \"" + zone_id + "\"");
  if (!contents.origin().equals(it->second.info.origin))
    return refuse(Refusal::kInvalidInput, "the imported zone's origin " +
                                              contents.origin().to_text() + " is not " +
                                              it->second.info.origin.to_text());
  if (auto s = contents.validate(); !s) return refused(Refusal::kInvalidInput, s.error());
  if (auto e = check_references(contents, checks_, "zone " + contents.origin().to_text()))
    return *e;
  Proposal p = base();
  ZoneEntry& entry = p.zones.at(zone_id);
  auto records = record_sets_of(contents);
  entry.zone = std::make_shared<const zone::Zone>(std::move(contents));
  entry.info.record_set_count = entry.zone->record_set_count();
  p.change_zone_id = zone_id;
  p.writes.push_back(
      state_write::ReplaceRecordSets{zone_id, std::move(records), std::string(comment)});
  return p;
}

int64_t health_check_version(const nlohmann::json& object) {
  const auto it = object.find("HealthCheckVersion");
  if (it == object.end() || !it->is_number_integer() || it->get<int64_t>() < 1) return 1;
  return it->get<int64_t>();
}

std::optional<size_t> Catalog::check_index(std::string_view id) const {
  for (size_t i = 0; i < checks_.size(); ++i)
    if (checks_[i].id == id) return i;
  return std::nullopt;
}

Result<Proposal> Catalog::propose_check_object(nlohmann::json stored,
                                               health::HealthCheckConfig parsed,
                                               std::vector<std::string> notes) const {
  Proposal p = base();
  p.notes = std::move(notes);
  p.health_check_id = parsed.id;
  bool replaced = false;
  for (size_t i = 0; i < p.health_checks.size(); ++i) {
    if (p.health_checks[i].id != parsed.id) continue;
    p.health_checks[i] = parsed;
    p.health_check_objects[i] = stored;
    replaced = true;
  }
  if (!replaced) {
    p.health_checks.push_back(std::move(parsed));
    p.health_check_objects.push_back(stored);
  }
  if (auto v = health::validate_health_checks(p.health_checks); !v)
    return refused(Refusal::kInvalidInput, v.error());
  p.writes.push_back(state_write::PutHealthCheck{std::move(stored)});
  return p;
}

Result<Proposal> Catalog::propose_put_health_check(const nlohmann::json& object) const {
  if (!store_) return refuse(Refusal::kConflict, "no state database is configured");
  health::IgnoredFields ignored;
  auto parsed = health::parse_health_check(object, "", &ignored);
  if (!parsed) return refused(Refusal::kInvalidInput, parsed.error());
  std::vector<std::string> notes;
  for (auto& w : health::ignored_field_warnings(ignored))
    notes.push_back("health check " + parsed->id + ": " + w);
  // The version is this server's count, whatever the object says (a Route 53 listing's own
  // counter is ignored, with the warning above); reference and tags stay with the check.
  nlohmann::json stored = object;
  int64_t version = 1;
  if (auto i = check_index(parsed->id)) {
    const nlohmann::json& current = check_objects_[*i];
    version = health_check_version(current) + 1;
    for (const char* key : {"CallerReference", "Tags"})
      if (!stored.contains(key) && current.contains(key)) stored[key] = current[key];
  }
  stored["HealthCheckVersion"] = version;
  return propose_check_object(std::move(stored), std::move(parsed).value(), std::move(notes));
}

Result<Proposal> Catalog::propose_create_health_check(const nlohmann::json& body) const {
  if (!store_) return refuse(Refusal::kConflict, "no state database is configured");
  if (!body.is_object()) return refuse(Refusal::kInvalidInput, "must be an object", "/");
  if (auto s = reject_unknown_fields(body, "", {"CallerReference", "HealthCheckConfig"}); !s)
    return refused(Refusal::kInvalidInput, s.error());
  if (!body.contains("CallerReference"))
    return refuse(Refusal::kInvalidInput, "missing \"CallerReference\"", "/CallerReference");
  if (!body.contains("HealthCheckConfig"))
    return refuse(Refusal::kInvalidInput, "missing \"HealthCheckConfig\"", "/HealthCheckConfig");
  if (body["HealthCheckConfig"].is_object() && body["HealthCheckConfig"].contains("Id"))
    return refuse(Refusal::kInvalidInput,
                  "not allowed: the id is generated (to choose one, give \"Id\" beside "
                  "\"HealthCheckConfig\")",
                  "/HealthCheckConfig/Id");
  std::set<std::string> ids;
  for (const auto& c : checks_) ids.insert(c.id);
  std::string id;
  do {
    id = new_health_check_id();
  } while (ids.count(id));
  nlohmann::json stored{{"Id", id},
                        {"CallerReference", body["CallerReference"]},
                        {"HealthCheckConfig", body["HealthCheckConfig"]}};
  health::IgnoredFields ignored;
  auto parsed = health::parse_health_check(stored, "", &ignored);
  if (!parsed) return refused(Refusal::kInvalidInput, parsed.error());
  const std::string reference = body["CallerReference"].get<std::string>();
  for (size_t i = 0; i < check_objects_.size(); ++i) {
    const auto ref = check_objects_[i].find("CallerReference");
    if (ref == check_objects_[i].end() || *ref != reference) continue;
    health::HealthCheckConfig same = *parsed;
    same.id = checks_[i].id;
    if (!(same == checks_[i]))
      return refuse(Refusal::kHealthCheckExists,
                    "health check \"" + checks_[i].id + "\" was created with CallerReference \"" +
                        reference + "\" and other settings",
                    "/CallerReference");
    Proposal p = base();  // the same request again: the check it created, nothing to write
    p.health_check_id = checks_[i].id;
    return p;
  }
  std::vector<std::string> notes;
  for (auto& w : health::ignored_field_warnings(ignored))
    notes.push_back("health check " + id + ": " + w);
  stored["HealthCheckVersion"] = 1;
  return propose_check_object(std::move(stored), std::move(parsed).value(), std::move(notes));
}

Result<Proposal> Catalog::propose_update_health_check(const std::string& id,
                                                      const nlohmann::json& body) const {
  if (!store_) return refuse(Refusal::kConflict, "no state database is configured");
  auto at = check_index(id);
  if (!at) return refuse(Refusal::kNoSuchHealthCheck, "no health check with id \"" + id + "\"");
  if (!body.is_object()) return refuse(Refusal::kInvalidInput, "must be an object", "/");
  const nlohmann::json& current = check_objects_[*at];
  const int64_t version = health_check_version(current);
  if (body.contains("HealthCheckVersion")) {
    auto given = read_json_integer(body["HealthCheckVersion"], "/HealthCheckVersion", 1,
                                   std::numeric_limits<int64_t>::max());
    if (!given) return refused(Refusal::kInvalidInput, given.error());
    if (*given != version)
      return refuse(Refusal::kVersionMismatch,
                    "health check \"" + id + "\" is at version " + std::to_string(version) +
                        ", not " + std::to_string(*given) + " (it changed since it was read)",
                    "/HealthCheckVersion");
  }
  for (const char* fixed : {"Id", "Type", "CallerReference", "HealthCheckConfig", "Tags"})
    if (body.contains(fixed))
      return refuse(Refusal::kInvalidInput,
                    std::string(fixed) == "Tags"
                        ? "not changed by an update (ChangeTagsForResource: POST /v1/tags/...)"
                        : "cannot be changed by an update; give the fields to change at the top",
                    "/" + std::string(fixed));
  nlohmann::json config = config_of(current);
  if (body.contains("ResetElements")) {
    const nlohmann::json& reset = body["ResetElements"];
    if (!reset.is_array())
      return refuse(Refusal::kInvalidInput, "must be an array", "/ResetElements");
    for (size_t i = 0; i < reset.size(); ++i) {
      const std::string where = "/ResetElements/" + std::to_string(i);
      const std::string name = reset[i].is_string() ? reset[i].get<std::string>() : "";
      if (name != "FullyQualifiedDomainName" && name != "Regions" && name != "ResourcePath" &&
          name != "ChildHealthChecks")
        return refuse(Refusal::kInvalidInput,
                      "must be FullyQualifiedDomainName, Regions, ResourcePath or "
                      "ChildHealthChecks",
                      where);
      if (body.contains(name))
        return refuse(Refusal::kInvalidInput, "\"" + name + "\" is both reset and given", where);
      config.erase(name);
    }
  }
  for (const auto& [key, value] : body.items())
    if (key != "HealthCheckVersion" && key != "ResetElements") config[key] = value;
  // Checked as the flat object the request's fields are in, so errors name their paths.
  nlohmann::json flat = config;
  flat["Id"] = id;
  health::IgnoredFields ignored;
  auto parsed = health::parse_health_check(flat, "", &ignored);
  if (!parsed) return refused(Refusal::kInvalidInput, parsed.error());
  std::vector<std::string> notes;
  for (auto& [name, field] : ignored)
    if (body.contains(name))  // the request's own, not those the stored check carried before
      notes.push_back("health check " + id + ": " +
                      health::ignored_field_warnings({{name, field}}).front());
  nlohmann::json stored = current;
  if (current.contains("HealthCheckConfig")) {
    stored["HealthCheckConfig"] = std::move(config);
  } else {
    stored = std::move(config);
    for (std::string_view key : kOuterFields)
      if (current.contains(std::string(key))) stored[std::string(key)] = current[std::string(key)];
  }
  stored["HealthCheckVersion"] = version + 1;
  return propose_check_object(std::move(stored), std::move(parsed).value(), std::move(notes));
}

Result<ResourceTags> Catalog::tags_of(std::string_view resource_type, const std::string& id) const {
  if (resource_type == "hostedzone") {
    auto it = zones_.find(id);
    if (it == zones_.end())
      return refuse(Refusal::kNoSuchZone, "no hosted zone with id \"" + id + "\"");
    return it->second.info.tags;
  }
  if (resource_type != "healthcheck")
    return refuse(Refusal::kInvalidInput, "must be healthcheck or hostedzone", "ResourceType");
  auto at = check_index(id);
  if (!at) return refuse(Refusal::kNoSuchHealthCheck, "no health check with id \"" + id + "\"");
  const nlohmann::json& object = check_objects_[*at];
  if (!object.contains("Tags")) return ResourceTags{};
  auto tags = tags_from_json(object["Tags"], "/Tags");  // checked when it was stored
  if (!tags) return refused(Refusal::kInternal, tags.error());
  return std::move(tags).value();
}

Result<Proposal> Catalog::propose_change_tags(std::string_view resource_type, const std::string& id,
                                              const nlohmann::json& body) const {
  if (!store_) return refuse(Refusal::kConflict, "no state database is configured");
  if (!body.is_object()) return refuse(Refusal::kInvalidInput, "must be an object", "/");
  // ResourceType and ResourceId are in the path; a body that names them must agree.
  if (auto s = reject_unknown_fields(body, "",
                                     {"ResourceType", "ResourceId", "AddTags", "RemoveTagKeys"});
      !s)
    return refused(Refusal::kInvalidInput, s.error());
  for (const auto& [key, expected] :
       {std::pair<const char*, std::string>{"ResourceType", std::string(resource_type)},
        std::pair<const char*, std::string>{"ResourceId", id}})
    if (body.contains(key) && body[key] != expected)
      return refuse(Refusal::kInvalidInput,
                    "is not the resource of the request's path (" + expected + ")",
                    "/" + std::string(key));
  auto current = tags_of(resource_type, id);
  if (!current) return current.error();
  ResourceTags tags = *current;
  ResourceTags add;
  if (body.contains("AddTags")) {
    auto parsed = tags_from_json(body["AddTags"], "/AddTags");
    if (!parsed) return refused(Refusal::kInvalidInput, parsed.error());
    add = std::move(parsed).value();
  }
  if (body.contains("RemoveTagKeys")) {
    const nlohmann::json& keys = body["RemoveTagKeys"];
    if (!keys.is_array() || keys.size() > kMaxTagsPerResource)
      return refuse(Refusal::kInvalidInput,
                    "must be an array of at most " + std::to_string(kMaxTagsPerResource) + " keys",
                    "/RemoveTagKeys");
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string where = "/RemoveTagKeys/" + std::to_string(i);
      auto key = read_tag_key(keys[i], where);
      if (!key) return refused(Refusal::kInvalidInput, key.error());
      if (add.count(*key))
        return refuse(Refusal::kInvalidInput, "tag key \"" + *key + "\" is also in AddTags", where);
      tags.erase(*key);
    }
  }
  for (auto& [key, value] : add) tags[key] = value;
  if (tags.size() > kMaxTagsPerResource)
    return refuse(Refusal::kInvalidInput,
                  "a " + std::string(resource_type) + " has at most " +
                      std::to_string(kMaxTagsPerResource) + " tags; this would make " +
                      std::to_string(tags.size()),
                  "/AddTags");
  if (resource_type == "hostedzone") {
    Proposal p = base();
    p.zones.at(id).info.tags = tags;
    p.writes.push_back(state_write::SetZoneTags{id, std::move(tags)});
    return p;
  }
  const size_t at = *check_index(id);
  nlohmann::json stored = check_objects_[at];
  if (tags.empty())
    stored.erase("Tags");
  else
    stored["Tags"] = tags_to_json(tags);
  return propose_check_object(std::move(stored), checks_[at], {});
}

Result<Proposal> Catalog::propose_delete_health_check(const std::string& id) const {
  if (!store_) return refuse(Refusal::kConflict, "no state database is configured");
  Proposal p = base();
  size_t at = p.health_checks.size();
  for (size_t i = 0; i < p.health_checks.size(); ++i)
    if (p.health_checks[i].id == id) at = i;
  if (at == p.health_checks.size())
    return refuse(Refusal::kNoSuchHealthCheck, "no health check with id \"" + id + "\"");
  for (const auto& c : p.health_checks)
    for (const auto& child : c.child_health_checks)
      if (child == id)
        return refuse(Refusal::kConflict,
                      "health check \"" + id + "\" is a child of \"" + c.id + "\"");
  for (const auto& [zid, entry] : p.zones)
    for (const auto& rs : record_sets_of(*entry.zone))
      if (rs.health_check_id == id)
        return refuse(Refusal::kConflict, "health check \"" + id + "\" is in use by record set " +
                                              describe(rs) + " in zone " +
                                              entry.info.origin.to_text());
  p.health_checks.erase(p.health_checks.begin() + static_cast<std::ptrdiff_t>(at));
  p.health_check_objects.erase(p.health_check_objects.begin() + static_cast<std::ptrdiff_t>(at));
  p.writes.push_back(state_write::DeleteHealthCheck{id});
  return p;
}

Status Catalog::commit(Proposal& proposal) {
  if (shared_) return commit_shared(proposal);
  if (store_) {
    for (const auto& step : proposal.writes) {
      auto s = std::visit([&](const auto& w) { return write_to(*store_, w, proposal); }, step);
      if (!s) return s;
    }
  }
  zones_ = proposal.zones;
  check_objects_ = proposal.health_check_objects;
  checks_ = proposal.health_checks;
  return Ok{};
}

void Catalog::cache_shared_state() {
  // etcd holds the state; the cache only spares a restart the wait. A failed write is logged
  // and the next apply writes the whole state again.
  auto s = store_->set_fleet_cache(
      state::FleetCache{shared_state_.revision, shared_state_text(shared_state_)});
  if (!s) {
    if (auto log = spdlog::get("config"))
      log->error("fleet cache not written (a restart waits for etcd): {}", s.error().to_string());
  }
}

Status Catalog::commit_shared(Proposal& p) {
  if (p.shared_next) {
    shared_state_ = std::move(*p.shared_next);
    p.shared_next.reset();
  } else if (!p.writes.empty()) {
    // Ids the store would pick in single-host mode, and the change record, are chosen here.
    std::optional<state::ChangeInfo> change;
    for (const auto& step : p.writes) {
      if (const auto* create = std::get_if<state_write::CreateZone>(&step)) {
        std::string id;
        do {
          id = state::random_id('Z', 13);
        } while (p.zones.count(id));
        ZoneEntry entry = p.zones.at(create->placeholder);
        p.zones.erase(create->placeholder);
        entry.info.id = id;
        entry.info.created_at_ms = state::now_ms();
        p.zones[id] = std::move(entry);
        p.change_zone_id = id;
      } else if (const auto* batch = std::get_if<state_write::ApplyChangeBatch>(&step)) {
        change =
            state::new_change(batch->zone_id, batch->batch.comment, batch->batch.changes.size());
      } else if (const auto* replace = std::get_if<state_write::ReplaceRecordSets>(&step)) {
        change = state::new_change(replace->zone_id, replace->comment, replace->record_sets.size());
      }
    }
    std::map<std::string, std::string> next;
    for (const auto& [id, entry] : p.zones) {
      const std::string key = zone_key(id);
      auto current = zones_.find(id);
      auto text = shared_state_.values.find(key);
      if (current != zones_.end() && current->second.zone == entry.zone &&
          current->second.info.comment == entry.info.comment &&
          current->second.info.tags == entry.info.tags && text != shared_state_.values.end())
        next[key] = text->second;
      else
        next[key] = zone_value(entry.info, *entry.zone);
    }
    for (const auto& object : p.health_check_objects)
      next[check_key(object["Id"].get<std::string>())] = check_value(object);
    auto written = shared_->write(shared_state_, next, change ? &*change : nullptr);
    if (!written) return written.error();
    if (!written->has_value()) {
      p.conflict = true;
      return make_error("the shared state changed while this change was validated");
    }
    shared_state_ = SharedState{**written, **written, std::move(next)};
    p.change = change;
  }
  cache_shared_state();
  zones_ = p.zones;
  check_objects_ = p.health_check_objects;
  checks_ = p.health_checks;
  return Ok{};
}

Status Catalog::mark_insync(Proposal& proposal) {
  if (!store_ || !proposal.change || shared_) return Ok{};
  if (auto s = store_->mark_insync_through(proposal.change->id); !s) return s;
  proposal.change->status = state::ChangeStatus::kInsync;
  return Ok{};
}

Status Catalog::mark_all_insync() {
  if (!store_ || shared_) return Ok{};
  auto latest = store_->list_changes(1);
  if (!latest) return latest.error();
  if (latest->empty()) return Ok{};
  return store_->mark_insync_through(latest->front().id);
}

Result<std::optional<state::ChangeInfo>> Catalog::find_change(std::string_view change_id) const {
  if (!store_) return std::optional<state::ChangeInfo>{};
  return store_->find_change(change_id);
}

}  // namespace meridian::manage
