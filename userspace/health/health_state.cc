// The anti-flap state machine of one health check (rules in docs/health-checks.md).
#include "health/health_state.h"

#include <cstdio>
#include <ctime>

namespace meridian::health {

std::string rfc3339(std::chrono::system_clock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return text;
}

CheckState initial_check_state(const HealthCheckConfig& check) {
  CheckState state;
  state.status = check.disabled ? disabled_status(check) : check.initial_state;
  return state;
}

HealthStatus disabled_status(const HealthCheckConfig& check) {
  return check.inverted ? HealthStatus::kUnhealthy : HealthStatus::kHealthy;
}

std::string disabled_reason(const HealthCheckConfig& check) {
  return check.inverted ? "disabled, inverted" : "disabled";
}

std::optional<StateChange> record_outcome(CheckState& state, const HealthCheckConfig& check,
                                          const ProbeOutcome& outcome,
                                          std::chrono::system_clock::time_point now) {
  bool success = check.inverted ? !outcome.success : outcome.success;
  std::string reason = outcome.reason;
  if (check.inverted && !success) reason = "inverted: probe succeeded";

  state.probes++;
  state.last_result = success;
  state.last_latency = outcome.latency;
  state.updated_at = now;
  if (success) {
    state.consecutive_successes++;
    state.consecutive_failures = 0;
  } else {
    state.consecutive_failures++;
    state.consecutive_successes = 0;
    state.last_failure_reason = reason;
  }

  const HealthStatus old_state = state.status;
  const uint32_t threshold = check.type == CheckType::kCalculated ? 1 : check.failure_threshold;
  HealthStatus new_state = old_state;
  if (check.disabled) {
    new_state = disabled_status(check);
  } else if (success && state.consecutive_successes >= threshold) {
    new_state = HealthStatus::kHealthy;
  } else if (!success && state.consecutive_failures >= threshold) {
    new_state = HealthStatus::kUnhealthy;
  }
  if (new_state == old_state) return std::nullopt;
  state.status = new_state;
  StateChange change{old_state, new_state, {}};
  if (check.disabled) {
    change.reason = disabled_reason(check);
  } else if (new_state == HealthStatus::kUnhealthy) {
    change.reason = reason;
  } else {
    change.reason = check.type == CheckType::kCalculated && !outcome.reason.empty()
                        ? outcome.reason
                        : std::to_string(state.consecutive_successes) + " consecutive successes";
  }
  return change;
}

}  // namespace meridian::health
