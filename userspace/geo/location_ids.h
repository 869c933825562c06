// Stable 16-bit ids for continents, countries and subdivisions, the same for every zone load, so
// that the fast path's geolocation LPM (client facts) never has to change when zones reload.
#pragma once

#include <cstdint>
#include <string_view>

namespace meridian::geo {

// The two ASCII letters packed (c0 << 8 | c1): "EU", "DE". 0 for anything that is not exactly two
// upper-case letters. Pure functions: the id of a code never depends on what was seen before.
std::uint16_t continent_id(std::string_view code);
std::uint16_t country_id(std::string_view code);

// Process-wide, thread-safe, append-only interning of ISO 3166-2 codes ("US-CA"): ids from 1 in
// order of first use, never reused or forgotten. 0 for the empty code, and 0 once all 65535 ids
// are taken (callers that define locations report that as an error).
std::uint16_t subdivision_id(std::string_view code);
// How many subdivision ids are handed out (for tests and sizing).
std::uint32_t subdivision_id_count();

}  // namespace meridian::geo
