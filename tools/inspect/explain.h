// Explain: the answer the XDP program would give to one query from one client, and why, computed
// from the pinned maps with the program's own decision code (maps/meridian_policy.h).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "inspect/pinned_maps.h"

namespace meridian::inspect {

struct ExplainRequest {
  std::string name;                   // "www.example.com" (a trailing dot is optional)
  std::string type;                   // "A", "AAAA", "TYPE65", ...
  std::optional<std::string> client;  // the packet's source address
  std::optional<std::string> ecs;     // "ADDR/LEN": the query's ECS option
};

// The explanation as JSON. Error codes (Failure): kNotFound for a bad name, type or address
// (usage), kUnavailable when the maps cannot be read.
Result<nlohmann::ordered_json> explain(const PinnedMaps& maps, const ExplainRequest& request);

// The human form: the entry, the client's facts, each candidate and the verdict.
std::string explain_text(const nlohmann::ordered_json& explanation);

}  // namespace meridian::inspect
