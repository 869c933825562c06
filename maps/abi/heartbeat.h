// meridiand's heartbeat in mdn_control, judged the way the XDP program judges it.
#pragma once

#include <cstdint>

#include "meridian_maps.h"

namespace meridian::abi {

// CLOCK_MONOTONIC in nanoseconds: the clock of the program's bpf_ktime_get_*_ns().
uint64_t monotonic_ns();

// mdn_control's heartbeat as the program judges it at `now_ns` (monotonic_ns()).
struct Heartbeat {
  bool written = false;            // a meridiand has written one
  double age_seconds = 0;          // since the last one (0 when none, or written after now_ns)
  double stale_after_seconds = 0;  // 0: never stale
  bool stale = false;              // the program passes every query up
};
Heartbeat heartbeat_of(const mdn_control& control, uint64_t now_ns);

}  // namespace meridian::abi
