// Builds the DecisionTable from a ZoneSet and the GSLB inputs, validating everything a decision
// could trip over at load time rather than at query time.
#include "policy/decision_table.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "dns/types.h"
#include "geo/centroids.h"
#include "geo/location_ids.h"
#include "geo/regions.h"

namespace meridian::policy {

std::string group_key(const dns::Name& name, uint16_t type) {
  std::string k = name.key();
  k.push_back(static_cast<char>(type >> 8));
  k.push_back(static_cast<char>(type & 0xff));
  return k;
}

uint32_t DecisionTable::latency_ms(uint32_t profile, uint32_t region) const {
  auto it = latency_ms_.find((static_cast<uint64_t>(profile) << 32) | region);
  return it == latency_ms_.end() ? MDN_NO_LATENCY : it->second;
}

size_t DecisionTable::memory_bytes() const {
  size_t bytes = groups_.size() * (sizeof(GroupEntry) + 64);
  for (const auto& [k, g] : groups_) bytes += g.record_sets.capacity() * sizeof(void*);
  for (const auto& t : cidr_) bytes += t.memory_bytes();
  // A hash node of (key, ms) is a 32-byte allocation; the bucket array adds a pointer per bucket.
  bytes += latency_prefixes_.memory_bytes() + latency_ms_.size() * 32 +
           latency_ms_.bucket_count() * sizeof(void*);
  return bytes;
}

namespace {

std::string where_of(const zone::RecordSet& rs) {
  std::string w = rs.name.to_text() + " " + dns::type_to_text(rs.type);
  if (!rs.set_identifier.empty()) w += " SetIdentifier '" + rs.set_identifier + "'";
  return w;
}

bool is_upper_alpha(std::string_view s, size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

mdn_policy to_mdn(zone::RoutingPolicy p) {
  switch (p) {
    case zone::RoutingPolicy::kSimple:
      return MDN_POLICY_SIMPLE;
    case zone::RoutingPolicy::kWeighted:
      return MDN_POLICY_WEIGHTED;
    case zone::RoutingPolicy::kFailover:
      return MDN_POLICY_FAILOVER;
    case zone::RoutingPolicy::kGeolocation:
      return MDN_POLICY_GEOLOCATION;
    case zone::RoutingPolicy::kLatency:
      return MDN_POLICY_LATENCY;
    case zone::RoutingPolicy::kGeoproximity:
      return MDN_POLICY_GEOPROXIMITY;
    case zone::RoutingPolicy::kIpBased:
      return MDN_POLICY_IP_BASED;
    case zone::RoutingPolicy::kMultivalue:
      return MDN_POLICY_MULTIVALUE;
  }
  return MDN_POLICY_SIMPLE;
}

}  // namespace

class DecisionTableBuilder {
 public:
  DecisionTableBuilder(DecisionTable& t, const GslbInputs& in) : t_(t), in_(in) {}

  Status run(const zone::ZoneSet& zones) {
    t_.zones_ = zone::ZoneSet(zones.zones());
    t_.geo_ = in_.geo;
    t_.health_ = in_.health;
    if (auto s = load_regions(); !s) return s;
    if (auto s = load_cidr(); !s) return s;
    if (auto s = load_latency(); !s) return s;
    std::map<std::string, AllDown> all_down;
    for (size_t i = 0; i < in_.all_down.size(); ++i) {
      const auto& a = in_.all_down[i];
      auto name = dns::Name::from_text(a.name);
      if (!name) return make_error(name.error().what, "all_down[" + std::to_string(i) + "]");
      all_down[group_key(*name, a.type)] = a.mode;
    }
    for (const auto& z : zones.zones()) {
      for (const auto& [key, node] : z->nodes()) {
        std::set<uint16_t> types;
        for (const auto& rs : node.record_sets)
          if (!rs.is_simple()) types.insert(rs.type);
        for (uint16_t type : types) {
          if (auto s = add_group(*z, node, type); !s) return s;
        }
      }
    }
    for (const auto& [key, mode] : all_down) {
      auto it = t_.groups_.find(key);
      if (it == t_.groups_.end())
        return make_error("all_down names a group without a routing policy", "all_down");
      it->second.group.all_down = static_cast<uint8_t>(mode);
    }
    return check_alias_loops();
  }

 private:
  Status load_regions() {
    for (size_t i = 0; i < in_.regions.size(); ++i) {
      if (auto s = regions_.add(in_.regions[i].name, in_.regions[i].coordinates); !s)
        return make_error(s.error().what, "regions[" + std::to_string(i) + "]");
    }
    return Ok{};
  }

  // Region id (>= 1) and point of a built-in or user region; 0 when unknown.
  uint32_t region(std::string_view name, mdn_geo_point* point) {
    const geo::LatLon* at = regions_.find(name);
    if (!at) return 0;
    *point = geo::to_point(*at);
    auto [it, fresh] = t_.regions_.emplace(std::string(name), 0);
    if (fresh) it->second = static_cast<uint32_t>(t_.regions_.size());
    return it->second;
  }

  Status load_cidr() {
    for (const auto& [id, blocks] : in_.cidr_collections) {
      const std::string where = "cidr_collections['" + id + "']";
      PrefixTrie trie;
      auto& names = cidr_locations_[id];
      for (size_t i = 0; i < blocks.size(); ++i) {
        const std::string at = where + "[" + std::to_string(i) + "]";
        auto p = parse_prefix(blocks[i].prefix);
        if (!p) return make_error(p.error().what, at);
        if (p->length > (p->ipv6 ? 48 : 24))
          return make_error("CIDR blocks are at most /24 (IPv4) or /48 (IPv6)", at);
        if (blocks[i].location.empty() || blocks[i].location == "*")
          return make_error("a block needs a location name other than '*'", at);
        auto [it, fresh] = names.emplace(blocks[i].location, 0);
        if (fresh) it->second = static_cast<uint32_t>(names.size());
        if (!trie.insert(*p, it->second))
          return make_error("duplicate block " + blocks[i].prefix, at);
      }
      t_.cidr_.push_back(std::move(trie));
      collections_[id] = static_cast<uint32_t>(t_.cidr_.size());
    }
    return Ok{};
  }

  Status load_latency() {
    size_t profiles = 0;  // ids handed out so far
    t_.latency_ms_.reserve(in_.latency.size());
    for (size_t i = 0; i < in_.latency.size(); ++i) {
      const auto& e = in_.latency[i];
      const std::string at = "latency[" + std::to_string(i) + "]";
      auto p = parse_prefix(e.prefix);
      if (!p) return make_error(p.error().what, at);
      mdn_geo_point point{};
      const uint32_t r = region(e.region, &point);
      if (!r) return make_error("unknown region '" + e.region + "'", at);
      if (e.ms >= MDN_NO_LATENCY) return make_error("latency out of range", at);
      // The trie itself says whether the prefix has a profile already: a second map keyed by
      // prefix text would cost ~100 bytes per prefix and fragment the heap between the rows.
      uint32_t profile = t_.latency_prefixes_.find(*p);
      if (profile == PrefixTrie::kNone) {
        profile = static_cast<uint32_t>(++profiles);
        t_.latency_prefixes_.insert(*p, profile);
      }
      if (!t_.latency_ms_.emplace((static_cast<uint64_t>(profile) << 32) | r, e.ms).second)
        return make_error("duplicate row for " + e.prefix + " and " + e.region, at);
    }
    return Ok{};
  }

  Result<uint32_t> geo_location(const zone::RecordSet& rs, const std::string& where) {
    if (!rs.geolocation) return make_error("geolocation record set without GeoLocation", where);
    const auto& g = *rs.geolocation;
    if (g.country_code == "*") return MDN_GEO_LOCATION(MDN_GEO_LEVEL_DEFAULT, 0);
    if (!g.subdivision_code.empty()) {
      if (!is_upper_alpha(g.country_code, 2))
        return make_error("SubdivisionCode needs a CountryCode", where);
      const uint16_t id = geo::subdivision_id(g.country_code + "-" + upper(g.subdivision_code));
      if (!id) return make_error("too many distinct locations", where);
      return MDN_GEO_LOCATION(MDN_GEO_LEVEL_SUBDIVISION, id);
    }
    if (!g.country_code.empty()) {
      if (!is_upper_alpha(g.country_code, 2))
        return make_error("bad CountryCode '" + g.country_code + "'", where);
      return MDN_GEO_LOCATION(MDN_GEO_LEVEL_COUNTRY, geo::country_id(g.country_code));
    }
    if (!geo::is_continent_code(g.continent_code))
      return make_error("bad ContinentCode '" + g.continent_code + "'", where);
    return MDN_GEO_LOCATION(MDN_GEO_LEVEL_CONTINENT, geo::continent_id(g.continent_code));
  }

  uint32_t health_slot(const std::string& check_id, const std::string& where, Status& st) {
    if (check_id.empty()) return MDN_NO_HEALTH;
    if (!t_.health_) return MDN_NO_HEALTH;  // no health view: every check healthy
    const uint32_t slot = t_.health_->slot_of(check_id);
    if (slot == HealthView::kNoSlot) st = make_error("health view full", where);
    return slot;
  }

  Status add_group(const zone::Zone& z, const zone::Node& node, uint16_t type) {
    GroupEntry e;
    e.name = node.owner;
    e.type = type;
    const std::vector<const zone::RecordSet*> sets = node.group(type);
    const std::string zwhere = "zone " + z.origin().to_text() + ": ";
    if (sets.size() > MDN_GROUP_MAX)
      return make_error("more than " + std::to_string(MDN_GROUP_MAX) + " record sets in one group",
                        zwhere + where_of(*sets.front()));
    const zone::RoutingPolicy policy = sets.front()->policy;
    e.group.policy = static_cast<uint8_t>(to_mdn(policy));
    e.group.count = static_cast<uint8_t>(sets.size());
    std::set<uint32_t> locations;
    for (size_t i = 0; i < sets.size(); ++i) {
      const zone::RecordSet& rs = *sets[i];
      const std::string where = zwhere + where_of(rs);
      mdn_candidate& c = e.group.candidates[i];
      c.record_set = next_record_set_++;
      Status st = Ok{};
      c.health = health_slot(rs.health_check_id, where, st);
      if (!st) return st;
      if (rs.alias) {
        // Route 53 also aliases to names outside hosted zones (CloudFront, ELB); those have no
        // records here, so they answer nothing and count as unhealthy. Kept, with a warning.
        if (!t_.zones_.find_zone(rs.alias->dns_name))
          t_.warnings_.push_back(where + ": alias target " + rs.alias->dns_name.to_text() +
                                 " is not served here: it answers nothing");
        if (rs.alias->evaluate_target_health) {
          t_.aliases_.push_back({rs.alias->dns_name, type, c.health});
          c.health = kAliasSlotBase + static_cast<uint32_t>(t_.aliases_.size() - 1);
        }
        alias_edges_[group_key(node.owner, type)].push_back(group_key(rs.alias->dns_name, type));
        alias_names_[group_key(rs.alias->dns_name, type)] = rs.alias->dns_name.to_text();
        alias_names_[group_key(node.owner, type)] = node.owner.to_text();
      }
      switch (policy) {
        case zone::RoutingPolicy::kSimple:
          break;
        case zone::RoutingPolicy::kWeighted:
          c.weight = rs.weight.value_or(0);
          break;
        case zone::RoutingPolicy::kFailover:
          if (!rs.failover) return make_error("failover record set without Failover", where);
          c.role =
              *rs.failover == zone::FailoverRole::kPrimary ? MDN_ROLE_PRIMARY : MDN_ROLE_SECONDARY;
          break;
        case zone::RoutingPolicy::kGeolocation: {
          auto loc = geo_location(rs, where);
          if (!loc) return loc.error();
          c.location = *loc;
          if (!locations.insert(c.location).second)
            return make_error("two record sets for the same location", where);
          break;
        }
        case zone::RoutingPolicy::kLatency:
          c.location = region(rs.region, &c.point);
          if (!c.location) return make_error("unknown region '" + rs.region + "'", where);
          break;
        case zone::RoutingPolicy::kGeoproximity: {
          if (!rs.geoproximity) return make_error("geoproximity without a location", where);
          const auto& gp = *rs.geoproximity;
          if (gp.bias < MDN_GEO_BIAS_MIN || gp.bias > MDN_GEO_BIAS_MAX)
            return make_error("Bias outside -99..99", where);
          c.bias = static_cast<int8_t>(gp.bias);
          if (!gp.aws_region.empty()) {
            if (!region(gp.aws_region, &c.point))
              return make_error("unknown region '" + gp.aws_region + "'", where);
          } else {
            if (!gp.latitude || !gp.longitude || !geo::is_valid({*gp.latitude, *gp.longitude}))
              return make_error("geoproximity needs a region or valid coordinates", where);
            c.point = geo::to_point({*gp.latitude, *gp.longitude});
          }
          break;
        }
        case zone::RoutingPolicy::kIpBased: {
          if (!rs.cidr_routing) return make_error("IP-based without CidrRoutingConfig", where);
          const auto& cr = *rs.cidr_routing;
          auto coll = collections_.find(cr.collection_id);
          if (coll == collections_.end())
            return make_error("unknown CIDR collection '" + cr.collection_id + "'", where);
          if (e.group.collection && e.group.collection != coll->second)
            return make_error("one group uses one CIDR collection", where);
          e.group.collection = coll->second;
          if (cr.location_name == "*") {
            c.location = MDN_CIDR_DEFAULT;
          } else {
            const auto& names = cidr_locations_[cr.collection_id];
            auto loc = names.find(cr.location_name);
            if (loc == names.end())
              return make_error("CIDR collection '" + cr.collection_id + "' has no location '" +
                                    cr.location_name + "'",
                                where);
            c.location = loc->second;
          }
          if (!locations.insert(c.location).second)
            return make_error("two record sets for the same location", where);
          break;
        }
        case zone::RoutingPolicy::kMultivalue:
          if (type == dns::rrtype::CNAME || type == dns::rrtype::NS)
            return make_error("multivalue answers are not allowed for CNAME or NS", where);
          break;
      }
      e.record_sets.push_back(&rs);
    }
    t_.groups_.emplace(group_key(node.owner, type), std::move(e));
    return Ok{};
  }

  // Alias targets form a graph over (name, type); a cycle would never resolve.
  Status check_alias_loops() {
    std::map<std::string, int> state;  // 1 visiting, 2 done
    std::vector<std::string> path;
    std::function<Status(const std::string&)> visit = [&](const std::string& k) -> Status {
      int& s = state[k];
      if (s == 2) return Ok{};
      if (s == 1) {
        std::string loop;
        for (const auto& p : path) loop += alias_names_[p] + " -> ";
        return make_error("alias loop: " + loop + alias_names_[k], "alias");
      }
      s = 1;
      path.push_back(k);
      auto it = alias_edges_.find(k);
      if (it != alias_edges_.end())
        for (const auto& next : it->second)
          if (auto st = visit(next); !st) return st;
      path.pop_back();
      state[k] = 2;
      return Ok{};
    };
    for (const auto& [k, edges] : alias_edges_)
      if (auto st = visit(k); !st) return st;
    return Ok{};
  }

  DecisionTable& t_;
  const GslbInputs& in_;
  geo::RegionTable regions_;
  std::map<std::string, uint32_t> collections_;
  std::map<std::string, std::map<std::string, uint32_t>> cidr_locations_;
  std::map<std::string, std::vector<std::string>> alias_edges_;
  std::map<std::string, std::string> alias_names_;
  uint32_t next_record_set_ = 0;
};

Result<std::unique_ptr<DecisionTable>> DecisionTable::build(const zone::ZoneSet& zones,
                                                            const GslbInputs& inputs) {
  auto t = std::unique_ptr<DecisionTable>(new DecisionTable());
  DecisionTableBuilder b(*t, inputs);
  if (auto s = b.run(zones); !s) return s.error();
  return t;
}

const GroupEntry* DecisionTable::find(const dns::Name& name, uint16_t type) const {
  if (groups_.empty()) return nullptr;
  auto it = groups_.find(group_key(name, type));
  return it == groups_.end() ? nullptr : &it->second;
}

}  // namespace meridian::policy
