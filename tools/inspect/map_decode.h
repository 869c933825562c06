// Decoding of the fast path's map entries (maps/meridian_maps.h) into JSON: names, answers and
// their RRs, groups and candidates, prefixes and client facts, health, latency, stats, RRL.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>

#include "dns/name.h"
#include "inspect/pinned_maps.h"
#include "meridian_maps.h"

namespace meridian::inspect {

// Text of a zero-padded, uncompressed, lowercased wire name ("www.example."); "<bad name>" when
// the bytes are not a name.
std::string wire_name_text(std::span<const uint8_t> wire);

// The RRs of an answer's sections (as written after the question, compressed against it), decoded
// by placing them behind a question for (qname, qtype): [{section, owner, ttl, type, rdata}]; on a
// parse failure one element {"error", "hex"}.
nlohmann::ordered_json decode_sections(const dns::Name& qname, uint16_t qtype, uint16_t ancount,
                                       uint16_t nscount, uint16_t arcount,
                                       std::span<const uint8_t> data);
// The same as "owner ttl IN TYPE rdata" lines (sections after the first one marked).
std::string sections_text(const nlohmann::ordered_json& records);

std::string policy_name(uint8_t policy);
std::string all_down_name(uint8_t all_down);
// "EU", "DE" from a packed id (c0 << 8 | c1); "#<id>" for anything else, "" for 0.
std::string code_text(uint16_t id);
// A candidate's location in words, for its group's policy: "country DE", "continent EU",
// "subdivision #3", "default (*)", "cidr location 2", "region 5".
std::string location_text(uint8_t policy, uint32_t location);

nlohmann::ordered_json client_json(const mdn_client& client);
nlohmann::ordered_json prefix_key_json(const mdn_prefix_key& key);
// "198.18.0.0/24" for a prefix key (prefixlen counts the table and family head bits).
std::string prefix_text(const mdn_prefix_key& key);

struct DumpOptions {
  std::optional<uint32_t> generation;  // default: the live one
  size_t limit = SIZE_MAX;
};

// Every entry of pinned map `name` decoded: {map, type, generation?, entries: [...], truncated}.
// Error codes (Failure): kNotFound for an unknown map, kUnavailable when the pins cannot be read.
Result<nlohmann::ordered_json> dump_map(const PinnedMaps& maps, const std::string& name,
                                        const DumpOptions& options);

// Per-CPU stats summed: {counter name: value} in enum order.
Result<nlohmann::ordered_json> read_stats(const PinnedMaps& maps);

// meridiand's heartbeat in mdn_control: {written, age_s, stale_after_s, stale}, or nullopt.
std::optional<nlohmann::ordered_json> read_heartbeat(const PinnedMaps& maps);
// One line for it: "1.2 s ago (stale after 30 s)", "... STALE: ...", "none written".
std::string heartbeat_text(const nlohmann::ordered_json& heartbeat);

// Every line of `text` prefixed with `indent`.
std::string indent_lines(const std::string& text, const std::string& indent);

// The human form of a dump: one line per entry, nested lists indented.
std::string dump_text(const nlohmann::ordered_json& dump);

}  // namespace meridian::inspect
