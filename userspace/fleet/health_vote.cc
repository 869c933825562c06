// The vote over observations, and CALCULATED checks over decided children.
#include "fleet/health_vote.h"

#include <functional>

#include "health/calculated.h"
#include "health/health_state.h"

namespace meridian::fleet {

std::string Vote::describe() const {
  if (observers == 0) return "no observations: this edge's own state";
  return std::to_string(healthy_observers) + " of " + std::to_string(observers) +
         " vantage points healthy";
}

std::map<std::string, Vote> decide_health(
    const std::vector<health::HealthCheckConfig>& checks,
    const std::map<std::string, std::map<std::string, bool>>& observations,
    const std::map<std::string, bool>& own, double healthy_fraction) {
  std::map<std::string, const health::HealthCheckConfig*> by_id;
  for (const auto& c : checks) by_id[c.id] = &c;
  std::map<std::string, Vote> out;
  // Depth-first so that children are decided first; the visiting mark stops a cycle that
  // validation would have refused anyway.
  std::map<std::string, bool> visiting;
  std::function<bool(const std::string&)> decided = [&](const std::string& id) -> bool {
    if (auto it = out.find(id); it != out.end()) return it->second.healthy;
    auto config = by_id.find(id);
    auto own_state = own.find(id);
    const bool fallback = own_state == own.end() ? true : own_state->second;
    if (config == by_id.end() || visiting[id]) return fallback;
    visiting[id] = true;
    const health::HealthCheckConfig& check = *config->second;
    Vote v;
    if (check.disabled) {
      v.healthy = health::disabled_status(check) == health::HealthStatus::kHealthy;
    } else if (check.type == health::CheckType::kCalculated) {
      const bool ok = health::evaluate_calculated(check, decided).success;
      v.healthy = check.inverted ? !ok : ok;
    } else if (auto obs = observations.find(id);
               obs != observations.end() && !obs->second.empty()) {
      for (const auto& [edge, healthy] : obs->second) {
        ++v.observers;
        if (healthy) ++v.healthy_observers;
      }
      v.healthy = static_cast<double>(v.healthy_observers) >
                  healthy_fraction * static_cast<double>(v.observers);
    } else {
      v.healthy = fallback;
    }
    out[id] = v;
    return v.healthy;
  };
  for (const auto& c : checks) decided(c.id);
  return out;
}

}  // namespace meridian::fleet
