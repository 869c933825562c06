// The health checker's thread: scheduling, probe results, transitions, persistence (see
// health_checker.h and docs/health-checks.md).
#include "health/health_checker.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "health/calculated.h"
#include "health/probe.h"

namespace meridian::health {
namespace {

std::shared_ptr<spdlog::logger> health_log() {
  auto log = spdlog::get("health");
  return log ? log : spdlog::default_logger();
}

// Longest the loop sleeps with nothing due: stop() and update() wake it earlier anyway.
constexpr std::chrono::milliseconds kMaxWait{60000};

}  // namespace

HealthChecker::HealthChecker(HealthCheckerOptions options, TransitionCallback on_transition)
    : options_(std::move(options)),
      on_transition_(std::move(on_transition)),
      webhooks_(options_.webhooks) {}

HealthChecker::~HealthChecker() {
  stop();
}

Status HealthChecker::start(std::vector<HealthCheckConfig> checks) {
  if (started_) return make_error("health checker already started");
  if (auto valid = validate_health_checks(checks); !valid) return valid.error();
  if (!options_.state_db_path.empty()) {
    auto store = HealthStateStore::open(options_.state_db_path);
    if (!store) return store.error();
    auto rows = (*store)->load();
    if (!rows) return rows.error();
    store_ = std::move(*store);
    stored_ = std::move(*rows);
  }
  const SteadyTime now = std::chrono::steady_clock::now();
  for (const HealthCheckConfig& config : checks) add_check(config, now);
  evaluate_calculated_checks();
  for (const auto& [id, check] : checks_) publish(check);
  last_flush_ = now;
  started_ = true;
  thread_ = std::thread([this] { run(); });
  health_log()->info("health checker started: {} checks{}", checks_.size(),
                     store_ ? ", states in " + options_.state_db_path : "");
  return Ok{};
}

void HealthChecker::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  loop_.wakeup();
  thread_.join();
  flush_store(true);
}

Status HealthChecker::update(std::vector<HealthCheckConfig> checks) {
  if (auto valid = validate_health_checks(checks); !valid) return valid.error();
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(checks);
  }
  loop_.wakeup();
  return Ok{};
}

std::map<std::string, CheckState> HealthChecker::snapshot() const {
  std::lock_guard lock(mutex_);
  return published_;
}

std::optional<CheckState> HealthChecker::state(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto found = published_.find(id);
  if (found == published_.end()) return std::nullopt;
  return found->second;
}

HealthCheckerCounters HealthChecker::counters() const {
  HealthCheckerCounters c;
  c.probes = probes_;
  c.probe_failures = probe_failures_;
  c.transitions = transitions_;
  c.webhooks_delivered = webhooks_.delivered();
  c.webhooks_failed = webhooks_.failed();
  c.store_errors = store_errors_;
  return c;
}

void HealthChecker::add_check(const HealthCheckConfig& config, SteadyTime now) {
  Check check;
  check.config = config;
  check.state = initial_check_state(config);
  if (auto stored = stored_.find(config.id); stored != stored_.end()) {
    check.state = stored->second;
    stored_.erase(stored);
    if (config.disabled) check.state.status = disabled_status(config);
  }
  check.next_due = now;  // first probe at once
  check.generation = next_generation_++;
  checks_[config.id] = std::move(check);
}

void HealthChecker::run() {
  while (!stopping_) {
    std::optional<std::vector<HealthCheckConfig>> update;
    {
      std::lock_guard lock(mutex_);
      update.swap(pending_);
    }
    if (update) apply_update(std::move(*update));
    SteadyTime now = std::chrono::steady_clock::now();
    launch_due_probes(now);
    loop_.run_once(time_to_next_due(now));
    flush_store(false);
  }
}

void HealthChecker::launch_due_probes(SteadyTime now) {
  for (auto& [id, check] : checks_) {
    const HealthCheckConfig& config = check.config;
    if (config.type == CheckType::kCalculated || config.disabled || check.next_due > now) continue;
    const auto interval = std::chrono::seconds(config.request_interval_s);
    // Fixed rate: the next probe is due one interval after this one was due, not after it ends.
    check.next_due += interval;
    if (check.next_due <= now) check.next_due = now + interval;
    if (check.in_flight != nullptr) continue;  // still running (timeouts longer than interval)
    check.in_flight = loop_.start(make_probe(
        config, [this, id = id, generation = check.generation](const ProbeOutcome& outcome) {
          on_probe_done(id, generation, outcome);
        }));
  }
}

std::chrono::milliseconds HealthChecker::time_to_next_due(SteadyTime now) const {
  auto wait = kMaxWait;
  for (const auto& [id, check] : checks_) {
    if (check.config.type == CheckType::kCalculated || check.config.disabled) continue;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(check.next_due - now);
    wait = std::clamp(left, std::chrono::milliseconds(0), wait);
  }
  if (!dirty_.empty()) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(last_flush_ +
                                                             options_.store_flush_interval - now);
    wait = std::clamp(left, std::chrono::milliseconds(0), wait);
  }
  return wait;
}

void HealthChecker::on_probe_done(const std::string& id, uint64_t generation,
                                  const ProbeOutcome& outcome) {
  auto found = checks_.find(id);
  if (found == checks_.end() || found->second.generation != generation) return;
  found->second.in_flight = nullptr;
  record(found->second, outcome);
  if (!outcome.success) health_log()->debug("health check {}: {}", id, outcome.reason);
}

void HealthChecker::record(Check& check, const ProbeOutcome& outcome) {
  auto change =
      record_outcome(check.state, check.config, outcome, std::chrono::system_clock::now());
  probes_++;
  if (check.state.last_result == false) probe_failures_++;
  if (store_) dirty_.insert(check.config.id);
  publish(check);
  if (change) transition(check, *change);
}

void HealthChecker::transition(Check& check, const StateChange& change) {
  transitions_++;
  Transition t{check.config.id, change.old_state, change.new_state, check.state.updated_at,
               change.reason};
  if (t.time == std::chrono::system_clock::time_point{}) t.time = std::chrono::system_clock::now();
  health_log()->info("health check {}: {} -> {} ({})", t.check_id, status_name(t.old_state),
                     status_name(t.new_state), t.reason);
  flush_store(true);
  webhooks_.post(t, loop_);
  if (on_transition_) on_transition_(t);
  if (check.config.type != CheckType::kCalculated) evaluate_calculated_checks();
}

void HealthChecker::evaluate_calculated_checks() {
  // A disabled child's state is pinned (disabled_status: healthy, unhealthy when also Inverted),
  // so its state is what counts, as for any other child.
  auto child_healthy = [this](const std::string& child) {
    auto found = checks_.find(child);
    return found != checks_.end() && found->second.state.healthy();
  };
  for (auto& [id, check] : checks_) {
    if (check.config.type != CheckType::kCalculated) continue;
    ProbeOutcome outcome = evaluate_calculated(check.config, child_healthy);
    // Only a new verdict is news (the threshold is 1, so the state already follows the last
    // one): re-counting the same verdict on every child transition would inflate the counters.
    if (check.state.last_result == (outcome.success != check.config.inverted)) continue;
    record(check, outcome);
  }
}

void HealthChecker::apply_update(std::vector<HealthCheckConfig> configs) {
  const SteadyTime now = std::chrono::steady_clock::now();
  std::set<std::string> wanted;
  std::vector<std::string> removed;
  for (const HealthCheckConfig& config : configs) wanted.insert(config.id);
  for (auto it = checks_.begin(); it != checks_.end();) {
    if (wanted.count(it->first) != 0) {
      ++it;
      continue;
    }
    loop_.cancel(it->second.in_flight);
    removed.push_back(it->first);
    dirty_.erase(it->first);
    it = checks_.erase(it);
  }
  {
    std::lock_guard lock(mutex_);
    for (const std::string& id : removed) published_.erase(id);
  }
  if (store_) {
    if (auto status = store_->erase(removed); !status) {
      store_errors_++;
      health_log()->error("{}", status.error().to_string());
    }
  }
  std::vector<std::string> changed;
  for (const HealthCheckConfig& config : configs) {
    auto found = checks_.find(config.id);
    if (found == checks_.end()) {
      add_check(config, now);
      publish(checks_[config.id]);
      continue;
    }
    Check& check = found->second;
    if (check.config == config) continue;
    loop_.cancel(check.in_flight);
    check.in_flight = nullptr;
    check.config = config;
    check.state.consecutive_failures = 0;
    check.state.consecutive_successes = 0;
    check.next_due = now;
    check.generation = next_generation_++;
    publish(check);
    changed.push_back(config.id);
  }
  // A check that became disabled (or changed Inverted while disabled) is pinned from now on:
  // healthy, unhealthy when also Inverted.
  for (const std::string& id : changed) {
    Check& check = checks_[id];
    if (!check.config.disabled) continue;
    const HealthStatus pinned = disabled_status(check.config);
    if (check.state.status == pinned) continue;
    const HealthStatus old_state = check.state.status;
    check.state.status = pinned;
    publish(check);
    transition(check, StateChange{old_state, pinned, disabled_reason(check.config)});
  }
  evaluate_calculated_checks();
  health_log()->info("health checks updated: {} checks, {} removed, {} changed", checks_.size(),
                     removed.size(), changed.size());
}

void HealthChecker::publish(const Check& check) {
  std::lock_guard lock(mutex_);
  published_[check.config.id] = check.state;
}

void HealthChecker::flush_store(bool force) {
  if (!store_ || dirty_.empty()) return;
  const SteadyTime now = std::chrono::steady_clock::now();
  if (!force && now - last_flush_ < options_.store_flush_interval) return;
  std::vector<std::pair<std::string, CheckState>> rows;
  for (const std::string& id : dirty_) {
    auto found = checks_.find(id);
    if (found != checks_.end()) rows.emplace_back(id, found->second.state);
  }
  dirty_.clear();
  last_flush_ = now;
  if (auto status = store_->save(rows); !status) {
    store_errors_++;
    health_log()->error("{}", status.error().to_string());
  }
}

}  // namespace meridian::health
