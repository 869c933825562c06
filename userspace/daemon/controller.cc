// Controller: validate whole, commit, then install; Route 53-shaped JSON for the control API.
#include "daemon/controller.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <spdlog/spdlog.h>

#include "config/zone_loading.h"
#include "dns/rdata_text.h"
#include "dns/types.h"
#include "manage/zone_text.h"
#include "zone/master_file.h"
#include "zone/route53_json.h"

namespace meridian::daemon {
namespace {

using manage::Refusal;
using nlohmann::json;

std::string iso_time(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Route 53 prints ids with their resource prefix; both forms are accepted.
std::string strip_prefix(const std::string& id, std::string_view prefix) {
  return id.starts_with(prefix) ? id.substr(prefix.size()) : id;
}

// The checks this process probes. A fleet edge probes the checks assigned to its vantage label
// and no CALCULATED check: the fleet's vote combines the decided children (fleet/health_vote.h).
std::vector<health::HealthCheckConfig> probed_here(
    const std::vector<health::HealthCheckConfig>& all, const config::DaemonConfig& config) {
  if (!config.cluster) return all;
  std::vector<health::HealthCheckConfig> out;
  for (const auto& c : all)
    if (c.type != health::CheckType::kCalculated && c.probed_from(config.cluster->vantage))
      out.push_back(c);
  return out;
}

// A check as the API shows it: with its HealthCheckVersion (1 for the config file's).
json with_version(const json& object) {
  json out = object;
  out["HealthCheckVersion"] = manage::health_check_version(object);
  return out;
}

Error refusal(Refusal r, std::string what, std::string where = {}) {
  return refused(r, make_error(std::move(what), std::move(where)));
}

}  // namespace

Result<std::unique_ptr<Controller>> Controller::open(const config::DaemonConfig& config,
                                                     ControllerDeps deps) {
  if (!config.state.database.empty()) {
    const std::string& path = config.state.database;
    size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      std::string dir = path.substr(0, slash);
      if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
        return make_error(std::string("cannot create the state directory: ") + std::strerror(errno),
                          dir);
    }
  }
  auto catalog = deps.fleet ? manage::Catalog::open_fleet(config.state.database, deps.fleet)
                            : manage::Catalog::open(config.state.database);
  if (!catalog) return catalog.error();
  return std::unique_ptr<Controller>(
      new Controller(config, std::move(deps), std::move(catalog).value()));
}

Status Controller::check_config(const config::DaemonConfig& config) {
  auto zones = config::load_zones(config);
  if (!zones) return zones.error();
  // The database is read, never written: a proposal is computed and dropped.
  const bool exists =
      !config.state.database.empty() && access(config.state.database.c_str(), F_OK) == 0;
  // A fleet edge's cache is not read here: what it holds is etcd's to judge.
  auto catalog = manage::Catalog::open(exists && !config.cluster ? config.state.database : "");
  if (!catalog) return catalog.error();
  auto proposal = (*catalog)->propose_config(config, **zones);
  if (!proposal) return proposal.error();
  GeoDatabases geo;
  auto prepared = prepare_gslb(config, proposal->zone_set(), geo, nullptr);
  if (!prepared) return prepared.error();
  if (auto token = config::read_control_token(config); !token) return token.error();
  return Ok{};
}

Status Controller::apply_config(const config::DaemonConfig& next) {
  std::lock_guard lock(mutex_);
  auto zones = config::load_zones(next);
  if (!zones) return zones.error();
  auto proposal = catalog_->propose_config(next, **zones);
  if (!proposal) return proposal.error();
  auto installed = commit_and_install(*proposal, next, /*health_changed=*/true);
  if (!installed) return installed.error();
  for (const auto& note : proposal->notes) spdlog::get("config")->info("{}", note);
  config_ = next;
  if (*installed) mark_all_insync();  // acknowledged before a crash, now served
  return Ok{};
}

int64_t Controller::shared_revision() {
  std::lock_guard lock(mutex_);
  return catalog_->shared_state().revision;
}

void Controller::apply_shared(manage::SharedState next) {
  std::lock_guard lock(mutex_);
  (void)apply_shared_locked(std::move(next));
}

Status Controller::apply_shared_locked(manage::SharedState next) {
  const manage::SharedState& current = catalog_->shared_state();
  // Head revisions only grow: an equal one is served already (this edge wrote it, or a restart
  // found its cache current); an older one is a snapshot the watch took before this edge's own
  // write went in.
  if (next.head_revision != 0 && next.head_revision <= current.head_revision) return Ok{};
  const int64_t revision = next.revision;
  auto proposal = catalog_->propose_shared(std::move(next));
  if (!proposal) {
    shared_apply_failures_++;
    spdlog::get("fleet")->error("shared revision {} cannot be served, keeping revision {}: {}",
                                revision, current.revision, proposal.error().to_string());
    return proposal.error();
  }
  auto installed = commit_and_install(*proposal, config_, /*health_changed=*/true);
  if (!installed) {
    shared_apply_failures_++;
    spdlog::get("fleet")->error("shared revision {} not applied: {}", revision,
                                installed.error().to_string());
    return installed.error();
  }
  spdlog::get("fleet")->info("serving shared revision {} ({} zones, {} health checks)", revision,
                             catalog_->zones().size(), catalog_->health_checks().size());
  return Ok{};
}

std::optional<Error> Controller::catch_up_for_write() {
  if (!deps_.fleet) return std::nullopt;
  // Validate against the fleet's newest state, not this edge's (the watch may lag by a few
  // milliseconds): a zone or record created through another edge just before must be seen.
  auto head = deps_.fleet->head_revision();
  if (!head) return refused(Refusal::kUnavailable, head.error());
  if (*head == catalog_->shared_state().head_revision) return std::nullopt;
  auto latest = deps_.fleet->read_state();
  if (!latest) return refused(Refusal::kUnavailable, latest.error());
  (void)apply_shared_locked(std::move(latest).value());
  return std::nullopt;
}

Result<bool> Controller::propose_and_commit(
    const std::function<Result<manage::Proposal>()>& propose, manage::Proposal& p,
    bool health_changed, Refusal invalid) {
  // Enough for a burst of writers; each round reads the new state first.
  constexpr int kMaxRounds = 8;
  for (int round = 0;; ++round) {
    auto proposal = propose();
    if (!proposal) return proposal.error();
    p = std::move(*proposal);
    // Nothing to write (a create repeated with its CallerReference): served as it is.
    if (p.writes.empty() && !p.shared_next) return true;
    auto installed = commit_and_install(p, config_, health_changed, invalid);
    if (!p.conflict || !deps_.fleet) return installed;
    if (round + 1 == kMaxRounds)
      return refusal(Refusal::kUnavailable,
                     "the shared state kept changing while this change was validated; try again");
    auto latest = deps_.fleet->read_state();
    if (!latest) return refused(Refusal::kUnavailable, latest.error());
    (void)apply_shared_locked(std::move(latest).value());
  }
}

void Controller::mark_all_insync() {
  (void)catalog_->mark_all_insync();
}

void Controller::republish() {
  std::lock_guard lock(mutex_);
  if (!deps_.fast_path) return;
  auto snapshot = deps_.store->snapshot();
  if (!deps_.fast_path->publish(*snapshot)) {
    publish_failures_++;
    return;
  }
  mark_all_insync();
}

Result<bool> Controller::commit_and_install(manage::Proposal& proposal,
                                            const config::DaemonConfig& config, bool health_changed,
                                            Refusal invalid) {
  auto prepared = prepare_gslb(config, proposal.zone_set(), geo_databases_, deps_.health_view);
  if (!prepared) return refused(invalid, prepared.error());
  if (auto s = catalog_->commit(proposal); !s) {
    if (proposal.conflict) return refused(Refusal::kUnavailable, s.error());
    if (deps_.fleet) {
      // etcd could not take it: no quorum reachable. Never queued locally.
      storage_errors_++;
      spdlog::get("fleet")->error("write refused: {}", s.error().to_string());
      return refused(Refusal::kUnavailable, s.error());
    }
    // The database could not take it (disk full, I/O error, locked): nothing about the
    // request is wrong, so the client may retry; the operator must hear of it.
    storage_errors_++;
    spdlog::get("config")->error("state database write failed, change not applied: {}",
                                 s.error().to_string());
    return refused(Refusal::kUnavailable, s.error());
  }
  // Committed: from here on the change is kept whatever happens to this process.
  if (health_changed && deps_.health) {
    if (auto s = deps_.health->apply(config, probed_here(proposal.health_checks, config)); !s)
      spdlog::get("health")->error("health checks not applied: {}", s.error().to_string());
  }
  deps_.store->replace(prepared->zones);
  refresh_zone_ids();
  if (health_changed) log_gslb_inputs(config, proposal.health_checks.size(), *prepared);
  const bool in_sync = deps_.fast_path ? deps_.fast_path->publish(*prepared->zones) : true;
  if (!in_sync) publish_failures_++;
  if (deps_.fleet) {
    // Served here; INSYNC once every live edge says the same (get_change asks etcd).
    deps_.fleet->applied(catalog_->shared_state().revision);
    if (health_changed) deps_.fleet->set_checks(proposal.health_checks);
    return false;
  }
  if (in_sync) (void)catalog_->mark_insync(proposal);
  return in_sync;
}

void Controller::refresh_zone_ids() {
  auto ids = std::make_shared<std::map<std::string, std::string>>();
  for (const auto& [id, entry] : catalog_->zones()) (*ids)[entry.info.origin.key()] = id;
  zone_ids_.store(std::move(ids));
}

std::string Controller::zone_id_for(const dns::Name& qname) const {
  auto ids = zone_ids_.load();
  if (!ids) return "-";
  for (dns::Name n = qname;; n = n.strip_left()) {
    auto it = ids->find(n.key());
    if (it != ids->end()) return it->second;
    if (n.label_count() == 0) break;
  }
  return "-";
}

std::string Controller::zone_id_of_origin(const dns::Name& origin) const {
  auto ids = zone_ids_.load();
  if (!ids) return "-";
  auto it = ids->find(origin.key());
  return it == ids->end() ? "-" : it->second;
}

Controller::Counters Controller::counters() const {
  return Counters{batches_applied_.load(), batches_rejected_.load(),
                  changes_applied_.load(), publish_failures_.load(),
                  storage_errors_.load(),  shared_apply_failures_.load()};
}

size_t Controller::zone_count() {
  std::lock_guard lock(mutex_);
  return catalog_->zones().size();
}

std::optional<std::string> Controller::resolve(const std::string& id_or_name) const {
  return catalog_->resolve_zone(strip_prefix(id_or_name, "/hostedzone/"));
}

json Controller::zone_json(const manage::ZoneEntry& entry) const {
  return json{{"Id", "/hostedzone/" + entry.info.id},
              {"Name", entry.info.origin.to_text()},
              {"CallerReference", entry.info.id},
              {"Config", {{"Comment", entry.info.comment}, {"PrivateZone", false}}},
              {"ResourceRecordSetCount", entry.zone->record_set_count()},
              {"CreatedBy", std::string(state::zone_origin_name(entry.info.created_by))},
              {"CreatedAt", iso_time(entry.info.created_at_ms)}};
}

json Controller::list_zones() {
  std::lock_guard lock(mutex_);
  json list = json::array();
  for (const auto& [id, entry] : catalog_->zones()) list.push_back(zone_json(entry));
  return json{{"HostedZones", list}, {"IsTruncated", false}, {"Durable", catalog_->durable()}};
}

Result<json> Controller::get_zone(const std::string& id_or_name) {
  std::lock_guard lock(mutex_);
  auto id = resolve(id_or_name);
  if (!id) return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id_or_name + "\"");
  const auto& entry = catalog_->zones().at(*id);
  json out{{"HostedZone", zone_json(entry)}};
  if (auto soa = entry.zone->soa_fields()) out["SOASerial"] = soa->serial;
  json ns = json::array();
  if (const auto* node = entry.zone->find(entry.info.origin))
    if (const auto* rs = node->find(dns::rrtype::NS))
      for (const auto& rdata : rs->rdatas) ns.push_back(dns::rdata_to_text(dns::rrtype::NS, rdata));
  out["DelegationSet"] = {{"NameServers", ns}};
  return out;
}

Result<json> Controller::create_zone(const json& body) {
  if (!body.is_object() || !body.contains("Name") || !body["Name"].is_string())
    return refusal(Refusal::kInvalidInput, "\"Name\" is required (the zone's domain name)",
                   "/Name");
  for (const auto& [key, value] : body.items())
    if (key != "Name" && key != "Comment" && key != "ZoneFile" && key != "ResourceRecordSets" &&
        key != "CallerReference" && key != "HostedZoneConfig")
      return refusal(Refusal::kInvalidInput, "unknown field", "/" + key);
  std::string name_text = body["Name"].get<std::string>();
  if (!name_text.empty() && name_text.back() != '.') name_text += '.';
  auto origin = dns::Name::from_text(name_text);
  if (!origin || origin->label_count() == 0)
    return refusal(Refusal::kInvalidInput, "not a valid zone name", "/Name");
  std::string comment;
  if (body.contains("Comment")) {
    if (!body["Comment"].is_string())
      return refusal(Refusal::kInvalidInput, "must be a string", "/Comment");
    comment = body["Comment"].get<std::string>();
  }
  std::optional<zone::Zone> contents;
  if (body.contains("ZoneFile")) {
    if (!body["ZoneFile"].is_string())
      return refusal(Refusal::kInvalidInput, "must be a string", "/ZoneFile");
    auto z = zone::parse_master_file(body["ZoneFile"].get<std::string>(), *origin, "ZoneFile");
    if (!z) return refused(Refusal::kInvalidInput, z.error());
    contents = std::move(z).value();
  } else if (body.contains("ResourceRecordSets")) {
    auto z = zone::parse_route53_json(
        json{{"ResourceRecordSets", body["ResourceRecordSets"]}}.dump(), *origin, "request");
    if (!z) return refused(Refusal::kInvalidInput, z.error());
    contents = std::move(z).value();
  }
  std::lock_guard lock(mutex_);
  if (auto e = catch_up_for_write()) return *e;
  manage::Proposal p;
  auto installed = propose_and_commit(
      [&] { return catalog_->propose_create_zone(*origin, comment, contents); }, p, false);
  if (!installed) return installed.error();
  spdlog::get("config")->info("hosted zone {} created ({})", origin->to_text(), p.change_zone_id);
  return json{{"HostedZone", zone_json(catalog_->zones().at(p.change_zone_id))},
              {"InSync", *installed}};
}

Result<json> Controller::delete_zone(const std::string& id_or_name) {
  std::lock_guard lock(mutex_);
  if (auto e = catch_up_for_write()) return *e;
  auto id = resolve(id_or_name);
  if (!id) return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id_or_name + "\"");
  manage::Proposal p;
  auto installed = propose_and_commit([&] { return catalog_->propose_delete_zone(*id); }, p, false);
  if (!installed) return installed.error();
  for (const auto& note : p.notes) spdlog::get("config")->info("{}", note);
  return json{{"Deleted", "/hostedzone/" + *id}, {"InSync", *installed}};
}

Result<json> Controller::list_record_sets(const std::string& id_or_name,
                                          const manage::ListRequest& request) {
  std::lock_guard lock(mutex_);
  auto id = resolve(id_or_name);
  if (!id) return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id_or_name + "\"");
  const auto& entry = catalog_->zones().at(*id);
  auto page = manage::list_record_sets_page(manage::record_sets_of(*entry.zone), entry.info.origin,
                                            request);
  if (!page) return refused(Refusal::kInvalidInput, page.error());
  return std::move(page).value();
}

Result<json> Controller::change_json(const state::ChangeInfo& change) const {
  json info{{"Id", "/change/" + change.id},
            {"Status", std::string(state::change_status_name(change.status))},
            {"SubmittedAt", iso_time(change.submitted_at_ms)},
            {"HostedZoneId", change.zone_id},
            {"Changes", change.change_count}};
  if (!change.comment.empty()) info["Comment"] = change.comment;
  return json{{"ChangeInfo", info}};
}

Result<json> Controller::change_record_sets(const std::string& id_or_name, const json& batch) {
  std::lock_guard lock(mutex_);
  if (auto e = catch_up_for_write()) {
    batches_rejected_++;
    return *e;
  }
  auto id = resolve(id_or_name);
  if (!id) {
    batches_rejected_++;
    return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id_or_name + "\"");
  }
  manage::Proposal p;
  auto installed = propose_and_commit([&] { return catalog_->propose_change_batch(*id, batch); }, p,
                                      false, Refusal::kInvalidChangeBatch);
  if (!installed) {
    batches_rejected_++;
    return installed.error();
  }
  batches_applied_++;
  changes_applied_ += p.change ? p.change->change_count : 0;
  if (!p.change) return refusal(Refusal::kInternal, "the change was not recorded");
  spdlog::get("config")->info("change {} applied to {}: {} changes, {}", p.change->id,
                              catalog_->zones().at(*id).info.origin.to_text(),
                              p.change->change_count, state::change_status_name(p.change->status));
  return change_json(*p.change);
}

Result<json> Controller::get_change(const std::string& change_id) {
  if (deps_.fleet) {
    // The fleet's history is etcd's; INSYNC: every live edge serves the committing revision.
    auto found = deps_.fleet->find_change(strip_prefix(change_id, "/change/"));
    if (!found) return refused(Refusal::kUnavailable, found.error());
    if (!*found) return refusal(Refusal::kNoSuchChange, "no change with id \"" + change_id + "\"");
    auto all = deps_.fleet->all_edges_serve((*found)->revision);
    if (!all) return refused(Refusal::kUnavailable, all.error());
    state::ChangeInfo change = (*found)->change;
    change.status = *all ? state::ChangeStatus::kInsync : state::ChangeStatus::kPending;
    return change_json(change);
  }
  std::lock_guard lock(mutex_);
  if (!catalog_->durable())
    return refusal(Refusal::kNoSuchChange, "no state database is configured");
  auto change = catalog_->find_change(strip_prefix(change_id, "/change/"));
  if (!change) return refused(Refusal::kInternal, change.error());
  if (!*change) return refusal(Refusal::kNoSuchChange, "no change with id \"" + change_id + "\"");
  return change_json(**change);
}

Result<std::string> Controller::export_zone(const std::string& id_or_name,
                                            const std::string& format_text) {
  auto format = manage::zone_format_from_text(format_text);
  if (!format) return refused(Refusal::kInvalidInput, format.error());
  std::lock_guard lock(mutex_);
  auto id = resolve(id_or_name);
  if (!id) return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id_or_name + "\"");
  const auto& z = *catalog_->zones().at(*id).zone;
  if (*format == manage::ZoneFormat::kRoute53Json)
    return manage::zone_to_route53_json(z).dump(2) + "\n";
  auto text = manage::zone_to_master_file(z);
  if (!text) return refused(Refusal::kConflict, text.error());
  return *text;
}

Result<json> Controller::import_zone(const std::string& id_or_name, const std::string& format_text,
                                     const std::string& text) {
  auto format = manage::zone_format_from_text(format_text);
  if (!format) return refused(Refusal::kInvalidInput, format.error());
  std::lock_guard lock(mutex_);
  if (auto e = catch_up_for_write()) return *e;
  auto id = resolve(id_or_name);
  std::optional<dns::Name> origin;
  if (id) {
    origin = catalog_->zones().at(*id).info.origin;
  } else {
    std::string text = id_or_name;
    if (!text.empty() && text.back() != '.') text += '.';
    auto n = dns::Name::from_text(text);
    if (!n || n->label_count() == 0 || id_or_name.starts_with("/hostedzone/"))
      return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id_or_name + "\"");
    origin = *n;
  }
  auto contents = manage::zone_from_text(*format, text, *origin, "import");
  if (!contents) return refused(Refusal::kInvalidInput, contents.error());
  manage::Proposal p;
  auto installed = propose_and_commit(
      [&] {
        return id ? catalog_->propose_replace_zone(*id, *contents, "import")
                  : catalog_->propose_create_zone(*origin, "imported", *contents);
      },
      p, false);
  if (!installed) return installed.error();
  const auto& entry = catalog_->zones().at(p.change_zone_id);
  json out{{"HostedZone", zone_json(entry)}, {"InSync", *installed}, {"Created", !id}};
  if (p.change) out["ChangeInfo"] = (*change_json(*p.change))["ChangeInfo"];
  return out;
}

json Controller::list_health_checks() {
  std::lock_guard lock(mutex_);
  json list = json::array();
  for (const auto& object : catalog_->health_check_objects()) list.push_back(with_version(object));
  return json{{"HealthChecks", list}, {"IsTruncated", false}};
}

Result<json> Controller::get_health_check(const std::string& id) {
  std::lock_guard lock(mutex_);
  for (const auto& object : catalog_->health_check_objects())
    if (object.value("Id", "") == id) return json{{"HealthCheck", with_version(object)}};
  return refusal(Refusal::kNoSuchHealthCheck, "no health check with id \"" + id + "\"");
}

Result<json> Controller::write_health_check(
    const std::function<Result<manage::Proposal>()>& propose, manage::Proposal& p) {
  if (auto e = catch_up_for_write()) return *e;
  auto installed = propose_and_commit(propose, p, /*health_changed=*/true);
  if (!installed) return installed.error();
  return health_check_answer(p, *installed);
}

Result<json> Controller::put_health_check(const json& object) {
  std::lock_guard lock(mutex_);
  manage::Proposal p;
  return write_health_check([&] { return catalog_->propose_put_health_check(object); }, p);
}

Result<json> Controller::create_health_check(const json& body) {
  std::lock_guard lock(mutex_);
  manage::Proposal p;
  auto answer = write_health_check([&] { return catalog_->propose_create_health_check(body); }, p);
  if (answer) {
    const bool created = !p.writes.empty();
    if (created) spdlog::get("config")->info("health check {} created", p.health_check_id);
    (*answer)["Created"] = created;
    (*answer)["Location"] = "/v1/healthchecks/" + p.health_check_id;
  }
  return answer;
}

Result<json> Controller::update_health_check(const std::string& id, const json& body) {
  std::lock_guard lock(mutex_);
  manage::Proposal p;
  return write_health_check([&] { return catalog_->propose_update_health_check(id, body); }, p);
}

json Controller::health_check_answer(const manage::Proposal& p, bool in_sync) const {
  for (const auto& note : p.notes) spdlog::get("config")->warn("{}", note);
  json out{{"InSync", in_sync}};
  for (const auto& object : catalog_->health_check_objects())
    if (object.value("Id", "") == p.health_check_id) out["HealthCheck"] = with_version(object);
  if (!p.notes.empty()) out["Warnings"] = p.notes;  // the Route 53 fields ignored
  return out;
}

Result<json> Controller::list_tags(const std::string& resource_type, const std::string& id) {
  std::lock_guard lock(mutex_);
  std::string resolved = id;
  if (resource_type == "hostedzone") {
    auto zone = resolve(id);
    if (!zone) return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id + "\"");
    resolved = *zone;
  }
  auto tags = catalog_->tags_of(resource_type, resolved);
  if (!tags) return tags.error();
  return json{
      {"ResourceTagSet",
       {{"ResourceType", resource_type}, {"ResourceId", resolved}, {"Tags", tags_to_json(*tags)}}}};
}

Result<json> Controller::change_tags(const std::string& resource_type, const std::string& id,
                                     const json& body) {
  std::string resolved = id;
  {
    std::lock_guard lock(mutex_);
    if (auto e = catch_up_for_write()) return *e;
    if (resource_type == "hostedzone") {
      auto zone = resolve(id);
      if (!zone) return refusal(Refusal::kNoSuchZone, "no hosted zone \"" + id + "\"");
      resolved = *zone;
    }
    manage::Proposal p;
    // Tags do not change how a check probes: the checker is left as it is.
    auto installed = propose_and_commit(
        [&] { return catalog_->propose_change_tags(resource_type, resolved, body); }, p, false);
    if (!installed) return installed.error();
  }
  return list_tags(resource_type, resolved);
}

Result<json> Controller::delete_health_check(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (auto e = catch_up_for_write()) return *e;
  manage::Proposal p;
  auto installed =
      propose_and_commit([&] { return catalog_->propose_delete_health_check(id); }, p, true);
  if (!installed) return installed.error();
  return json{{"Deleted", id}, {"InSync", *installed}};
}

json Controller::health_status() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& c : catalog_->health_checks()) ids.push_back(c.id);
  }
  auto states =
      deps_.health ? deps_.health->snapshot() : std::map<std::string, health::CheckState>{};
  const auto votes = deps_.fleet ? deps_.fleet->votes() : std::map<std::string, fleet::Vote>{};
  json list = json::array();
  for (const auto& id : ids) {
    json j{{"Id", id}};
    if (auto v = votes.find(id); v != votes.end()) {
      // The fleet's decision; "Status" below stays this edge's own probe state.
      j["FleetStatus"] = v->second.healthy ? "healthy" : "unhealthy";
      j["Vote"] = {{"HealthyObservers", v->second.healthy_observers},
                   {"Observers", v->second.observers},
                   {"Summary", v->second.describe()}};
    }
    auto it = states.find(id);
    if (it == states.end()) {
      j["Status"] = "unknown";
    } else {
      const auto& s = it->second;
      j["Status"] = std::string(health::status_name(s.status));
      j["LastResult"] =
          s.last_result ? json(*s.last_result ? "success" : "failure") : json(nullptr);
      j["LastFailureReason"] = s.last_failure_reason;
      j["LastLatencyMs"] = static_cast<double>(s.last_latency.count()) / 1000.0;
      j["ConsecutiveSuccesses"] = s.consecutive_successes;
      j["ConsecutiveFailures"] = s.consecutive_failures;
      j["Probes"] = s.probes;
      j["UpdatedAt"] = s.updated_at.time_since_epoch().count() == 0
                           ? json(nullptr)
                           : json(iso_time(to_ms(s.updated_at)));
    }
    list.push_back(j);
  }
  return json{{"HealthCheckStatuses", list}};
}

}  // namespace meridian::daemon
