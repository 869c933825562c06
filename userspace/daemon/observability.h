// What meridiand tells operators about itself while it runs: per-query counters and Route 53-format
// query log lines from the userspace server (every query) and from the XDP program (a sample, read
// from its ring buffer), and the Prometheus text page built from those and from the controller,
// the health checker, the server, the fast path's and the fleet member's counters.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "config/daemon_config.h"
#include "control/http_server.h"
#include "daemon/controller.h"
#include "daemon/fast_path_runtime.h"
#include "daemon/gslb_runtime.h"
#include "fleet/fleet_member.h"
#include "observe/metrics.h"
#include "observe/query_log.h"
#include "server/query_event.h"
#include "server/server.h"

namespace meridian::daemon {

class Observability {
 public:
  // Opens the query log when the config names one (an error names the file).
  static Result<std::unique_ptr<Observability>> open(const config::DaemonConfig& config,
                                                     Controller& controller, HealthRuntime& health);
  ~Observability();

  // The userspace server's per-query hook (called on worker threads).
  void on_query(const server::QueryEvent& event);
  // The fast path's counters go on the page, and its sampled answers (when the config names a
  // query log) into the log.
  void attach_fast_path(FastPathRuntime& fast_path, const config::DaemonConfig& config);
  void set_server(const server::Server* server) { server_ = server; }
  // A fleet edge's member: its meridian_fleet_* families go on the page (none without one).
  void set_fleet(const fleet::FleetMember* fleet) { fleet_ = fleet; }
  // The control API's connection counters, once it runs (metrics may be read meanwhile).
  void set_control(const control::ControlServer* control) { control_.store(control); }
  // SIGUSR1: the log file was moved by a rotation tool; write to a new one at the same path.
  void reopen_query_log();

  std::string metrics_text() const;
  // Userspace answers for `meridianctl stats`: {"total", "by_rcode", "by_transport", "by_qtype"}.
  nlohmann::json userspace_stats() const;

 private:
  Observability(Controller& controller, HealthRuntime& health)
      : controller_(controller), health_(health) {}

  void add_fleet_metrics(observe::MetricsBuilder& m, uint64_t apply_failures) const;

  Controller& controller_;
  HealthRuntime& health_;
  const server::Server* server_ = nullptr;
  const fleet::FleetMember* fleet_ = nullptr;
  std::atomic<const control::ControlServer*> control_{nullptr};
  observe::QueryCounters counters_;
  std::unique_ptr<observe::QueryLogWriter> query_log_;
  std::atomic<uint64_t> xdp_logged_{0};
  FastPathRuntime* fast_path_ = nullptr;
};

}  // namespace meridian::daemon
