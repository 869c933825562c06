// CALCULATED checks: healthy when at least HealthThreshold children are healthy. Threshold 0 is
// always healthy; a threshold above the child count is always unhealthy; a disabled child counts
// by its pinned state: healthy, unhealthy when also Inverted (disabled_status in health_state.h).
#pragma once

#include <functional>
#include <string>

#include "health/health_check_config.h"
#include "health/health_state.h"

namespace meridian::health {

// `child_healthy(id)` answers for each child by its current reported state.
ProbeOutcome evaluate_calculated(const HealthCheckConfig& check,
                                 const std::function<bool(const std::string&)>& child_healthy);

}  // namespace meridian::health
