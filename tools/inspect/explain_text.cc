// The human form of an explanation: the entry, the client's facts, each candidate and the
// verdict, from the JSON that explain() returns.
#include <cstdio>

#include "inspect/explain.h"
#include "inspect/map_decode.h"
#include "meridian_maps.h"

namespace meridian::inspect {

using json = nlohmann::ordered_json;

std::string explain_text(const json& e) {
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };
  line("query:      " + e["query"]["name"].get<std::string>() + " " +
       e["query"]["type"].get<std::string>() + "  (generation " +
       std::to_string(e["generation"].get<uint32_t>()) + ")");
  line("client:     " + e["client"]["address"].get<std::string>() + " (" +
       e["client"]["from"].get<std::string>() + ")");
  if (e.contains("entry")) {
    const auto& en = e["entry"];
    std::string s = en["kind"].get<std::string>();
    if (en.contains("group")) s += " group " + std::to_string(en["group"].get<uint32_t>());
    if (e.contains("group"))
      s += ": " + e["group"]["policy"].get<std::string>() + ", " +
           std::to_string(e["group"]["count"].get<int>()) +
           " candidates, all down: " + e["group"]["all_down"].get<std::string>();
    if (en.contains("shuffled_records"))
      s += " (" + std::to_string(en["shuffled_records"].get<int>()) +
           " records sent in a random order)";
    if (en.contains("closest_encloser"))
      s += ", closest encloser " + en["closest_encloser"].get<std::string>();
    line("entry:      " + s);
  } else {
    line("entry:      none for this name and type");
  }
  if (e.contains("client_facts")) {
    const auto& f = e["client_facts"];
    if (f.contains("geo")) {
      const auto& c = f["geo"]["client"];
      std::string facts;
      for (const char* k : {"continent", "country", "subdivision"})
        if (!c[k].get<std::string>().empty())
          facts += std::string(" ") + k + " " + c[k].get<std::string>();
      line("geoip:      " + f["geo"]["prefix"].get<std::string>() + " ->" +
           (facts.empty() ? " no location" : facts) +
           (c["has_point"].get<bool>() ? ", position known" : "") + " (scope " +
           std::to_string(f["geo"]["scope"].get<int>()) + ")");
    }
    if (f.contains("latency_table"))
      line("latency:    " + f["latency_table"]["prefix"].get<std::string>() + " -> " +
           (f["latency_table"]["profile"].get<uint32_t>() == MDN_NO_PROFILE
                ? std::string("no profile (distances decide)")
                : "profile " + std::to_string(f["latency_table"]["profile"].get<uint32_t>())) +
           " (scope " + std::to_string(f["latency_table"]["scope"].get<int>()) + ")");
    if (f.contains("cidr"))
      for (const auto& c : f["cidr"])
        line("cidr:       collection " + std::to_string(c["collection"].get<uint32_t>()) + ": " +
             c["prefix"].get<std::string>() + " -> location " + c["location"].dump() + " (scope " +
             std::to_string(c["scope"].get<int>()) + ")");
  }
  if (e.contains("candidates")) {
    line("candidates, in group order:");
    for (const auto& c : e["candidates"]) {
      std::string s = "  #" + std::to_string(c["index"].get<int>());
      for (const char* k :
           {"role", "location", "weight", "bias", "latency_ms", "distance_km", "biased_km"})
        if (c.contains(k))
          s += std::string("  ") + k + "=" +
               (c[k].is_string() ? c[k].get<std::string>() : c[k].dump());
      s += std::string("  ") + (c["healthy"].get<bool>() ? "healthy" : "UNHEALTHY");
      if (!c["health_slot"].is_null()) s += " (slot " + c["health_slot"].dump() + ")";
      if (c.contains("probability")) {
        char p[32];
        std::snprintf(p, sizeof(p), "%.4f", c["probability"].get<double>());
        s += std::string("  p=") + p;
      }
      s += "  " + c["why"].get<std::string>();
      line(s);
      if (c.contains("records"))
        for (const auto& r : c["records"])
          if (r.contains("rdata"))
            line("      " + r["type"].get<std::string>() + " " + r["rdata"].get<std::string>());
    }
  }
  if (e.contains("outcome")) line("outcome:    " + e["outcome"].get<std::string>());
  if (e["verdict"] == "passed to userspace") {
    line("verdict:    passed to userspace: " + e["reason"].get<std::string>());
    return out;
  }
  std::string v = "answered by XDP: " + e["rcode"].get<std::string>();
  if (e.contains("negative")) v += " (" + e["negative"].get<std::string>() + ")";
  if (e.contains("ecs_scope"))
    v += e["ecs_scope"].is_null() ? ", no ECS" : ", ECS scope " + e["ecs_scope"].dump();
  line("verdict:    " + v);
  if (e.contains("chosen") && e["chosen"].is_string()) {
    line("answer:     one of the candidates above, drawn at random per query (p=)");
  } else if (e.contains("records") && !e["records"].empty()) {
    line("answer:");
    out += indent_lines(sections_text(e["records"]), "  ");
  }
  return out;
}

}  // namespace meridian::inspect
