// FastPathRuntime: the XDP fast path as meridiand runs it, or its absence. The one seam between
// the daemon and BPF: the daemon calls it the same way in every build, and CMake links either
// fast_path_runtime.cc (the program is built) or fast_path_absent.cc (MERIDIAN_BUILD_BPF=OFF).
// When no program runs (absent from the build, not configured, or failed to start), every call
// is a no-op and userspace serves everything.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "answer/responder.h"
#include "config/daemon_config.h"
#include "dns/name.h"
#include "observe/metrics.h"
#include "observe/query_log.h"
#include "policy/gslb_inputs.h"
#include "server/server.h"
#include "zone/zone_set.h"

namespace meridian::daemon {

// What the last publish to the XDP maps wrote (for the map fill gauges).
struct PublishSummary {
  uint64_t answers = 0;
  uint64_t map_full = 0;
  uint64_t policy_groups = 0;
  uint64_t geo_prefixes = 0;
  uint32_t max_entries_per_class = 0;
  bool valid = false;
};

class FastPathRuntime {
 public:
  // `responder` is the userspace server's: every answer the maps hold is one it computed.
  explicit FastPathRuntime(const answer::Responder& responder);
  ~FastPathRuntime();
  FastPathRuntime(const FastPathRuntime&) = delete;
  FastPathRuntime& operator=(const FastPathRuntime&) = delete;

  // The pin directory this instance must lock before anything is attached; empty for none. It
  // is made here: one that cannot be made is not locked, and start() then fails with the reason.
  static std::string pin_dir_to_lock(const config::DaemonConfig& config);

  // Loads and attaches the XDP program when the configuration asks for it; logs why when it
  // cannot (the userspace server keeps serving everything).
  void start(const config::DaemonConfig& config);

  // Publishes `zones` to the maps: true once they hold it, or when no program runs; false (after
  // logging why) when the previous data stays live.
  bool publish(const zone::ZoneSet& zones);
  // A health transition already in `view`: the program's health slot for `check_id` follows.
  // Before start() nothing is written (its first publish copies every slot).
  void on_health_transition(const policy::HealthView& view, const std::string& check_id);
  // The program limits the replies it sends with the userspace server's settings.
  void configure_rrl(const server::Server& server);
  // The one "xdp" setting a reload changes (the program reads it from mdn_control). False when
  // no program runs, so the running configuration keeps the old value.
  bool set_stale_after(uint32_t seconds);

  // Samples one XDP answer in `one_in_n` (0: none) into `write`, read from the program's ring
  // buffer; `zone_id_for` names each answer's hosted zone. Sets the rate either way: it lives in
  // a pinned map and would otherwise survive from an earlier run.
  void start_query_log(uint32_t one_in_n, std::function<std::string(const dns::Name&)> zone_id_for,
                       std::function<void(const observe::QueryLogEntry&)> write);
  // Stops reading the ring (before the query log it writes to goes away).
  void stop_query_log();

  // The program's families on the Prometheus page (counters, heartbeat, map fill, ring reader);
  // returns the queries it answered (0 when none runs).
  uint64_t add_metrics(observe::MetricsBuilder& m) const;

 private:
  struct Program;  // the loaded program and what the daemon keeps beside it (none when absent)
  std::unique_ptr<Program> program_;
};

}  // namespace meridian::daemon
