// Fuzzes the Route 53 JSON loader and change batches applied to a small zone.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "zone/route53_json.h"

namespace {

using namespace meridian;
using nlohmann::json;

using meridian::fuzz::check;

const dns::Name& origin() {
  static const dns::Name n = *dns::Name::from_text("example.net.");
  return n;
}

// The zone change batches are applied to: apex data, a host, a CNAME and a weighted pair.
const zone::Zone& base_zone() {
  static const zone::Zone z = [] {
    auto loaded = zone::parse_route53_json(R"([
      {"Name": "example.net.", "Type": "SOA", "TTL": 900, "ResourceRecords": [
        {"Value": "ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 300"}]},
      {"Name": "example.net.", "Type": "NS", "TTL": 3600, "ResourceRecords": [
        {"Value": "ns1.example.net."}]},
      {"Name": "ns1.example.net.", "Type": "A", "TTL": 3600, "ResourceRecords": [
        {"Value": "198.18.0.53"}]},
      {"Name": "www.example.net.", "Type": "CNAME", "TTL": 300, "ResourceRecords": [
        {"Value": "api.example.net."}]},
      {"Name": "api.example.net.", "Type": "A", "TTL": 60, "SetIdentifier": "one", "Weight": 10,
       "ResourceRecords": [{"Value": "198.18.0.1"}]},
      {"Name": "api.example.net.", "Type": "A", "TTL": 60, "SetIdentifier": "two", "Weight": 20,
       "ResourceRecords": [{"Value": "198.18.0.2"}]}
    ])",
                                           origin(), "base");
    if (!loaded) {
      std::fprintf(stderr, "base zone does not load: %s\n", loaded.error().to_string().c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return z;
}

// Every record set survives record_set_to_json -> record_set_from_json unchanged.
void check_json_round_trip(const zone::Zone& z) {
  for (const auto& [key, node] : z.nodes()) {
    for (const zone::RecordSet& rs : node.record_sets) {
      const json j = zone::record_set_to_json(rs);
      auto back = zone::record_set_from_json(j, origin(), "");
      if (!back) {
        std::fprintf(stderr, "%s\n%s\n", j.dump().c_str(), back.error().to_string().c_str());
        check(false, "a record set's own JSON does not load");
      }
      if (zone::record_set_to_json(*back) != j) {
        std::fprintf(stderr, "%s\n%s\n", j.dump().c_str(),
                     zone::record_set_to_json(*back).dump().c_str());
        check(false, "a record set changed through JSON");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = zone::parse_route53_json(text, origin(), "fuzz.json");
  if (loaded) {
    check(loaded->validate().ok(), "a loaded zone does not validate");
    check_json_round_trip(*loaded);
  }

  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return 0;
  auto batch = zone::change_batch_from_json(j, origin());
  if (!batch) return 0;
  zone::Zone z = base_zone();
  const json before = zone::record_set_to_json(*base_zone().soa());
  const size_t sets_before = z.record_set_count();
  const size_t nodes_before = z.node_count();
  if (auto s = zone::apply_change_batch(z, *batch); !s) {
    // All or nothing: a rejected batch leaves the zone as it was.
    check(z.record_set_count() == sets_before && z.node_count() == nodes_before,
          "a rejected batch changed the zone");
    check(zone::record_set_to_json(*z.soa()) == before, "a rejected batch changed the SOA");
    return 0;
  }
  check(z.validate().ok(), "a batch left a zone that does not validate");
  check_json_round_trip(z);
  return 0;
}
