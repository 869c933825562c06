// Builds the ZoneSet a configuration names: every zone loaded with its format's loader, or the
// first error (with the loader's file:line or JSON path) and nothing.
#pragma once

#include <memory>

#include "common/result.h"
#include "config/daemon_config.h"
#include "zone/zone_set.h"

namespace meridian::config {

// Loads every zone of `config`. Duplicate origins are rejected. All or nothing: a reload that
// fails leaves the caller's current snapshot untouched.
Result<std::shared_ptr<const zone::ZoneSet>> load_zones(const DaemonConfig& config);

}  // namespace meridian::config
