// The fleet member's two threads: the session (lease, edge record, observations) and the watch
// (shared state, edges, observations), and the conditional write.
#include "fleet/fleet_member.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/json_parse.h"
#include "health/health_state.h"

namespace meridian::fleet {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

// After a failure the threads try again this soon (etcd elects a leader within about a second).
constexpr std::chrono::milliseconds kRetry{500};

// Observations written per transaction: one revision (one watch event batch on every edge)
// instead of one per check, and far below etcd's --max-txn-ops (128 by default).
constexpr size_t kObservationsPerTxn = 64;

std::shared_ptr<spdlog::logger> log() {
  auto l = spdlog::get("fleet");
  return l ? l : spdlog::default_logger();
}

int64_t ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Result<EtcdOptions> FleetMember::etcd_options(const config::ClusterSettings& s) {
  EtcdOptions o;
  o.endpoints = s.endpoints;
  o.ca_file = s.ca_file;
  o.cert_file = s.cert_file;
  o.key_file = s.key_file;
  o.username = s.username;
  if (!s.password_file.empty()) {
    auto password = config::read_secret_file(s.password_file, "etcd password");
    if (!password) return password.error();
    o.password = *password;
  }
  return o;
}

FleetMember::FleetMember(config::ClusterSettings settings, EtcdOptions etcd,
                         std::vector<std::string> webhooks)
    : settings_(std::move(settings)),
      etcd_(std::move(etcd)),
      webhooks_(std::move(webhooks)),
      started_at_(Clock::now()) {
  unreachable_since_ = started_at_;
  last_error_ = "not connected yet";
}

FleetMember::~FleetMember() {
  stop();
}

void FleetMember::start(FleetCallbacks callbacks, int64_t applied_revision) {
  callbacks_ = std::move(callbacks);
  {
    std::lock_guard lock(mutex_);
    applied_ = applied_revision;
  }
  session_thread_ = std::thread([this] { session_loop(); });
  watch_thread_ = std::thread([this] { watch_loop(); });
}

void FleetMember::stop() {
  if (stop_.exchange(true)) return;
  wake_.notify_all();
  if (session_thread_.joinable()) session_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  int64_t lease;
  {
    std::lock_guard lock(mutex_);
    lease = lease_;
    lease_ = 0;
  }
  // A clean stop leaves the fleet at once: the lease takes the edge record and observations.
  if (lease != 0) (void)etcd_.lease_revoke(lease);
}

void FleetMember::mark_connected() {
  if (!connected_.exchange(true)) {
    std::lock_guard lock(mutex_);
    if (ever_connected_)
      log()->info("etcd reachable again ({}); was unreachable since {}", etcd_.current_endpoint(),
                  health::rfc3339(unreachable_since_));
    else
      log()->info("connected to etcd ({})", etcd_.current_endpoint());
    ever_connected_ = true;
  }
}

void FleetMember::mark_unreachable(const Error& error) {
  {
    std::lock_guard lock(mutex_);
    last_error_ = error.to_string();
    if (!connected_.exchange(false)) return;
    unreachable_since_ = Clock::now();
    log()->warn("etcd unreachable: {} (serving the last applied state; writes refused)",
                last_error_);
  }
  revote();  // cut off: this edge decides from its own observations
}

std::string FleetMember::unreachable_reason() const {
  if (connected_.load()) return {};
  std::lock_guard lock(mutex_);
  return "etcd unreachable since " + health::rfc3339(unreachable_since_) + ": " + last_error_;
}

Status FleetMember::publish_edge_record(int64_t lease) {
  int64_t applied;
  {
    std::lock_guard lock(mutex_);
    applied = applied_;
  }
  std::string inputs;
  {
    std::lock_guard lock(mutex_);
    inputs = inputs_;
  }
  json record{{"Name", settings_.edge},
              {"Vantage", settings_.vantage},
              {"Applied", applied},
              {"Started", ms(started_at_)},
              {"Inputs", inputs}};
  if (auto s = etcd_.put(key(std::string(kEdgesPrefix) + settings_.edge), record.dump(), lease); !s)
    return s;
  std::lock_guard lock(mutex_);
  applied_reported_ = std::max(applied_reported_, applied);
  inputs_reported_ = inputs == inputs_;
  return Ok{};
}

Status FleetMember::publish_observations(std::vector<std::string>& checks, int64_t lease) {
  const size_t n = std::min(checks.size(), kObservationsPerTxn);
  std::vector<EtcdOp> ops;
  std::vector<std::pair<std::string, bool>> written;
  {
    std::lock_guard lock(mutex_);
    const int64_t at = ms(Clock::now());
    for (size_t i = 0; i < n; ++i) {
      auto it = own_.find(checks[i]);
      if (it == own_.end()) continue;
      json value{{"Healthy", it->second.healthy},
                 {"At", at},
                 {"Reason", it->second.reason},
                 {"Vantage", settings_.vantage}};
      ops.push_back(
          EtcdOp::put(key(std::string(kObservationsPrefix) + checks[i] + "/" + settings_.edge),
                      value.dump(), lease));
      written.emplace_back(checks[i], it->second.healthy);
    }
  }
  if (!ops.empty()) {
    auto result = etcd_.txn({}, ops);
    if (!result) return result.error();
  }
  checks.erase(checks.begin(), checks.begin() + static_cast<std::ptrdiff_t>(n));
  std::lock_guard lock(mutex_);
  for (const auto& [id, healthy] : written) {
    // A state observed while the write was under way is still to be written.
    if (auto it = own_.find(id); it != own_.end() && it->second.healthy == healthy)
      it->second.published = true;
  }
  counters_.observations_written += written.size();
  return Ok{};
}

void FleetMember::session_loop() {
  const auto ttl = std::chrono::seconds(settings_.lease_ttl_s);
  auto next_keepalive = Clock::now();
  while (!stop_.load()) {
    int64_t lease;
    {
      std::lock_guard lock(mutex_);
      lease = lease_;
    }
    Status step = Ok{};
    // Only a request that reached etcd says it is reachable: a round with nothing to send must
    // not mark a cut-off edge connected again (it would flap every retry).
    bool contacted = false;
    if (lease == 0) {
      contacted = true;
      auto granted = etcd_.lease_grant(ttl);
      if (granted) {
        lease = *granted;
        {
          std::lock_guard lock(mutex_);
          lease_ = lease;
          applied_reported_ = 0;
          for (auto& [id, own] : own_) own.published = false;
        }
        log()->info("edge {} joined the fleet (lease {:x}, ttl {} s)", settings_.edge, lease,
                    settings_.lease_ttl_s);
        next_keepalive = Clock::now() + ttl / 3;
      } else {
        step = granted.error();
      }
    } else if (Clock::now() >= next_keepalive) {
      contacted = true;
      auto remaining = etcd_.lease_keepalive(lease);
      if (remaining && *remaining <= 0) {
        // Expired while we were cut off: the fleet dropped this edge; join again.
        log()->warn("lease {:x} expired: joining the fleet again", lease);
        std::lock_guard lock(mutex_);
        lease_ = 0;
        continue;
      }
      if (!remaining) step = remaining.error();
      if (step) step = refresh_edges();
      next_keepalive = Clock::now() + ttl / 3;
    }
    // What changed since: the edge record (applied revision) and own observations.
    if (step && lease != 0) {
      bool edge_stale;
      std::vector<std::string> unpublished;
      {
        std::lock_guard lock(mutex_);
        edge_stale = applied_reported_ != applied_ || applied_reported_ == 0 || !inputs_reported_;
        for (const auto& [id, own] : own_)
          if (!own.published) unpublished.push_back(id);
      }
      if (edge_stale || !unpublished.empty()) contacted = true;
      if (edge_stale) step = publish_edge_record(lease);
      // In transactions of many, and never past the next keep-alive: a lease that expires
      // while hundreds of observations are written takes them all with it.
      while (step && !unpublished.empty() && Clock::now() < next_keepalive)
        step = publish_observations(unpublished, lease);
    }
    if (step) {
      if (contacted) mark_connected();
    } else {
      mark_unreachable(step.error());
    }
    std::unique_lock lock(mutex_);
    const auto wait = step ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::max(Clock::duration::zero(), next_keepalive - Clock::now()))
                           : kRetry;
    wake_.wait_for(lock, wait, [&] {
      if (stop_.load()) return true;
      if (!step) return false;
      if (applied_reported_ != applied_ || !inputs_reported_) return true;
      return std::any_of(own_.begin(), own_.end(),
                         [](const auto& o) { return !o.second.published; });
    });
  }
}

void FleetMember::take_edges(const std::vector<EtcdKeyValue>& kvs) {
  // The mutex is held.
  edges_.clear();
  const std::string edges_prefix = key(kEdgesPrefix);
  for (const auto& kv : kvs) {
    auto j = parse_json(kv.value);
    if (!j || !j->is_object()) continue;
    const std::string name = kv.key.substr(edges_prefix.size());
    edges_[name] = *j;
    const std::string theirs = j->value("Inputs", "");
    if (name != settings_.edge && !theirs.empty() && !inputs_.empty() && theirs != inputs_ &&
        drift_logged_[name] != theirs) {
      drift_logged_[name] = theirs;
      log()->warn(
          "edge {} answers from other unshared GSLB inputs than this one (digest {} here, {} "
          "there): CIDR collections, latency table, regions, all_down and rrl must be the same in "
          "every edge's config file",
          name, inputs_, theirs);
    }
  }
}

Status FleetMember::refresh_edges() {
  auto edges = etcd_.range(key(kEdgesPrefix), etcd_prefix_end(key(kEdgesPrefix)), 0, false,
                           /*serializable=*/true);
  if (!edges) return edges.error();
  std::lock_guard lock(mutex_);
  take_edges(edges->kvs);
  return Ok{};
}

Status FleetMember::full_reload() {
  auto state = etcd_.range_prefix(key(kStatePrefix));
  if (!state) return state.error();
  auto edges = etcd_.range_prefix(key(kEdgesPrefix), state->revision);
  if (!edges) return edges.error();
  auto obs = etcd_.range_prefix(key(kObservationsPrefix), state->revision);
  if (!obs) return obs.error();
  {
    std::lock_guard lock(mutex_);
    watched_revision_ = state->revision;
    head_revision_ = 0;
    state_values_.clear();
    const std::string state_prefix = key(kStatePrefix);
    for (const auto& kv : state->kvs) {
      if (kv.key == key(kHeadKey)) {
        head_revision_ = kv.mod_revision;
        continue;
      }
      state_values_[kv.key.substr(state_prefix.size())] = kv.value;
    }
    take_edges(edges->kvs);
    observations_.clear();
    for (const auto& kv : obs->kvs) {
      const std::string rest = kv.key.substr(key(kObservationsPrefix).size());
      const size_t slash = rest.rfind('/');
      auto j = parse_json(kv.value);
      if (slash == std::string::npos || !j || !j->is_object()) continue;
      observations_[rest.substr(0, slash)][rest.substr(slash + 1)] = j->value("Healthy", false);
    }
    counters_.full_reloads++;
  }
  deliver_state(state->revision);
  revote();
  return Ok{};
}

void FleetMember::deliver_state(int64_t revision) {
  manage::SharedState state;
  {
    std::lock_guard lock(mutex_);
    if (head_revision_ <= applied_ && head_revision_ != 0) return;  // served already
    state.revision = revision;
    state.head_revision = head_revision_;
    state.values = state_values_;
  }
  // Values without a head key: an import (meridianctl cluster import) still writing its batches;
  // its last transaction writes the head, and that revision is the first served.
  if (state.head_revision == 0 && !state.values.empty()) return;
  if (state.head_revision == 0 && state.values.empty()) {
    // An empty prefix: nothing written yet. Applied as an empty state only if this edge
    // served something else before (a wiped or new prefix is then what the fleet holds).
    std::lock_guard lock(mutex_);
    if (applied_ == 0) return;
  }
  if (callbacks_.apply_state) callbacks_.apply_state(std::move(state));
}

void FleetMember::on_events(const EtcdWatchBatch& batch) {
  bool state_changed = false, health_changed = false;
  int64_t last = 0;
  {
    std::lock_guard lock(mutex_);
    const std::string state_prefix = key(kStatePrefix);
    const std::string obs_prefix = key(kObservationsPrefix);
    for (const auto& e : batch.events) {
      const std::string& k = e.kv.key;
      last = std::max(last, e.kv.mod_revision);
      if (k == key(kHeadKey)) {
        head_revision_ = e.deleted ? 0 : e.kv.mod_revision;
        state_changed = true;
      } else if (k.starts_with(state_prefix)) {
        const std::string rel = k.substr(state_prefix.size());
        if (e.deleted)
          state_values_.erase(rel);
        else
          state_values_[rel] = e.kv.value;
        state_changed = true;
      } else if (k.starts_with(obs_prefix)) {
        const std::string rest = k.substr(obs_prefix.size());
        const size_t slash = rest.rfind('/');
        if (slash == std::string::npos) continue;
        const std::string check = rest.substr(0, slash), edge = rest.substr(slash + 1);
        auto j = parse_json(e.kv.value);
        if (e.deleted || !j || !j->is_object()) {
          if (auto it = observations_.find(check); it != observations_.end()) {
            it->second.erase(edge);
            if (it->second.empty()) observations_.erase(it);
          }
        } else {
          observations_[check][edge] = j->value("Healthy", false);
        }
        health_changed = true;
      }
    }
    watched_revision_ = std::max({watched_revision_, last, batch.header_revision});
  }
  if (state_changed) deliver_state(last);
  if (health_changed) revote();
}

void FleetMember::watch_loop() {
  bool need_reload = true;
  while (!stop_.load()) {
    if (need_reload) {
      if (auto s = full_reload(); !s) {
        mark_unreachable(s.error());
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, kRetry, [&] { return stop_.load(); });
        continue;
      }
      need_reload = false;
    }
    int64_t from;
    {
      std::lock_guard lock(mutex_);
      from = watched_revision_ + 1;
    }
    // Observations and the shared state: "obs/" up to the end of "state/" (nothing else sorts
    // between them). Edge records are read on the keep-alive rhythm instead (refresh_edges):
    // every edge rewrites its record after each change, and watching them would send each
    // change to every edge once per edge.
    auto s = etcd_.watch_range(
        key(kObservationsPrefix), etcd_prefix_end(key(kStatePrefix)), from,
        [&](const EtcdWatchBatch& batch) {
          on_events(batch);
          return true;
        },
        [&] { return stop_.load() || restart_watch_.load(); });
    restart_watch_ = false;
    if (stop_.load()) break;
    {
      std::lock_guard lock(mutex_);
      counters_.watch_restarts++;
    }
    if (!s) {
      if (s.error().where.starts_with("compacted:")) {
        log()->warn("etcd compacted past revision {}: reloading the whole shared state", from);
      } else {
        log()->debug("watch ended: {}", s.error().to_string());
      }
      // Whatever broke the stream, read everything again: a reload is one range per prefix,
      // and it also picks up keys whose leases ended while the stream was down.
      need_reload = true;
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, kRetry, [&] { return stop_.load(); });
  }
}

Result<std::optional<int64_t>> FleetMember::write(const manage::SharedState& current,
                                                  const std::map<std::string, std::string>& next,
                                                  const state::ChangeInfo* change) {
  std::vector<EtcdOp> ops;
  for (const auto& [k, value] : next) {
    auto it = current.values.find(k);
    if (it == current.values.end() || it->second != value)
      ops.push_back(EtcdOp::put(key(std::string(kStatePrefix) + k), value));
  }
  for (const auto& [k, value] : current.values)
    if (!next.count(k)) ops.push_back(EtcdOp::erase(key(std::string(kStatePrefix) + k)));
  json head{{"Edge", settings_.edge}, {"At", ms(Clock::now())}};
  if (change) {
    head["Change"] = change->id;
    ops.push_back(
        EtcdOp::put(key(std::string(kChangesPrefix) + change->id), manage::change_value(*change)));
  }
  ops.push_back(EtcdOp::put(key(kHeadKey), head.dump()));
  auto result = etcd_.txn({EtcdCompare{key(kHeadKey), current.head_revision}}, ops);
  if (!result) {
    mark_unreachable(result.error());
    return make_error(unreachable_reason());
  }
  mark_connected();
  std::lock_guard lock(mutex_);
  if (!result->succeeded) {
    counters_.write_conflicts++;
    return std::optional<int64_t>{};
  }
  counters_.writes++;
  return std::optional<int64_t>{result->revision};
}

Result<manage::SharedState> FleetMember::read_state() {
  auto state = etcd_.range_prefix(key(kStatePrefix));
  if (!state) {
    mark_unreachable(state.error());
    return make_error(unreachable_reason());
  }
  manage::SharedState out;
  out.revision = state->revision;
  const std::string state_prefix = key(kStatePrefix);
  for (const auto& kv : state->kvs) {
    if (kv.key == key(kHeadKey))
      out.head_revision = kv.mod_revision;
    else
      out.values[kv.key.substr(state_prefix.size())] = kv.value;
  }
  return out;
}

Result<int64_t> FleetMember::head_revision() {
  auto head = etcd_.range(key(kHeadKey));
  if (!head) {
    mark_unreachable(head.error());
    return make_error(unreachable_reason());
  }
  mark_connected();
  return head->kvs.empty() ? int64_t{0} : head->kvs.front().mod_revision;
}

void FleetMember::set_local_inputs(std::string digest) {
  {
    std::lock_guard lock(mutex_);
    if (digest == inputs_) return;
    inputs_ = std::move(digest);
    inputs_reported_ = false;
  }
  wake_.notify_all();
}

void FleetMember::applied(int64_t revision) {
  {
    std::lock_guard lock(mutex_);
    applied_ = std::max(applied_, revision);
    counters_.revisions_applied++;
  }
  wake_.notify_all();
}

Result<std::optional<ChangeStatusInfo>> FleetMember::find_change(const std::string& id) {
  auto found = etcd_.range(key(std::string(kChangesPrefix) + id));
  if (!found) return make_error("etcd unreachable: " + found.error().to_string());
  if (found->kvs.empty()) return std::optional<ChangeStatusInfo>{};
  auto change = manage::change_from_value(found->kvs.front().value);
  if (!change) return change.error();
  return std::optional<ChangeStatusInfo>{
      ChangeStatusInfo{std::move(change).value(), found->kvs.front().mod_revision}};
}

Result<bool> FleetMember::all_edges_serve(int64_t revision) {
  auto edges = etcd_.range_prefix(key(kEdgesPrefix));
  if (!edges) return make_error("etcd unreachable: " + edges.error().to_string());
  for (const auto& kv : edges->kvs) {
    auto j = parse_json(kv.value);
    if (!j || !j->is_object() || j->value("Applied", int64_t{0}) < revision) return false;
  }
  return true;
}

void FleetMember::set_checks(std::vector<health::HealthCheckConfig> checks) {
  {
    std::lock_guard lock(mutex_);
    checks_ = std::move(checks);
    std::map<std::string, Own> kept;
    for (const auto& c : checks_)
      if (auto it = own_.find(c.id); it != own_.end()) kept[c.id] = it->second;
    own_ = std::move(kept);
  }
  revote();
}

void FleetMember::observe(const std::string& check, bool healthy, const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    Own& own = own_[check];
    if (own.published && own.healthy == healthy) return;
    own.healthy = healthy;
    own.reason = reason;
    own.published = false;
  }
  wake_.notify_all();
  revote();
}

void FleetMember::revote() {
  struct Change {
    std::string id;
    Vote vote;
    bool transition;  // false: decided for the first time
  };
  std::vector<Change> changed;
  bool sender = false;
  {
    std::lock_guard lock(mutex_);
    std::map<std::string, bool> own;
    for (const auto& [id, o] : own_) own[id] = o.healthy;
    auto observations = observations_;
    if (!connected_.load()) {
      // Cut off: the others' observations are stale; this edge decides from its own.
      observations.clear();
    } else {
      // This edge's own entry is always its current state (etcd's echo may lag).
      for (const auto& [id, healthy] : own) observations[id][settings_.edge] = healthy;
    }
    auto votes = decide_health(checks_, observations, own, settings_.healthy_fraction);
    for (const auto& [id, vote] : votes) {
      auto it = decided_.find(id);
      if (it == decided_.end() || it->second.healthy != vote.healthy)
        changed.push_back(Change{id, vote, it != decided_.end()});
    }
    decided_ = std::move(votes);
    // One edge sends the fleet's webhooks: the live edge with the lowest name. A cut-off edge
    // sends none (its decision is its own, not the fleet's).
    sender = connected_.load() && (edges_.empty() || edges_.begin()->first >= settings_.edge);
  }
  for (const auto& c : changed) {
    log()->info("health check {} decided {} ({})", c.id, c.vote.healthy ? "healthy" : "unhealthy",
                c.vote.describe());
    if (callbacks_.health_decided) callbacks_.health_decided(c.id, c.vote.healthy, c.vote);
    if (c.transition && sender && webhooks_.enabled()) {
      const auto to =
          c.vote.healthy ? health::HealthStatus::kHealthy : health::HealthStatus::kUnhealthy;
      const auto from =
          c.vote.healthy ? health::HealthStatus::kUnhealthy : health::HealthStatus::kHealthy;
      webhooks_.post(
          health::Transition{c.id, from, to, Clock::now(), "fleet vote: " + c.vote.describe()});
    }
  }
}

std::map<std::string, Vote> FleetMember::votes() const {
  std::lock_guard lock(mutex_);
  return decided_;
}

FleetCounters FleetMember::counters() const {
  std::lock_guard lock(mutex_);
  FleetCounters out = counters_;
  out.webhooks_delivered = webhooks_.delivered();
  out.webhooks_failed = webhooks_.failed();
  return out;
}

json FleetMember::status() const {
  std::lock_guard lock(mutex_);
  json edges = json::array();
  for (const auto& [name, record] : edges_) {
    const int64_t applied = record.value("Applied", int64_t{0});
    edges.push_back(json{{"Name", name},
                         {"Vantage", record.value("Vantage", "")},
                         {"Inputs", record.value("Inputs", "")},
                         {"AppliedRevision", applied},
                         {"Lag", std::max<int64_t>(0, head_revision_ - applied)},
                         {"Started", health::rfc3339(Clock::time_point(std::chrono::milliseconds(
                                         record.value("Started", int64_t{0}))))}});
  }
  json out{{"Edge", settings_.edge},
           {"Vantage", settings_.vantage},
           {"Prefix", settings_.prefix},
           {"Connected", connected_.load()},
           {"Endpoint", etcd_.current_endpoint()},
           {"Lease", lease_ == 0 ? json(nullptr) : json(lease_)},
           {"LeaseTtlSeconds", settings_.lease_ttl_s},
           {"AppliedRevision", applied_},
           {"SharedRevision", head_revision_},
           {"WatchedRevision", watched_revision_},
           {"Inputs", inputs_},
           {"InputsConsistent",
            std::all_of(edges_.begin(), edges_.end(),
                        [&](const auto& e) { return e.second.value("Inputs", "") == inputs_; })},
           {"Edges", edges}};
  if (!connected_.load()) {
    out["UnreachableSince"] = health::rfc3339(unreachable_since_);
    out["LastError"] = last_error_;
  }
  return out;
}

}  // namespace meridian::fleet
