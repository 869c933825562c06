// The control API's routes (docs/operations.md, "Control API"): each turns an HTTP request into
// a Controller call and its result into Route 53-shaped JSON or a Route 53-style error.
#pragma once

#include <functional>
#include <string>

#include "control/http_server.h"
#include "daemon/controller.h"

namespace meridian::daemon {

struct ApiExtras {
  std::function<std::string()> metrics_text;  // GET /metrics
  std::function<nlohmann::json()> status;     // GET /v1/status
  std::function<nlohmann::json()> stats;      // GET /v1/stats
  // GET /v1/cluster: this edge's view of the fleet; null: not a fleet member (404).
  std::function<nlohmann::json()> cluster;
};

void add_api_routes(control::ControlServer& server, Controller& controller, ApiExtras extras);

}  // namespace meridian::daemon
