// The fleet's health rule (docs/fleet.md, "Health from many vantage points"): a check is healthy
// when more than `healthy_fraction` of the edges observing it say so. Every edge computes the same
// status from the same observations. CALCULATED checks combine the decided status of their
// children; Inverted and Disabled apply to the result as on one host.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "health/health_check_config.h"

namespace meridian::fleet {

struct Vote {
  bool healthy = true;
  size_t healthy_observers = 0;
  size_t observers = 0;  // 0: no observation at all (the check keeps its own state)

  std::string describe() const;  // "2 of 3 vantage points healthy"
  bool operator==(const Vote&) const = default;
};

// observations[check id][edge] = healthy. `own` is this edge's state of every check it runs (the
// fallback when nobody observed a check). Checks are decided in order (children before the
// CALCULATED checks that name them; validate_health_checks forbids cycles).
std::map<std::string, Vote> decide_health(
    const std::vector<health::HealthCheckConfig>& checks,
    const std::map<std::string, std::map<std::string, bool>>& observations,
    const std::map<std::string, bool>& own, double healthy_fraction);

}  // namespace meridian::fleet
