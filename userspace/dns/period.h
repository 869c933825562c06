// Time periods as master files write TTLs and SOA timers: seconds, or numbers with units
// ("1h30m", "2d", "1w"; s m h d w in either case), the BIND extension Knot and NSD also read.
#pragma once

#include <cstdint>
#include <string_view>

namespace meridian::dns {

enum class PeriodStatus { kOk, kBad, kTooLarge };

// The seconds in `text` into *seconds. kTooLarge once a number or the sum passes 2^32-1 (checked
// as the text is read, so the first problem met is the one reported); kBad for a character that
// is neither a digit nor a unit, or, when `unit_needs_number`, a unit with no number before it.
// Master-file TTLs have always let a unit follow a unit ("1hm" is 1h); SOA timers do not.
PeriodStatus parse_period_seconds(std::string_view text, bool unit_needs_number, uint32_t* seconds);

}  // namespace meridian::dns
