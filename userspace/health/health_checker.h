// HealthChecker: runs every configured health check on one thread with one libcurl multi handle
// (probes run concurrently, each check every RequestInterval, the first probe at start), keeps
// each check's state under the rules of health_state.h, persists states, POSTs webhooks, and
// reports every transition to a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "health/health_check_config.h"
#include "health/health_state.h"
#include "health/health_state_store.h"
#include "health/transfer_loop.h"
#include "health/webhook.h"

namespace meridian::health {

struct HealthCheckerOptions {
  std::string state_db_path;  // SQLite file; empty: states are not kept across restarts
  WebhookSettings webhooks;
  // Probe results are written at most this often; transitions are written at once.
  std::chrono::milliseconds store_flush_interval{1000};
};

struct HealthCheckerCounters {
  uint64_t probes = 0;          // probe results counted (CALCULATED evaluations included)
  uint64_t probe_failures = 0;  // of those, failures (after Inverted)
  uint64_t transitions = 0;
  uint64_t webhooks_delivered = 0;
  uint64_t webhooks_failed = 0;
  uint64_t store_errors = 0;
};

class HealthChecker {
 public:
  // Called for every state change, after the snapshot shows it: on the checker's thread, or
  // from start() itself for a CALCULATED check whose restored children already change it.
  using TransitionCallback = std::function<void(const Transition&)>;

  explicit HealthChecker(HealthCheckerOptions options, TransitionCallback on_transition = {});
  ~HealthChecker();  // stop()
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Validates the checks, opens the state store and restores states (a stored state wins over
  // InitialState), publishes them, then starts the thread, which probes every check at once.
  // A checker starts once; after stop() make a new one.
  Status start(std::vector<HealthCheckConfig> checks);
  // Stops probing (running probes are abandoned), writes states, joins. Idempotent.
  void stop();
  // Replaces the set of checks. Unchanged checks keep their state and schedule; changed ones
  // keep their state, lose their counts and are probed at once; new ones start as in start();
  // removed ones are dropped (also from the store).
  Status update(std::vector<HealthCheckConfig> checks);

  // Every check's current state, by id.
  std::map<std::string, CheckState> snapshot() const;
  std::optional<CheckState> state(const std::string& id) const;
  HealthCheckerCounters counters() const;

 private:
  struct Check {
    HealthCheckConfig config;
    CheckState state;
    SteadyTime next_due;
    Transfer* in_flight = nullptr;
    uint64_t generation = 0;  // tells a stale probe result from the current one
  };

  void run();
  void apply_update(std::vector<HealthCheckConfig> checks);
  void add_check(const HealthCheckConfig& config, SteadyTime now);
  void launch_due_probes(SteadyTime now);
  std::chrono::milliseconds time_to_next_due(SteadyTime now) const;
  void on_probe_done(const std::string& id, uint64_t generation, const ProbeOutcome& outcome);
  void record(Check& check, const ProbeOutcome& outcome);
  void transition(Check& check, const StateChange& change);
  void evaluate_calculated_checks();
  void publish(const Check& check);
  void flush_store(bool force);

  HealthCheckerOptions options_;
  TransitionCallback on_transition_;
  std::unique_ptr<HealthStateStore> store_;
  std::map<std::string, CheckState> stored_;  // restored rows not yet claimed by a check

  // Owned by the checker thread once it runs.
  TransferLoop loop_;
  WebhookSender webhooks_;
  std::map<std::string, Check> checks_;
  std::set<std::string> dirty_;
  SteadyTime last_flush_{};
  uint64_t next_generation_ = 1;

  mutable std::mutex mutex_;  // guards published_ and pending_
  std::map<std::string, CheckState> published_;
  std::optional<std::vector<HealthCheckConfig>> pending_;

  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> probes_{0};
  std::atomic<uint64_t> probe_failures_{0};
  std::atomic<uint64_t> transitions_{0};
  std::atomic<uint64_t> store_errors_{0};
  std::thread thread_;
};

}  // namespace meridian::health
