// Evaluation of a CALCULATED check from its children's states (rules in calculated.h).
#include "health/calculated.h"

namespace meridian::health {

ProbeOutcome evaluate_calculated(const HealthCheckConfig& check,
                                 const std::function<bool(const std::string&)>& child_healthy) {
  size_t healthy = 0;
  for (const std::string& child : check.child_health_checks) {
    if (child_healthy(child)) healthy++;
  }
  ProbeOutcome outcome;
  outcome.success = healthy >= check.health_threshold;
  outcome.reason = std::to_string(healthy) + " of " +
                   std::to_string(check.child_health_checks.size()) +
                   " children healthy, threshold " + std::to_string(check.health_threshold);
  return outcome;
}

}  // namespace meridian::health
