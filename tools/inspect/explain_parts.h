// The parts of explain (tools/inspect/explain.h) shared between its files: the name maps of the
// live generation, the client as the program takes it, and the verdicts. Internal to inspect/.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "dns/name.h"
#include "inspect/pinned_maps.h"
#include "meridian_maps.h"

namespace meridian::inspect::detail {

// The name maps of one generation, opened once per class.
class NameMaps {
 public:
  NameMaps(const PinnedMaps& maps, uint32_t gen);
  bool complete() const;
  // The entry for (qtype, lowercased wire name), as the program looks it up.
  std::optional<mdn_answer> find(uint16_t qtype, const std::string& key) const;

 private:
  MapFd inner_[MDN_NAME_CLASSES];
};

// The client address as the program takes it: from ECS with a source prefix > 0, else the
// packet's source address.
struct ExplainClient {
  mdn_prefix_key key{};     // family and address (only `source` bits of an ECS address)
  uint32_t source = 0;      // the source prefix length: the address bits the client sent
  bool have_ecs = false;    // the query has an ECS option
  bool usable_ecs = false;  // ... with a source prefix > 0: the address came from it
};

// "ADDR/LEN" of the client's address cut to `len` bits.
std::string client_prefix_text(const mdn_prefix_key& client, uint32_t len);

void pass_up(nlohmann::ordered_json& out, const std::string& reason);
void answer(nlohmann::ordered_json& out, uint16_t flags, nlohmann::ordered_json records);

// A routing-policy entry (bpf/policy.h): the group's decision for the client, every candidate
// and why it is or is not in the answer.
void explain_policy(nlohmann::ordered_json& out, const PinnedMaps& maps, uint32_t gen,
                    const mdn_answer& entry, const dns::Name& qname, uint16_t qtype,
                    const ExplainClient& client);

// A name not in the maps, or QNAME's negative entry only (bpf/negative.h): NODATA or NXDOMAIN
// where the program makes them exact, else up.
void explain_negative(nlohmann::ordered_json& out, const NameMaps& names, const dns::Name& qname,
                      uint16_t qtype);

}  // namespace meridian::inspect::detail
