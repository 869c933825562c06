// Decoding of the fast path's map entries into JSON, and their human form.
#include "inspect/map_decode.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "abi/heartbeat.h"
#include "abi/stat_names.h"
#include "dns/message.h"
#include "dns/rdata_text.h"
#include "dns/types.h"
#include "meridian_rrl.h"

namespace meridian::inspect {

using json = nlohmann::ordered_json;

namespace {

// Length of the uncompressed wire name at the start of `wire` (0 when it is not one).
size_t wire_name_length(std::span<const uint8_t> wire) {
  size_t at = 0;
  while (at < wire.size()) {
    const uint8_t len = wire[at];
    if (len == 0) return at + 1;
    if (len > 63) return 0;
    at += 1 + len;
  }
  return 0;
}

std::optional<dns::Name> wire_name(std::span<const uint8_t> wire) {
  const size_t len = wire_name_length(wire);
  if (len == 0) return std::nullopt;
  auto name = dns::Name::from_wire(wire.first(len));
  if (!name) return std::nullopt;
  return *name;
}

std::string hex(std::span<const uint8_t> bytes, size_t max = 64) {
  std::string out;
  char b[4];
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    std::snprintf(b, sizeof(b), "%02x", bytes[i]);
    out += b;
  }
  if (bytes.size() > max) out += "...";
  return out;
}

std::string address_text(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == MDN_FAMILY_IPV4 ? AF_INET : AF_INET6, addr, buf, sizeof(buf));
  return buf;
}

std::string type_text(uint16_t type) {
  return type == 0 ? "(negative)" : dns::type_to_text(type);
}

template <typename T>
T as(const std::vector<uint8_t>& bytes) {
  T v{};
  std::memcpy(&v, bytes.data(), std::min(sizeof(T), bytes.size()));
  return v;
}

// (name, qtype) of every policy group of one generation, by group index, from the name maps.
std::map<uint32_t, std::pair<std::string, uint16_t>> group_owners(const PinnedMaps& maps,
                                                                  uint32_t gen) {
  std::map<uint32_t, std::pair<std::string, uint16_t>> out;
  for (int c = 0; c < MDN_NAME_CLASSES; ++c) {
    auto outer = maps.map("mdn_names" + std::to_string(c));
    if (!outer) continue;
    MapFd inner = inner_map(outer->get(), gen);
    if (!inner.valid()) continue;
    const MapInfo info = map_info(inner.get());
    for (const auto& key : map_keys(inner.get(), info.key_size)) {
      auto v = map_value(inner.get(), info, key.data());
      if (!v) continue;
      const auto a = as<mdn_answer>(*v);
      if (a.kind != MDN_ANSWER_POLICY) continue;
      out[a.csum] = {wire_name_text(std::span(key).subspan(2)),
                     static_cast<uint16_t>(key[0] << 8 | key[1])};
    }
  }
  return out;
}

json answer_json(const std::vector<uint8_t>& key, const std::vector<uint8_t>& value) {
  const uint16_t qtype = static_cast<uint16_t>(key[0] << 8 | key[1]);
  const auto a = as<mdn_answer>(value);
  const auto qname = wire_name(std::span(key).subspan(2));
  json e = {{"name", wire_name_text(std::span(key).subspan(2))}, {"type", type_text(qtype)}};
  const uint16_t length = std::min<uint16_t>(a.length, MDN_ANSWER_MAX);
  switch (a.kind) {
    case MDN_ANSWER_POLICY:
      e["kind"] = "policy";
      e["group"] = a.csum;
      break;
    case MDN_ANSWER_NEGATIVE: {
      e["kind"] = "negative";
      mdn_negative neg{};
      std::memcpy(&neg, a.data + MDN_NEG_AT, sizeof(neg));
      e["nodata"] = neg.nodata != 0;
      json types = json::array();
      for (uint16_t t : neg.types)
        if (t) types.push_back(dns::type_to_text(t));
      e["types_present"] = types;
      e["nxdomain_bytes"] = neg.nx_length;
      if (neg.nodata && qname && length <= MDN_NEG_AT)
        e["records"] = decode_sections(*qname, 65534, a.ancount, a.nscount, a.arcount,
                                       std::span(a.data, length));
      break;
    }
    default:
      e["kind"] = "static";
      e["rcode"] = dns::rcode_to_text(a.flags & 0xf);
      e["aa"] = (a.flags & 0x0400) != 0;
      e["ancount"] = a.ancount;
      e["nscount"] = a.nscount;
      e["arcount"] = a.arcount;
      e["length"] = a.length;
      if (a.shuffle) e["shuffled_records"] = a.shuffle;
      if (qname)
        e["records"] = decode_sections(*qname, qtype, a.ancount, a.nscount, a.arcount,
                                       std::span(a.data, length));
  }
  return e;
}

json candidate_json(uint8_t policy, const mdn_candidate& c, uint32_t index,
                    std::optional<bool> healthy) {
  json j = {{"index", index}, {"fragment", c.record_set}};
  j["health_slot"] = c.health == MDN_NO_HEALTH ? json(nullptr) : json(c.health);
  j["healthy"] = c.health == MDN_NO_HEALTH ? json(true) : healthy ? json(*healthy) : json(nullptr);
  switch (policy) {
    case MDN_POLICY_WEIGHTED:
      j["weight"] = c.weight;
      break;
    case MDN_POLICY_FAILOVER:
      j["role"] = c.role == MDN_ROLE_SECONDARY ? "secondary" : "primary";
      break;
    case MDN_POLICY_GEOPROXIMITY:
      j["bias"] = c.bias;
      j["location"] = location_text(policy, c.location);
      break;
    case MDN_POLICY_GEOLOCATION:
    case MDN_POLICY_LATENCY:
    case MDN_POLICY_IP_BASED:
      j["location"] = location_text(policy, c.location);
      break;
    default:
      break;
  }
  return j;
}

std::optional<bool> slot_healthy(int health_fd, uint32_t slot) {
  if (slot == MDN_NO_HEALTH) return true;
  if (health_fd < 0 || slot >= MDN_HEALTH_SLOTS) return std::nullopt;
  uint32_t down = 0;
  if (bpf_map_lookup_elem(health_fd, &slot, &down) != 0) return std::nullopt;
  return down == 0;
}

json rrl_config_json(const mdn_rrl_config& c) {
  return {{"enabled", c.enabled != 0},
          {"responses_per_second", c.responses_per_second},
          {"burst", c.burst},
          {"slip", c.slip},
          {"ipv4_prefix_len", c.ipv4_prefix_len},
          {"ipv6_prefix_len", c.ipv6_prefix_len}};
}

bool generational(const std::string& name) {
  return name.rfind("mdn_names", 0) == 0 || name == "mdn_groups" || name == "mdn_fragments" ||
         name == "mdn_prefixes" || name == "mdn_latency";
}

}  // namespace

std::string wire_name_text(std::span<const uint8_t> wire) {
  auto name = wire_name(wire);
  return name ? name->to_text() : "<bad name>";
}

json decode_sections(const dns::Name& qname, uint16_t qtype, uint16_t ancount, uint16_t nscount,
                     uint16_t arcount, std::span<const uint8_t> data) {
  std::vector<uint8_t> wire = {0, 0, 0x84, 0, 0, 1};
  for (uint16_t n : {ancount, nscount, arcount}) {
    wire.push_back(static_cast<uint8_t>(n >> 8));
    wire.push_back(static_cast<uint8_t>(n));
  }
  const auto qw = qname.wire();
  wire.insert(wire.end(), qw.begin(), qw.end());
  wire.push_back(static_cast<uint8_t>(qtype >> 8));
  wire.push_back(static_cast<uint8_t>(qtype));
  wire.push_back(0);
  wire.push_back(1);
  wire.insert(wire.end(), data.begin(), data.end());
  const dns::ParseResult parsed = dns::parse_message(wire);
  json out = json::array();
  if (!parsed.ok()) {
    out.push_back({{"error", dns::parse_error_name(parsed.error)}, {"hex", hex(data)}});
    return out;
  }
  auto add = [&out](const char* section, const std::vector<dns::ResourceRecord>& rrs) {
    for (const auto& rr : rrs)
      out.push_back({{"section", section},
                     {"owner", rr.owner.to_text()},
                     {"ttl", rr.ttl},
                     {"type", dns::type_to_text(rr.type)},
                     {"rdata", dns::rdata_to_text(rr.type, rr.rdata)}});
  };
  add("answer", parsed.message.answers);
  add("authority", parsed.message.authority);
  add("additional", parsed.message.additional);
  return out;
}

std::string sections_text(const json& records) {
  std::string out;
  for (const auto& r : records) {
    if (r.contains("error")) {
      out += "(undecodable: " + r["error"].get<std::string>() + ") " + r["hex"].get<std::string>() +
             "\n";
      continue;
    }
    const std::string section = r["section"];
    out += (section == "answer" ? "" : section + ": ") + r["owner"].get<std::string>() + " " +
           std::to_string(r["ttl"].get<uint32_t>()) + " IN " + r["type"].get<std::string>() + " " +
           r["rdata"].get<std::string>() + "\n";
  }
  return out;
}

std::string policy_name(uint8_t policy) {
  static const char* kNames[] = {"simple",  "weighted",     "failover", "geolocation",
                                 "latency", "geoproximity", "ip-based", "multivalue"};
  return policy < 8 ? kNames[policy] : "policy " + std::to_string(policy);
}

std::string all_down_name(uint8_t all_down) {
  switch (all_down) {
    case MDN_ALL_DOWN_FAIL_OPEN:
      return "fail-open";
    case MDN_ALL_DOWN_NODATA:
      return "nodata";
    case MDN_ALL_DOWN_SERVFAIL:
      return "servfail";
    default:
      return std::to_string(all_down);
  }
}

std::string code_text(uint16_t id) {
  if (id == 0) return "";
  const char c0 = static_cast<char>(id >> 8), c1 = static_cast<char>(id & 0xff);
  if (c0 >= 'A' && c0 <= 'Z' && c1 >= 'A' && c1 <= 'Z') return std::string{c0, c1};
  return "#" + std::to_string(id);
}

std::string location_text(uint8_t policy, uint32_t location) {
  if (policy == MDN_POLICY_IP_BASED)
    return location == MDN_CIDR_DEFAULT ? "default (*)"
                                        : "cidr location " + std::to_string(location);
  if (policy == MDN_POLICY_GEOLOCATION) {
    const uint32_t level = location >> 16;
    const uint16_t id = static_cast<uint16_t>(location & 0xffff);
    switch (level) {
      case MDN_GEO_LEVEL_CONTINENT:
        return "continent " + code_text(id);
      case MDN_GEO_LEVEL_COUNTRY:
        return "country " + code_text(id);
      case MDN_GEO_LEVEL_SUBDIVISION:
        return "subdivision #" + std::to_string(id);  // interned by meridiand: no code here
      case MDN_GEO_LEVEL_DEFAULT:
        return "default (*)";
      default:
        return "location " + std::to_string(location);
    }
  }
  return "region " + std::to_string(location);
}

json client_json(const mdn_client& c) {
  json j = {{"continent", code_text(c.continent)},
            {"country", code_text(c.country)},
            {"subdivision", c.subdivision ? "#" + std::to_string(c.subdivision) : ""},
            {"has_point", c.has_point != 0}};
  if (c.has_point) j["point"] = {c.point.x, c.point.y, c.point.z};
  return j;
}

std::string prefix_text(const mdn_prefix_key& key) {
  const uint32_t len =
      key.prefixlen >= MDN_PREFIX_HEAD_BITS ? key.prefixlen - MDN_PREFIX_HEAD_BITS : 0;
  return address_text(key.family, key.addr) + "/" + std::to_string(len);
}

json prefix_key_json(const mdn_prefix_key& key) {
  return {{"table", mdn_prefix_key_table(&key)}, {"prefix", prefix_text(key)}};
}

Result<json> read_stats(const PinnedMaps& maps) {
  auto fd = maps.map("mdn_stats");
  if (!fd) return fd.error();
  const MapInfo info = map_info(fd->get());
  json out = json::object();
  for (uint32_t i = 0; i < MDN_STAT_COUNT; ++i) {
    auto v = map_value(fd->get(), info, &i);
    if (!v) return with_code(make_error("cannot read mdn_stats"), Failure::kUnavailable);
    uint64_t sum = 0;
    for (size_t at = 0; at + 8 <= v->size(); at += 8) {
      uint64_t x;
      std::memcpy(&x, v->data() + at, 8);
      sum += x;
    }
    out[abi::stat_name(i)] = sum;
  }
  return out;
}

json heartbeat_json(const mdn_control& control) {
  const auto h = abi::heartbeat_of(control, abi::monotonic_ns());
  return {{"written", h.written},
          {"age_s", h.age_seconds},
          {"stale_after_s", h.stale_after_seconds},
          {"stale", h.stale}};
}

std::optional<json> read_heartbeat(const PinnedMaps& maps) {
  auto control = maps.control();
  if (!control) return std::nullopt;
  return heartbeat_json(*control);
}

std::string heartbeat_text(const json& heartbeat) {
  if (!heartbeat["written"].get<bool>()) return "none written";
  char line[160];
  const double after = heartbeat["stale_after_s"].get<double>();
  if (heartbeat["stale"].get<bool>())
    std::snprintf(line, sizeof line,
                  "%.1f s ago, STALE (after %.0f s): every query goes up, meridiand is not running",
                  heartbeat["age_s"].get<double>(), after);
  else if (after > 0)
    std::snprintf(line, sizeof line, "%.1f s ago (stale after %.0f s)",
                  heartbeat["age_s"].get<double>(), after);
  else
    std::snprintf(line, sizeof line, "%.1f s ago (never stale: stale_after 0)",
                  heartbeat["age_s"].get<double>());
  return line;
}

Result<json> dump_map(const PinnedMaps& maps, const std::string& name, const DumpOptions& options) {
  auto fd = maps.map(name);
  if (!fd) return fd.error();
  MapInfo info = map_info(fd->get());
  json out = {{"map", name}, {"type", map_type_name(info.type)}};
  if (info.type == BPF_MAP_TYPE_RINGBUF) {
    // The query-log ring: a stream meridiand consumes (reading it here would steal events).
    out["entries"] = json::array();
    out["truncated"] = false;
    out["note"] = "ring buffer of sampled query-log events, read by meridiand (query_log)";
    return out;
  }
  json entries = json::array();
  bool truncated = false;
  auto full = [&] {
    if (entries.size() < options.limit) return false;
    truncated = true;
    return true;
  };

  if (name == "mdn_stats") {
    auto stats = read_stats(maps);
    if (!stats) return stats.error();
    for (const auto& [k, v] : stats->items()) {
      if (full()) break;
      entries.push_back({{"counter", k}, {"value", v}});
    }
    out["entries"] = entries;
    out["truncated"] = truncated;
    return out;
  }

  // Maps of maps: read the slot of the chosen generation (mdn_geo has one slot).
  MapFd inner;
  int data_fd = fd->get();
  uint32_t gen = 0;
  if (info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
    if (generational(name)) {
      auto live = maps.live_generation();
      gen = options.generation.value_or(live.value_or(0));
      out["generation"] = gen;
      out["live"] = live && *live == gen;
    }
    inner = inner_map(fd->get(), gen);
    if (!inner.valid()) {
      out["entries"] = entries;
      out["truncated"] = false;
      out["empty_slot"] = true;
      return out;
    }
    data_fd = inner.get();
    info = map_info(data_fd);
  }

  auto health = maps.map("mdn_health");
  const int health_fd = health ? health->get() : -1;
  std::map<uint32_t, std::pair<std::string, uint16_t>> owners;
  std::map<uint32_t, std::pair<std::string, uint16_t>> fragment_owners;
  if (name == "mdn_groups" || name == "mdn_fragments") owners = group_owners(maps, gen);
  if (name == "mdn_fragments") {
    auto groups = maps.map("mdn_groups");
    MapFd ginner = groups ? inner_map(groups->get(), gen) : MapFd();
    if (ginner.valid()) {
      const MapInfo ginfo = map_info(ginner.get());
      for (uint32_t gi = 0; gi < ginfo.max_entries; ++gi) {
        auto v = map_value(ginner.get(), ginfo, &gi);
        if (!v || !owners.count(gi)) continue;
        const auto ge = as<mdn_group_entry>(*v);
        for (uint32_t i = 0; i < ge.group.count && i < MDN_GROUP_MAX; ++i)
          fragment_owners[ge.group.candidates[i].record_set] = owners[gi];
        if (ge.nodata != MDN_NO_FRAGMENT) fragment_owners[ge.nodata] = {owners[gi].first, 65534};
      }
    }
  }

  const bool array = info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY;
  for (const auto& key : map_keys(data_fd, info.key_size)) {
    if (full()) break;
    auto value = map_value(data_fd, info, key.data());
    if (!value) continue;
    uint32_t index = 0;
    if (key.size() >= 4) std::memcpy(&index, key.data(), 4);
    if (name.rfind("mdn_names", 0) == 0) {
      entries.push_back(answer_json(key, *value));
    } else if (name == "mdn_groups") {
      const auto ge = as<mdn_group_entry>(*value);
      json g = {{"group", index},
                {"policy", policy_name(ge.group.policy)},
                {"all_down", all_down_name(ge.group.all_down)},
                {"count", ge.group.count}};
      if (owners.count(index)) {
        g["name"] = owners[index].first;
        g["type"] = dns::type_to_text(owners[index].second);
      }
      if (ge.group.policy == MDN_POLICY_IP_BASED) g["collection"] = ge.group.collection;
      g["nodata_fragment"] = ge.nodata == MDN_NO_FRAGMENT ? json(nullptr) : json(ge.nodata);
      json cands = json::array();
      for (uint32_t i = 0; i < ge.group.count && i < MDN_GROUP_MAX; ++i)
        cands.push_back(candidate_json(ge.group.policy, ge.group.candidates[i], i,
                                       slot_healthy(health_fd, ge.group.candidates[i].health)));
      g["candidates"] = cands;
      entries.push_back(g);
    } else if (name == "mdn_fragments") {
      const auto f = as<mdn_fragment>(*value);
      json j = {{"fragment", index},
                {"ancount", f.ancount},
                {"nscount", f.nscount},
                {"length", f.length}};
      const uint16_t len = std::min<uint16_t>(f.length, MDN_FRAGMENT_MAX);
      auto owner = fragment_owners.find(index);
      std::optional<dns::Name> qname;
      if (owner != fragment_owners.end()) {
        auto n = dns::Name::from_text(owner->second.first);
        if (n) qname = *n;
      }
      if (qname)
        j["records"] = decode_sections(*qname, owner->second.second, f.ancount, f.nscount, 0,
                                       std::span(f.data, len));
      else
        j["hex"] = hex(std::span(f.data, len));
      entries.push_back(j);
    } else if (name == "mdn_prefixes" || name == "mdn_geo") {
      const auto k = as<mdn_prefix_key>(key);
      const auto v = as<mdn_prefix_value>(*value);
      json j = prefix_key_json(k);
      j["scope"] = v.scope;
      if (name == "mdn_geo") {
        j["client"] = client_json(v.client);
      } else if (j["table"] == MDN_TABLE_LATENCY) {
        j["latency_profile"] = v.value;
      } else {
        j["cidr_location"] = v.value == MDN_NO_LOCATION ? json(nullptr) : json(v.value);
      }
      entries.push_back(j);
    } else if (name == "mdn_latency") {
      const auto k = as<mdn_latency_key>(key);
      entries.push_back(
          {{"profile", k.profile}, {"region", k.region}, {"ms", as<uint32_t>(*value)}});
    } else if (name == "mdn_health") {
      const uint32_t down = as<uint32_t>(*value);
      if (down) entries.push_back({{"slot", index}, {"state", "unhealthy"}});
    } else if (name == "mdn_control") {
      const auto control = as<mdn_control>(*value);
      json e = {{"generation", control.generation}, {"qlog_sample", control.qlog_sample}};
      e["heartbeat"] = heartbeat_json(control);
      entries.push_back(e);
    } else if (name == "mdn_rrl_config") {
      entries.push_back(rrl_config_json(as<mdn_rrl_config>(*value)));
    } else if (name == "mdn_rrl_allow") {
      const auto k = as<mdn_rrl_allow_key>(key);
      entries.push_back(
          {{"prefix",
            address_text(k.family == MDN_RRL_FAMILY_IPV4 ? MDN_FAMILY_IPV4 : MDN_FAMILY_IPV6,
                         k.addr) +
                "/" + std::to_string(k.prefixlen >= 8 ? k.prefixlen - 8 : 0)}});
    } else if (name == "mdn_rrl_buckets") {
      const auto k = as<mdn_rrl_key>(key);
      const auto b = as<mdn_rrl_bucket>(*value);
      static const char* kClasses[] = {"answer", "nxdomain", "error"};
      entries.push_back({{"prefix", address_text(k.family == MDN_RRL_FAMILY_IPV4 ? MDN_FAMILY_IPV4
                                                                                 : MDN_FAMILY_IPV6,
                                                 k.addr) +
                                        "/" + std::to_string(k.prefix_len)},
                         {"class", k.klass < 3 ? kClasses[k.klass] : std::to_string(k.klass)},
                         {"tat_ns", b.tat},
                         {"slip_count", b.slip_count}});
    } else if (array && std::all_of(value->begin(), value->end(), [](uint8_t x) { return !x; })) {
      continue;  // unknown array: zero slots say nothing
    } else {
      entries.push_back({{"key", hex(key)}, {"value", hex(*value)}});
    }
  }
  out["entries"] = entries;
  out["truncated"] = truncated;
  return out;
}

std::string indent_lines(const std::string& text, const std::string& indent) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out += indent + text.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  return out;
}

std::string dump_text(const json& dump) {
  std::string out = dump["map"].get<std::string>() + " (" + dump["type"].get<std::string>();
  if (dump.contains("generation"))
    out += ", generation " + std::to_string(dump["generation"].get<uint32_t>()) +
           (dump["live"].get<bool>() ? " live" : " idle");
  out += "): " + std::to_string(dump["entries"].size()) + " entries" +
         (dump["truncated"].get<bool>() ? " (limit reached)" : "") + "\n";
  if (dump.contains("note")) out += "  " + dump["note"].get<std::string>() + "\n";
  auto scalar = [](const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return std::string("-");
    return v.dump();
  };
  for (const auto& e : dump["entries"]) {
    std::string line, nested;
    for (const auto& [k, v] : e.items()) {
      if (k == "records") {
        nested += indent_lines(sections_text(v), "    ");
      } else if (v.is_array() && !v.empty() && v[0].is_object()) {
        for (const auto& item : v) {
          std::string sub;
          for (const auto& [k2, v2] : item.items())
            sub += (sub.empty() ? "" : "  ") + k2 + "=" + scalar(v2);
          nested += "    " + sub + "\n";
        }
      } else if (v.is_object()) {
        // Client facts and the like: the fields that are set, "client=(country=DE has_point=1)".
        std::string sub;
        for (const auto& [k2, v2] : v.items()) {
          if ((v2.is_string() && v2.get<std::string>().empty()) || (v2.is_boolean() && !v2))
            continue;
          sub += (sub.empty() ? "" : " ") + k2 + "=" +
                 (v2.is_string() ? v2.get<std::string>() : v2.dump());
        }
        line += (line.empty() ? "" : "  ") + k + "=(" + sub + ")";
      } else if (v.is_array()) {
        line += (line.empty() ? "" : "  ") + k + "=" + v.dump();
      } else {
        line += (line.empty() ? "" : "  ") + k + "=" + scalar(v);
      }
    }
    out += "  " + line + "\n" + nested;
  }
  return out;
}

}  // namespace meridian::inspect
