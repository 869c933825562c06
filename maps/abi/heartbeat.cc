// The heartbeat's age and staleness, with the program's rule (bpf: age > stale_after_ns).
#include "abi/heartbeat.h"

#include <ctime>

namespace meridian::abi {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Heartbeat heartbeat_of(const mdn_control& control, uint64_t now_ns) {
  Heartbeat h;
  h.written = control.heartbeat_ns != 0;
  const uint64_t age_ns =
      h.written && now_ns > control.heartbeat_ns ? now_ns - control.heartbeat_ns : 0;
  h.age_seconds = static_cast<double>(age_ns) / 1e9;
  h.stale_after_seconds = static_cast<double>(control.stale_after_ns) / 1e9;
  h.stale = control.stale_after_ns != 0 && age_ns > control.stale_after_ns;
  return h;
}

}  // namespace meridian::abi
