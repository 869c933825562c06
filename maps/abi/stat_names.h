// Names of the XDP program's counters (enum mdn_stat), for logs, the CLI and metrics labels.
#pragma once

#include <cstddef>

#include "meridian_maps.h"

namespace meridian::abi {

// "answered", "pass_name_miss", ...; "unknown" for a value outside the enum.
const char* stat_name(size_t index);

}  // namespace meridian::abi
