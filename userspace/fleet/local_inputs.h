// The GSLB inputs a fleet does not share yet (docs/fleet.md, "What is shared"): CIDR collections,
// the latency table, user regions, the all-down choices and RRL settings come from each edge's
// config file, so edges answer alike only when those agree. Each edge publishes a digest of its
// own in its edge record; an edge whose digest differs from the others' is named in the log and
// in `meridianctl cluster status`, so drift is seen, not silent.
#pragma once

#include <string>

#include "config/daemon_config.h"

namespace meridian::fleet {

// 16 hex digits of the SHA-256 of the inputs above in a canonical JSON form.
std::string local_inputs_digest(const config::DaemonConfig& config);

}  // namespace meridian::fleet
