// Zone: node index with empty non-terminals, and the checks that keep a zone well formed.
#include "zone/zone.h"

#include <map>
#include <utility>

#include "dns/types.h"

namespace meridian::zone {

const RecordSet* Node::find(uint16_t type) const {
  for (const auto& rs : record_sets)
    if (rs.type == type && rs.is_simple()) return &rs;
  return nullptr;
}

std::vector<const RecordSet*> Node::group(uint16_t type) const {
  std::vector<const RecordSet*> out;
  for (const auto& rs : record_sets)
    if (rs.type == type) out.push_back(&rs);
  return out;
}

Zone::Zone(dns::Name origin) : origin_(std::move(origin)) {
  nodes_.emplace(origin_.key(), Node{origin_, {}});
}

Status Zone::add(RecordSet rs) {
  const std::string owner_text = rs.name.to_text();
  if (!rs.name.is_subdomain_of(origin_))
    return make_error("owner " + owner_text + " is outside the zone " + origin_.to_text());
  if (rs.type == dns::rrtype::SOA && !rs.name.equals(origin_))
    return make_error("SOA record at " + owner_text + " is not at the zone apex");
  if (rs.type == dns::rrtype::OPT || rs.type == 39 /* DNAME */ || rs.type == dns::rrtype::ANY ||
      rs.type == dns::rrtype::AXFR || rs.type == dns::rrtype::IXFR)
    return make_error("type " + dns::type_to_text(rs.type) + " cannot be served from a zone");
  if (rs.rdatas.empty() && !rs.alias)
    return make_error("record set " + owner_text + " " + dns::type_to_text(rs.type) +
                      " has no values");

  // Data below a delegation point: only glue addresses are allowed there.
  for (dns::Name up = rs.name; up.label_count() > origin_.label_count(); up = up.strip_left()) {
    if (up.equals(rs.name) && rs.type == dns::rrtype::NS) continue;
    const Node* cut = find(up);
    if (!cut || up.equals(rs.name)) continue;
    if (!cut->group(dns::rrtype::NS).empty() && rs.type != dns::rrtype::A &&
        rs.type != dns::rrtype::AAAA)
      return make_error(owner_text + " " + dns::type_to_text(rs.type) +
                        " is below the delegation at " + up.to_text() + " (only glue is allowed)");
  }

  auto it = nodes_.find(rs.name.key());
  if (it != nodes_.end()) {
    const Node& node = it->second;
    for (const auto& other : node.record_sets) {
      if (other.type == rs.type && other.set_identifier == rs.set_identifier)
        return make_error("record set " + owner_text + " " + dns::type_to_text(rs.type) +
                          (rs.set_identifier.empty() ? "" : " (" + rs.set_identifier + ")") +
                          " already exists");
      if (other.type == rs.type && other.policy != rs.policy)
        return make_error("record sets " + owner_text + " " + dns::type_to_text(rs.type) +
                          " would mix routing policies " + routing_policy_name(other.policy) +
                          " and " + routing_policy_name(rs.policy));
      if (other.type == rs.type && (other.is_simple() || rs.is_simple()))
        return make_error("record set " + owner_text + " " + dns::type_to_text(rs.type) +
                          " already exists");
      const bool cname_conflict =
          (rs.type == dns::rrtype::CNAME) != (other.type == dns::rrtype::CNAME);
      if (cname_conflict)
        return make_error("CNAME at " + owner_text + " cannot coexist with other data (RFC 1034)");
      if (rs.type == dns::rrtype::SOA && other.type == dns::rrtype::SOA)
        return make_error("a second SOA record set at " + owner_text);
    }
    if (rs.type == dns::rrtype::CNAME && rs.name.equals(origin_))
      return make_error("CNAME at the zone apex " + owner_text + " is not allowed");
  } else if (rs.type == dns::rrtype::CNAME && rs.name.equals(origin_)) {
    return make_error("CNAME at the zone apex " + owner_text + " is not allowed");
  }

  // Create the owner and every empty non-terminal between it and the apex.
  for (dns::Name n = rs.name; n.label_count() > origin_.label_count(); n = n.strip_left()) {
    const std::string key = n.key();
    if (nodes_.count(key)) break;
    nodes_.emplace(key, Node{n, {}});
  }
  nodes_[rs.name.key()].record_sets.push_back(std::move(rs));
  return Ok{};
}

bool Zone::remove(const dns::Name& name, uint16_t type, const std::string& set_identifier) {
  auto it = nodes_.find(name.key());
  if (it == nodes_.end()) return false;
  auto& sets = it->second.record_sets;
  for (auto rs = sets.begin(); rs != sets.end(); ++rs) {
    if (rs->type == type && rs->set_identifier == set_identifier) {
      sets.erase(rs);
      // Remove empty nodes that no longer lead to data (never the apex).
      for (dns::Name n = name; n.label_count() > origin_.label_count(); n = n.strip_left()) {
        auto node = nodes_.find(n.key());
        if (node == nodes_.end() || !node->second.empty()) break;
        bool has_child = false;
        for (const auto& [k, other] : nodes_) {
          if (other.owner.label_count() == n.label_count() + 1 && other.owner.is_subdomain_of(n)) {
            has_child = true;
            break;
          }
        }
        if (has_child) break;
        nodes_.erase(node);
      }
      return true;
    }
  }
  return false;
}

Status Zone::validate() const {
  const Node* apex = find(origin_);
  if (!apex || !apex->find(dns::rrtype::SOA))
    return make_error("zone " + origin_.to_text() + " has no SOA record at its apex");
  const RecordSet* soa = apex->find(dns::rrtype::SOA);
  if (soa->rdatas.size() != 1)
    return make_error("zone " + origin_.to_text() + " must have exactly one SOA record");
  if (!dns::parse_soa(soa->rdatas[0]))
    return make_error("zone " + origin_.to_text() + " has a malformed SOA record");
  // Only glue below a delegation, checked again on the whole zone: add() sees only the cuts that
  // exist already, so data added before the NS above it would otherwise depend on record order.
  for (const auto& [key, node] : nodes_) {
    if (node.owner.label_count() <= origin_.label_count()) continue;  // the apex
    for (const auto& rs : node.record_sets) {
      if (rs.type == dns::rrtype::A || rs.type == dns::rrtype::AAAA) continue;
      for (dns::Name up = node.owner.strip_left(); up.label_count() > origin_.label_count();
           up = up.strip_left()) {
        const Node* cut = find(up);
        if (cut && !cut->group(dns::rrtype::NS).empty())
          return make_error(node.owner.to_text() + " " + dns::type_to_text(rs.type) +
                            " is below the delegation at " + up.to_text() +
                            " (only glue is allowed)");
      }
    }
  }
  // One PRIMARY and one SECONDARY per failover group: a set of the roles seen per node and type.
  for (const auto& [key, node] : nodes_) {
    std::map<std::pair<uint16_t, FailoverRole>, const RecordSet*> roles;
    for (const auto& rs : node.record_sets) {
      if (rs.policy != RoutingPolicy::kFailover || !rs.failover) continue;
      auto [it, fresh] = roles.emplace(std::make_pair(rs.type, *rs.failover), &rs);
      if (!fresh) return make_error(second_failover_role_error(rs, *it->second));
    }
  }
  return Ok{};
}

const RecordSet* Zone::same_failover_role(const RecordSet& rs) const {
  if (rs.policy != RoutingPolicy::kFailover || !rs.failover) return nullptr;
  const Node* node = find(rs.name);
  if (!node) return nullptr;
  for (const auto& other : node->record_sets)
    if (other.type == rs.type && other.set_identifier != rs.set_identifier &&
        other.policy == RoutingPolicy::kFailover && other.failover == rs.failover)
      return &other;
  return nullptr;
}

std::string second_failover_role_error(const RecordSet& second, const RecordSet& first) {
  const std::string role = second.failover == FailoverRole::kPrimary ? "PRIMARY" : "SECONDARY";
  return "failover group " + second.name.to_text() + " " + dns::type_to_text(second.type) +
         " would have a second " + role + ": SetIdentifier \"" + second.set_identifier +
         "\" and \"" + first.set_identifier + "\" (a group has one PRIMARY and one SECONDARY)";
}

const Node* Zone::find(const dns::Name& name) const {
  auto it = nodes_.find(name.key());
  return it == nodes_.end() ? nullptr : &it->second;
}

const RecordSet* Zone::soa() const {
  const Node* apex = find(origin_);
  return apex ? apex->find(dns::rrtype::SOA) : nullptr;
}

std::optional<dns::SoaFields> Zone::soa_fields() const {
  const RecordSet* s = soa();
  if (!s || s->rdatas.empty()) return std::nullopt;
  return dns::parse_soa(s->rdatas[0]);
}

size_t Zone::record_set_count() const {
  size_t n = 0;
  for (const auto& [k, node] : nodes_) n += node.record_sets.size();
  return n;
}

}  // namespace meridian::zone
