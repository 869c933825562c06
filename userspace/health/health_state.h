// The state of one health check and the anti-flap rules that move it: thresholds both ways,
// Inverted, Disabled, initial state. Probes only report outcomes; the rules live here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "health/health_check_config.h"

namespace meridian::health {

// What one probe (or one evaluation of a CALCULATED check) found.
struct ProbeOutcome {
  bool success = false;
  std::string reason;  // why it failed ("connect timeout", "HTTP 503", ...); empty on success
  std::chrono::microseconds latency{0};
};

struct CheckState {
  HealthStatus status = HealthStatus::kHealthy;
  uint32_t consecutive_successes = 0;  // counted after Inverted
  uint32_t consecutive_failures = 0;
  std::optional<bool> last_result;  // the last counted result, after Inverted
  std::string last_failure_reason;  // kept after later successes: the last reason seen
  std::chrono::microseconds last_latency{0};
  std::chrono::system_clock::time_point updated_at{};  // last result or restore
  uint64_t probes = 0;                                 // results counted since start

  bool healthy() const { return status == HealthStatus::kHealthy; }
};

struct StateChange {
  HealthStatus old_state;
  HealthStatus new_state;
  std::string reason;  // the failure reason when going down, "N consecutive successes" when up
};

// A state change of one check as the checker reports it (callback, log, webhooks).
struct Transition {
  std::string check_id;
  HealthStatus old_state;
  HealthStatus new_state;
  std::chrono::system_clock::time_point time;
  std::string reason;
};

// "2026-11-25T11:20:03.123Z" (RFC 3339, UTC, milliseconds).
std::string rfc3339(std::chrono::system_clock::time_point time);

// The state a check starts in when nothing was stored for it.
CheckState initial_check_state(const HealthCheckConfig& check);

// The state a Disabled check is pinned to. Route 53 (API reference, HealthCheckConfig): a disabled
// check is considered healthy, and Inverted is applied last, so Disabled and Inverted together
// are unhealthy.
HealthStatus disabled_status(const HealthCheckConfig& check);
// The reason given when a check moves to that state: "disabled" or "disabled, inverted".
std::string disabled_reason(const HealthCheckConfig& check);

// Counts one outcome under the check's rules and returns the change when the state flips.
// Inverted flips the outcome before counting (with equal thresholds both ways that is the same as
// flipping the state last); Disabled pins the state to disabled_status() (healthy, unhealthy when
// also Inverted); CALCULATED checks flip at once (their children already carry the anti-flap
// thresholds).
std::optional<StateChange> record_outcome(CheckState& state, const HealthCheckConfig& check,
                                          const ProbeOutcome& outcome,
                                          std::chrono::system_clock::time_point now);

}  // namespace meridian::health
