// Names of the XDP program's counters (enum mdn_stat), for logs, the CLI and metrics labels.
#pragma once

#include <cstddef>

#include "meridian_maps.h"

namespace meridian::abi {

// "answered", "pass_name_miss", ...; "unknown" for a value outside the enum.
const char* stat_name(size_t index);

// Whether counter `index` counts DNS queries over UDP to a served port that the program passed up
// for userspace to answer (pass_name_miss, pass_policy, pass_frame_grow, ...). The other pass_
// counters count packets that are no such query (not IP, not UDP, TCP segments, other ports, IP
// fragments, IPv6 extension headers). With `answered`, these give the fast path's hit ratio of
// UDP queries from the program's counters alone.
bool is_query_pass(size_t index);

}  // namespace meridian::abi
