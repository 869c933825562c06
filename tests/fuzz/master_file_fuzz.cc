// Fuzzes zone::parse_master_file (origin example.com.) and checks a loaded zone prints and reloads.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dns/rdata_text.h"
#include "dns/types.h"
#include "fuzz_check.h"
#include "zone/master_file.h"

namespace {

using namespace meridian;

using meridian::fuzz::check;

// The zone in master-file form, one record per line, every name absolute.
std::string print(const zone::Zone& z) {
  std::string out;
  for (const auto& [key, node] : z.nodes()) {
    for (const zone::RecordSet& rs : node.record_sets) {
      for (const auto& rdata : rs.rdatas) {
        out += rs.name.to_text() + " " + std::to_string(rs.ttl) + " IN " +
               dns::type_to_text(rs.type) + " " + dns::rdata_to_text(rs.type, rdata) + "\n";
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const dns::Name origin = *dns::Name::from_text("example.com.");
  auto loaded = zone::parse_master_file(text, origin, "fuzz.zone");
  if (!loaded) {
    check(!loaded.error().what.empty(), "an error without a reason");
    return 0;
  }
  const zone::Zone& z = *loaded;
  check(z.validate().ok(), "a loaded zone does not validate");
  for (const auto& [key, node] : z.nodes()) {
    check(node.owner.is_subdomain_of(origin), "a node outside the zone");
    for (const zone::RecordSet& rs : node.record_sets) {
      check(rs.name.equals(node.owner), "a record set under the wrong node");
      check(!rs.rdatas.empty() && rs.is_simple(), "an empty or routed record set from a file");
    }
  }

  // What was loaded prints as a master file that loads back to the same record sets.
  const std::string printed = print(z);
  auto again = zone::parse_master_file(printed, origin, "printed.zone");
  if (!again) {
    std::fprintf(stderr, "printed zone:\n%s\nerror: %s\n", printed.c_str(),
                 again.error().to_string().c_str());
    check(false, "a printed zone does not load");
  }
  check(again->node_count() == z.node_count(), "node count changed on reload");
  check(again->record_set_count() == z.record_set_count(), "record set count changed on reload");
  for (const auto& [key, node] : z.nodes()) {
    const zone::Node* other = again->find(node.owner);
    check(other != nullptr, "a node is missing after reload");
    for (const zone::RecordSet& rs : node.record_sets) {
      const zone::RecordSet* match = nullptr;
      for (const zone::RecordSet& o : other->record_sets)
        if (o.type == rs.type) match = &o;
      check(match != nullptr, "a record set is missing after reload");
      check(match->ttl == rs.ttl, "TTL changed on reload");
      check(match->rdatas == rs.rdatas, "RDATA changed on reload");
    }
  }
  return 0;
}
