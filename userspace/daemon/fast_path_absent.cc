// FastPathRuntime for a build without the XDP program (MERIDIAN_BUILD_BPF=OFF): no program ever
// runs, so every call is the no-op of the not-running case and userspace serves everything.
#include "daemon/fast_path_runtime.h"

namespace meridian::daemon {

struct FastPathRuntime::Program {};

FastPathRuntime::FastPathRuntime(const answer::Responder&) {}

FastPathRuntime::~FastPathRuntime() = default;

std::string FastPathRuntime::pin_dir_to_lock(const config::DaemonConfig&) {
  return {};
}

void FastPathRuntime::start(const config::DaemonConfig&) {}

bool FastPathRuntime::publish(const zone::ZoneSet&) {
  return true;
}

void FastPathRuntime::on_health_transition(const policy::HealthView&, const std::string&) {}

void FastPathRuntime::configure_rrl(const server::Server&) {}

bool FastPathRuntime::set_stale_after(uint32_t) {
  return false;
}

void FastPathRuntime::start_query_log(uint32_t, std::function<std::string(const dns::Name&)>,
                                      std::function<void(const observe::QueryLogEntry&)>) {}

void FastPathRuntime::stop_query_log() {}

uint64_t FastPathRuntime::add_metrics(observe::MetricsBuilder&) const {
  return 0;
}

}  // namespace meridian::daemon
