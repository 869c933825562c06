// RDATA presentation format (RFC 1035 section 5, RFC 3597 generic form) to and from wire form.
// Used by the zone file and Route 53 JSON loaders and by tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "dns/name.h"

namespace meridian::dns {

// Parses the RDATA text of one record (already joined across parentheses, comments removed),
// e.g. "10 mail" for MX, "\"v=spf1 -all\" \"second\"" for TXT, "0 issue \"ca.example\"" for CAA.
// Relative names are completed with `origin`. Supports A, AAAA, NS, CNAME, SOA, PTR, MX, TXT, SRV,
// CAA, HINFO and the generic "\# <len> <hex>" form for any type. The error says which field is bad.
Result<std::vector<uint8_t>> rdata_from_text(uint16_t type, std::string_view text,
                                             const Name& origin);

// Presentation form (as dig and Knot print it, names absolute); generic form for unknown types.
std::string rdata_to_text(uint16_t type, std::span<const uint8_t> rdata);

}  // namespace meridian::dns
