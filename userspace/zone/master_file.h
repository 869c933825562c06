// RFC 1035 master file loader: $ORIGIN, $TTL, $INCLUDE, relative names, "@", omitted owner/TTL/
// class, parentheses across lines, comments, quoted strings. Errors name "file:line".
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "dns/name.h"
#include "zone/zone.h"

namespace meridian::zone {

// Loads the file at `path` as zone `origin`. The returned zone has passed Zone::validate().
Result<Zone> load_master_file(const std::string& path, const dns::Name& origin);
// Same, from text; `source_name` is used in error locations.
Result<Zone> parse_master_file(std::string_view text, const dns::Name& origin,
                               std::string_view source_name);

}  // namespace meridian::zone
