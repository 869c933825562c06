// Explain: one query evaluated against the pinned maps exactly as the XDP program evaluates it.
// The routing decision is mdn_policy_decide from maps/meridian_policy.h, compiled here with
// MDN_POLICY_* macros that read the pinned maps where bpf/policy.h reads the program's maps.
#include "inspect/explain.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "abi/heartbeat.h"
#include "abi/name_classes.h"
#include "dns/name.h"
#include "dns/types.h"
#include "inspect/map_decode.h"
#include "meridian_maps.h"

namespace meridian::inspect::detail {

using json = nlohmann::ordered_json;

// What the decision code reads through the macros, and what it asked for, so the explanation
// can show it.
struct ExplainContext {
  int health_fd = -1;
  int latency_fd = -1;   // this generation's operator latency values
  int prefixes_fd = -1;  // this generation's latency table and CIDR collections
  mdn_prefix_key client{};
  uint32_t source = 0;  // the client's source prefix length
  bool fail = false;    // a table could not decide exactly: the query goes up
  std::string fail_reason;
  uint32_t cidr_scope = 0;
  uint32_t cidr_location = MDN_NO_LOCATION;
  json cidr = json::array();  // the CIDR lookups made
  bool record = true;         // record lookups (the first evaluation only)
  // Random draws: each returns the next value of `sequence`, else `forced_random`.
  uint32_t forced_random = 0;
  std::vector<uint32_t> sequence;
  size_t next = 0;
  bool random_used = false;
};

// The shortest prefix length (of those up to `bits`) at which the LPM trie answers for the
// client's address: the tables hold disjoint prefixes, so a lookup succeeds exactly when its
// length reaches the matching prefix's, and that length is the prefix matched.
std::optional<std::pair<mdn_prefix_value, uint32_t>> lookup_prefix(int fd,
                                                                   const mdn_prefix_key& client,
                                                                   uint32_t table, uint32_t bits) {
  mdn_prefix_key key = client;
  key.table[0] = static_cast<uint8_t>(table >> 24);
  key.table[1] = static_cast<uint8_t>(table >> 16);
  key.table[2] = static_cast<uint8_t>(table >> 8);
  key.table[3] = static_cast<uint8_t>(table);
  mdn_prefix_value value{};
  key.prefixlen = MDN_PREFIX_HEAD_BITS + bits;
  if (fd < 0 || bpf_map_lookup_elem(fd, &key, &value) != 0) return std::nullopt;
  uint32_t lo = 0, hi = bits;  // the lookup succeeds at hi
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    mdn_prefix_value v{};
    key.prefixlen = MDN_PREFIX_HEAD_BITS + mid;
    if (bpf_map_lookup_elem(fd, &key, &v) == 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return std::make_pair(value, hi);
}

// "ADDR/LEN" of the client's address cut to `len` bits.
std::string client_prefix_text(const mdn_prefix_key& client, uint32_t len) {
  mdn_prefix_key k = client;
  for (uint32_t bit = len; bit < 128; ++bit)
    k.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  k.prefixlen = MDN_PREFIX_HEAD_BITS + len;
  return prefix_text(k);
}

uint32_t healthy(ExplainContext* ctx, uint32_t slot) {
  if (slot >= MDN_HEALTH_SLOTS) return 1;  // MDN_NO_HEALTH
  uint32_t down = 0;
  if (ctx->health_fd < 0 || bpf_map_lookup_elem(ctx->health_fd, &slot, &down) != 0) return 1;
  return down ? 0 : 1;
}

uint32_t random32(ExplainContext* ctx) {
  ctx->random_used = true;
  if (ctx->next < ctx->sequence.size()) return ctx->sequence[ctx->next++];
  return ctx->forced_random;
}

uint32_t latency_ms(ExplainContext* ctx, uint32_t profile, uint32_t region) {
  mdn_latency_key key{profile, region};
  uint32_t ms = 0;
  if (ctx->latency_fd < 0 || bpf_map_lookup_elem(ctx->latency_fd, &key, &ms) != 0)
    return MDN_NO_LATENCY;
  return ms;
}

uint32_t cidr_location(ExplainContext* ctx, uint32_t collection) {
  auto hit = lookup_prefix(ctx->prefixes_fd, ctx->client, collection, ctx->source);
  if (!hit) {
    ctx->fail = true;
    ctx->fail_reason = "CIDR collection " + std::to_string(collection) + " has no block for " +
                       client_prefix_text(ctx->client, ctx->source) +
                       ": the answer depends on address bits the client did not send";
    return MDN_NO_LOCATION;
  }
  ctx->cidr_scope = std::max<uint32_t>(ctx->cidr_scope, hit->first.scope);
  ctx->cidr_location = hit->first.value;
  if (ctx->record)
    ctx->cidr.push_back(
        {{"collection", collection},
         {"prefix", client_prefix_text(ctx->client, hit->second)},
         {"location", hit->first.value == MDN_NO_LOCATION ? json("none") : json(hit->first.value)},
         {"scope", hit->first.scope}});
  return hit->first.value;
}

}  // namespace meridian::inspect::detail

#define MDN_POLICY_CTX meridian::inspect::detail::ExplainContext
#define MDN_POLICY_HEALTHY(ctx, slot) meridian::inspect::detail::healthy(ctx, slot)
#define MDN_POLICY_RANDOM(ctx) meridian::inspect::detail::random32(ctx)
#define MDN_POLICY_LATENCY_MS(ctx, profile, region) \
  meridian::inspect::detail::latency_ms(ctx, profile, region)
#define MDN_POLICY_CIDR_LOCATION(ctx, collection) \
  meridian::inspect::detail::cidr_location(ctx, collection)
#include "meridian_policy.h"

namespace meridian::inspect {

using json = nlohmann::ordered_json;
using detail::ExplainContext;

namespace {

// Parses "ADDR" into a prefix key's family and address.
bool parse_address(const std::string& text, mdn_prefix_key& key) {
  key = mdn_prefix_key{};
  if (inet_pton(AF_INET, text.c_str(), key.addr) == 1) {
    key.family = MDN_FAMILY_IPV4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), key.addr) == 1) {
    key.family = MDN_FAMILY_IPV6;
    return true;
  }
  return false;
}

uint32_t family_bits(const mdn_prefix_key& k) {
  return k.family == MDN_FAMILY_IPV4 ? 32 : 128;
}

// The name maps of one generation, opened once per class.
class NameMaps {
 public:
  NameMaps(const PinnedMaps& maps, uint32_t gen) {
    for (int c = 0; c < MDN_NAME_CLASSES; ++c) {
      auto outer = maps.map("mdn_names" + std::to_string(c), nullptr);
      if (outer) inner_[c] = inner_map(outer->get(), gen);
    }
  }
  bool complete() const {
    return std::all_of(std::begin(inner_), std::end(inner_),
                       [](const MapFd& fd) { return fd.valid(); });
  }
  // The entry for (qtype, lowercased wire name), as the program looks it up.
  std::optional<mdn_answer> find(uint16_t qtype, const std::string& key) const {
    const int c = abi::name_class(key.size());
    if (c < 0 || !inner_[c].valid()) return std::nullopt;
    std::vector<uint8_t> k(2 + abi::name_class_size(c), 0);
    k[0] = static_cast<uint8_t>(qtype >> 8);
    k[1] = static_cast<uint8_t>(qtype);
    std::memcpy(k.data() + 2, key.data(), key.size());
    mdn_answer a;
    if (bpf_map_lookup_elem(inner_[c].get(), k.data(), &a) != 0) return std::nullopt;
    return a;
  }

 private:
  MapFd inner_[MDN_NAME_CLASSES];
};

void pass_up(json& out, const std::string& reason) {
  out["verdict"] = "passed to userspace";
  out["reason"] = reason;
}

void answer(json& out, uint16_t flags, json records) {
  out["verdict"] = "answer";
  out["rcode"] = dns::rcode_to_text(flags & 0xf);
  out["aa"] = (flags & 0x0400) != 0;
  out["records"] = std::move(records);
}

// Names not in the maps, or QNAME's negative entry only: NODATA or NXDOMAIN from the negative
// entries where the program can make them exact (bpf/negative.h), else up.
void explain_negative(json& out, const NameMaps& names, const dns::Name& qname, uint16_t qtype) {
  const std::string key = qname.key();
  if (qtype == 0 || qtype == 41 || (qtype >= 128 && qtype <= 255))
    return pass_up(out,
                   "name miss: " + dns::type_to_text(qtype) + " queries are answered by userspace");
  if (auto a = names.find(0, key)) {
    mdn_negative n{};
    std::memcpy(&n, a->data + MDN_NEG_AT, sizeof(n));
    out["entry"] = {{"kind", "negative"}, {"name_exists", true}};
    if (a->kind != MDN_ANSWER_NEGATIVE || !n.nodata || a->length > MDN_NEG_AT)
      return pass_up(out, "name miss: the name exists but has no NODATA answer in the maps");
    for (uint16_t t : n.types)
      if (t == qtype)
        return pass_up(out, "name miss: the name has " + dns::type_to_text(qtype) +
                                " data whose answer stayed in userspace");
    out["negative"] = "NODATA";
    return answer(out, a->flags,
                  decode_sections(qname, qtype, a->ancount, a->nscount, a->arcount,
                                  std::span(a->data, a->length)));
  }
  // The walk up to the closest encloser, one label per step, at most 8 steps.
  std::string cur = key;
  uint8_t child[8] = {};
  std::optional<mdn_answer> found;
  for (int step = 0; step < 8 && !found; ++step) {
    const size_t lab = static_cast<uint8_t>(cur[0]);
    if (lab == 0 || lab > 63 || cur.size() <= lab + 1) break;
    std::memset(child, 0, sizeof(child));
    std::memcpy(child, cur.data(), std::min<size_t>(lab + 1, 8));
    cur = cur.substr(lab + 1);
    found = names.find(0, cur);
  }
  if (!found)
    return pass_up(out,
                   "name miss: neither the name nor an ancestor within 8 labels is in "
                   "the maps");
  const std::string encloser =
      wire_name_text(std::span(reinterpret_cast<const uint8_t*>(cur.data()), cur.size()));
  out["entry"] = {{"kind", "negative"}, {"name_exists", false}, {"closest_encloser", encloser}};
  mdn_negative n{};
  std::memcpy(&n, found->data + MDN_NEG_AT, sizeof(n));
  if (found->kind != MDN_ANSWER_NEGATIVE || n.nx_length == 0 || n.nx_length > MDN_NEG_NX_MAX)
    return pass_up(
        out, "name miss: the closest encloser " + encloser + " has no NXDOMAIN answer in the maps");
  for (const auto& unsafe : n.unsafe)
    if (std::memcmp(unsafe, child, 8) == 0)
      return pass_up(out,
                     "name miss: a name in the NXDOMAIN answer would compress against this "
                     "query's labels");
  std::vector<uint8_t> data(n.nx_data, n.nx_data + n.nx_length);
  const int delta = static_cast<int>(key.size()) - static_cast<int>(n.nx_qname_len);
  for (uint32_t i = 0; i < n.npointers && i < MDN_NEG_POINTERS; ++i) {
    const uint32_t at = n.pointers[i];
    if (at + 2 > data.size()) return pass_up(out, "name miss: bad NXDOMAIN entry");
    const uint32_t v = static_cast<uint32_t>(data[at]) << 8 | data[at + 1];
    const uint32_t nv = (v + static_cast<uint32_t>(delta)) & 0xffff;
    if ((v & 0xc000) != 0xc000 || (nv & 0xc000) != 0xc000)
      return pass_up(out, "name miss: bad NXDOMAIN entry");
    data[at] = static_cast<uint8_t>(nv >> 8);
    data[at + 1] = static_cast<uint8_t>(nv);
  }
  out["negative"] = "NXDOMAIN";
  answer(out, n.nx_flags, decode_sections(qname, qtype, 0, n.nx_nscount, 0, data));
}

bool geo_match(const mdn_candidate& c, const mdn_client& cl) {
  const uint32_t level = c.location >> 16, id = c.location & 0xffff;
  return (level == MDN_GEO_LEVEL_SUBDIVISION && cl.subdivision && id == cl.subdivision) ||
         (level == MDN_GEO_LEVEL_COUNTRY && cl.country && id == cl.country) ||
         (level == MDN_GEO_LEVEL_CONTINENT && cl.continent && id == cl.continent) ||
         level == MDN_GEO_LEVEL_DEFAULT;
}

int lowest_bit(uint64_t m) {
  return m ? __builtin_ctzll(m) : -1;
}

void explain_policy(json& out, const PinnedMaps& maps, uint32_t gen, const mdn_answer& entry,
                    const dns::Name& qname, uint16_t qtype, ExplainContext& ctx, bool usable_ecs,
                    bool have_ecs) {
  const uint32_t gi = entry.csum;
  out["entry"] = {{"kind", "policy"}, {"group", gi}};
  auto groups = maps.map("mdn_groups", nullptr);
  auto fragments = maps.map("mdn_fragments", nullptr);
  MapFd groups_inner = groups ? inner_map(groups->get(), gen) : MapFd();
  MapFd fragments_inner = fragments ? inner_map(fragments->get(), gen) : MapFd();
  mdn_group_entry ge{};
  if (!groups_inner.valid() || !fragments_inner.valid() ||
      bpf_map_lookup_elem(groups_inner.get(), &gi, &ge) != 0)
    return pass_up(out, "policy group " + std::to_string(gi) + " is not in the maps");
  const mdn_group& g = ge.group;
  json group = {{"policy", policy_name(g.policy)},
                {"all_down", all_down_name(g.all_down)},
                {"count", g.count}};
  if (g.policy == MDN_POLICY_IP_BASED) group["collection"] = g.collection;
  out["group"] = group;

  auto health = maps.map("mdn_health", nullptr);
  auto prefixes = maps.map("mdn_prefixes", nullptr);
  auto latency = maps.map("mdn_latency", nullptr);
  auto geo = maps.map("mdn_geo", nullptr);
  MapFd prefixes_inner = prefixes ? inner_map(prefixes->get(), gen) : MapFd();
  MapFd latency_inner = latency ? inner_map(latency->get(), gen) : MapFd();
  MapFd geo_inner = geo ? inner_map(geo->get(), 0) : MapFd();
  ctx.health_fd = health ? health->get() : -1;
  ctx.prefixes_fd = prefixes_inner.get();
  ctx.latency_fd = latency_inner.get();

  // The client's facts, for the policies that read them (bpf/policy.h, xdp_policy_answer).
  mdn_client cl{};
  uint32_t geo_scope = 0, latency_scope = 0;
  json facts = json::object();
  if (g.policy == MDN_POLICY_GEOLOCATION || g.policy == MDN_POLICY_LATENCY ||
      g.policy == MDN_POLICY_GEOPROXIMITY) {
    auto hit =
        detail::lookup_prefix(geo_inner.get(), ctx.client, MDN_TABLE_GEO, family_bits(ctx.client));
    if (!hit) return pass_up(out, "the client's address is not in the GeoIP table (mdn_geo)");
    cl = hit->first.client;
    cl.latency_profile = MDN_NO_PROFILE;
    geo_scope = hit->first.scope;
    facts["geo"] = {{"prefix", detail::client_prefix_text(ctx.client, hit->second)},
                    {"scope", geo_scope},
                    {"client", client_json(cl)}};
    if (g.policy == MDN_POLICY_LATENCY) {
      auto lat = detail::lookup_prefix(ctx.prefixes_fd, ctx.client, MDN_TABLE_LATENCY, ctx.source);
      if (!lat)
        return pass_up(out, "the latency table has no region for " +
                                detail::client_prefix_text(ctx.client, ctx.source) +
                                ": the answer depends on address bits the client did not send");
      cl.latency_profile = lat->first.value;
      latency_scope = lat->first.scope;
      facts["latency_table"] = {{"prefix", detail::client_prefix_text(ctx.client, lat->second)},
                                {"profile", lat->first.value},
                                {"scope", latency_scope}};
    }
  }

  mdn_decision d;
  mdn_policy_decide(&ctx, &g, &cl, &d);
  ctx.record = false;
  if (!ctx.cidr.empty()) facts["cidr"] = ctx.cidr;
  out["client_facts"] = facts;
  if (ctx.fail) return pass_up(out, ctx.fail_reason);

  // Random draws: the distribution over candidates instead of one pick, by running the same
  // decision with chosen random values.
  std::map<int, double> probability;
  const bool random = ctx.random_used;
  if (random && g.policy == MDN_POLICY_WEIGHTED) {
    // One draw, reduced modulo the healthy weight total T (<= 64 * 255): for r = 0, 1, ... the
    // walk picks candidates in group order, each for its weight's share of [0, T), then starts
    // again at r = T. Counting picks until that restart gives the exact shares.
    const uint32_t max_draws = MDN_GROUP_MAX * 255 + MDN_GROUP_MAX + 1;
    std::map<int, uint32_t> counts;
    int prev = -1;
    uint32_t period = max_draws;
    for (uint32_t r = 0; r < max_draws; ++r) {
      ctx.forced_random = r;
      mdn_decision dr;
      mdn_policy_decide(&ctx, &g, &cl, &dr);
      const int idx = lowest_bit(dr.chosen);
      if (prev >= 0 && idx < prev) {
        period = r;
        break;
      }
      ++counts[idx];
      prev = idx;
    }
    for (const auto& [idx, n] : counts) probability[idx] = static_cast<double>(n) / period;
  } else if (random) {
    // Multivalue over more than 8 healthy: 8 drawn uniformly without replacement, so each
    // candidate of the pool is in the answer with probability 8 / pool. The pool is found by
    // running the draw with varied values (missing one of 64 in 512 runs: below 1e-29).
    uint64_t pool = 0, state = 0x9e3779b97f4a7c15ULL;
    for (int run = 0; run < 512; ++run) {
      ctx.sequence.clear();
      ctx.next = 0;
      for (int k = 0; k < MDN_MULTIVALUE_MAX; ++k) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ctx.sequence.push_back(static_cast<uint32_t>(state >> 32));
      }
      mdn_decision dr;
      mdn_policy_decide(&ctx, &g, &cl, &dr);
      pool |= dr.chosen;
    }
    const int n = __builtin_popcountll(pool);
    for (int i = 0; i < MDN_GROUP_MAX; ++i)
      if (pool >> i & 1) probability[i] = static_cast<double>(MDN_MULTIVALUE_MAX) / n;
  }

  // The ECS scope: the longest scope of the tables the decision used (xdp_policy_answer).
  uint32_t scope = 0;
  if (d.used & MDN_USED_GEO) scope = geo_scope;
  if ((d.used & MDN_USED_LATENCY_TABLE) && latency_scope > scope) scope = latency_scope;
  if ((d.used & MDN_USED_CIDR) && ctx.cidr_scope > scope) scope = ctx.cidr_scope;
  scope = std::min(scope, family_bits(ctx.client));
  out["ecs_scope"] = have_ecs ? json(usable_ecs ? scope : 0) : json(nullptr);

  // Each candidate in group order: its health, and why it is or is not in the answer.
  uint64_t healthy_mask = 0;
  for (uint32_t i = 0; i < g.count && i < MDN_GROUP_MAX; ++i)
    if (detail::healthy(&ctx, g.candidates[i].health)) healthy_mask |= 1ULL << i;
  const bool fail_open = d.outcome == MDN_OUTCOME_ANSWER && (d.chosen & ~healthy_mask) != 0;
  const int first_chosen = lowest_bit(d.chosen);
  json candidates = json::array();
  for (uint32_t i = 0; i < g.count && i < MDN_GROUP_MAX; ++i) {
    const mdn_candidate& c = g.candidates[i];
    const bool up = healthy_mask >> i & 1;
    json j = {{"index", i}};
    if (g.policy == MDN_POLICY_WEIGHTED) j["weight"] = c.weight;
    if (g.policy == MDN_POLICY_FAILOVER)
      j["role"] = c.role == MDN_ROLE_SECONDARY ? "secondary" : "primary";
    if (g.policy == MDN_POLICY_GEOLOCATION || g.policy == MDN_POLICY_LATENCY ||
        g.policy == MDN_POLICY_GEOPROXIMITY || g.policy == MDN_POLICY_IP_BASED)
      j["location"] = location_text(g.policy, c.location);
    if (g.policy == MDN_POLICY_GEOPROXIMITY) j["bias"] = c.bias;
    if ((g.policy == MDN_POLICY_LATENCY || g.policy == MDN_POLICY_GEOPROXIMITY) && cl.has_point) {
      const uint32_t km = mdn_geo_distance_km(&cl.point, &c.point);
      j["distance_km"] = km;
      if (g.policy == MDN_POLICY_GEOPROXIMITY) j["biased_km"] = mdn_geo_biased_km(km, c.bias);
    }
    if (g.policy == MDN_POLICY_LATENCY && cl.latency_profile != MDN_NO_PROFILE) {
      const uint32_t ms = detail::latency_ms(&ctx, cl.latency_profile, c.location);
      j["latency_ms"] = ms == MDN_NO_LATENCY ? json(nullptr) : json(ms);
    }
    j["health_slot"] = c.health == MDN_NO_HEALTH ? json(nullptr) : json(c.health);
    j["healthy"] = up;
    bool chosen = false;
    std::string why;
    if (random) {
      auto p = probability.find(static_cast<int>(i));
      const double prob = p == probability.end() ? 0.0 : p->second;
      j["probability"] = prob;
      chosen = prob > 0;
      why = prob > 0 ? "random draw"
            : up     ? "not drawn (weight 0 standby, or outside the pool)"
                     : "unhealthy";
      if (prob > 0 && !up) why = "random draw (all down: fail-open)";
    } else {
      chosen = d.outcome == MDN_OUTCOME_ANSWER && (d.chosen >> i & 1);
      const bool matches =
          g.policy == MDN_POLICY_GEOLOCATION ? geo_match(c, cl)
          : g.policy == MDN_POLICY_IP_BASED
              ? c.location == MDN_CIDR_DEFAULT ||
                    (ctx.cidr_location != MDN_NO_LOCATION && c.location == ctx.cidr_location)
              : true;
      if (chosen && fail_open)
        why = "chosen: every candidate that applies is down (all_down fail-open)";
      else if (chosen)
        switch (g.policy) {
          case MDN_POLICY_SIMPLE:
            why = "chosen: the only record set";
            break;
          case MDN_POLICY_FAILOVER:
            why = c.role == MDN_ROLE_SECONDARY
                      ? "chosen: no healthy primary, first healthy secondary"
                      : "chosen: first healthy primary";
            break;
          case MDN_POLICY_GEOLOCATION:
          case MDN_POLICY_IP_BASED:
            why = "chosen: the most specific healthy match";
            break;
          case MDN_POLICY_LATENCY:
          case MDN_POLICY_GEOPROXIMITY:
            why = "chosen: the lowest cost among the healthy";
            break;
          default:
            why = "chosen";
        }
      else if (!up)
        why = "unhealthy";
      else if (!matches)
        why = "does not match the client";
      else if (g.policy == MDN_POLICY_FAILOVER)
        why = "not first: candidate " + std::to_string(first_chosen) + " is chosen";
      else if (g.policy == MDN_POLICY_LATENCY || g.policy == MDN_POLICY_GEOPROXIMITY)
        why = "a lower cost (or earlier equal) candidate is chosen";
      else if (d.outcome == MDN_OUTCOME_ANSWER)
        why = "matches, but a more specific healthy match is chosen";
      else
        why = "not chosen";
    }
    j["chosen"] = chosen;
    j["why"] = why;
    mdn_fragment f{};
    if (bpf_map_lookup_elem(fragments_inner.get(), &c.record_set, &f) == 0)
      j["records"] =
          decode_sections(qname, qtype, f.ancount, f.nscount, 0,
                          std::span(f.data, std::min<uint16_t>(f.length, MDN_FRAGMENT_MAX)));
    candidates.push_back(j);
  }
  out["candidates"] = candidates;

  if (d.outcome == MDN_OUTCOME_SERVFAIL) {
    out["outcome"] = "servfail (all down)";
    return answer(out, 2, json::array());
  }
  if (d.outcome == MDN_OUTCOME_NODATA) {
    out["outcome"] = "nodata";
    mdn_fragment f{};
    if (ge.nodata == MDN_NO_FRAGMENT ||
        bpf_map_lookup_elem(fragments_inner.get(), &ge.nodata, &f) != 0)
      return pass_up(out, "the decision is NODATA and the group has no NODATA answer in the maps");
    return answer(
        out, 0x0400,
        decode_sections(qname, qtype, f.ancount, f.nscount, 0,
                        std::span(f.data, std::min<uint16_t>(f.length, MDN_FRAGMENT_MAX))));
  }
  if (random) {
    out["outcome"] = g.policy == MDN_POLICY_WEIGHTED ? "random: one candidate by weight"
                                                     : "random: 8 candidates of the pool";
    out["verdict"] = "answer";
    out["rcode"] = "NOERROR";
    out["aa"] = true;
    out["chosen"] = "random";
    return;
  }
  out["outcome"] = "answer";
  json chosen = json::array(), records = json::array();
  for (uint32_t i = 0; i < g.count && i < MDN_GROUP_MAX; ++i) {
    if (!(d.chosen >> i & 1)) continue;
    chosen.push_back(i);
    const auto& j = candidates[i];
    if (j.contains("records"))
      for (const auto& r : j["records"]) records.push_back(r);
  }
  out["chosen"] = chosen;
  answer(out, 0x0400, records);
}

// The explanation from the maps' data, as if meridiand's heartbeat were fresh.
std::optional<json> explain_data(const PinnedMaps& maps, const ExplainRequest& req,
                                 InspectError* error) {
  auto usage = [error](const std::string& what) {
    if (error) *error = {Failure::kNotFound, what};
    return std::nullopt;
  };
  std::string text = req.name;
  if (text.empty() || text.back() != '.') text += '.';
  auto qname = dns::Name::from_text(text);
  if (!qname) return usage("not a domain name: " + req.name);
  auto qtype = dns::type_from_text(req.type);
  if (!qtype || *qtype == 0) return usage("unknown type: " + req.type);

  // The client address as the program takes it: ECS with a source prefix > 0, else the
  // packet's source address.
  ExplainContext ctx;
  bool have_ecs = false, usable_ecs = false;
  json client = json::object();
  if (req.ecs) {
    const auto slash = req.ecs->find('/');
    mdn_prefix_key k;
    if (slash == std::string::npos || !parse_address(req.ecs->substr(0, slash), k))
      return usage("--ecs wants ADDRESS/LENGTH: " + *req.ecs);
    uint32_t len = 0;
    try {
      len = static_cast<uint32_t>(std::stoul(req.ecs->substr(slash + 1)));
    } catch (const std::exception&) {
      return usage("--ecs wants ADDRESS/LENGTH: " + *req.ecs);
    }
    if (len > family_bits(k)) return usage("--ecs prefix length too long: " + *req.ecs);
    have_ecs = true;
    if (len > 0) {
      // A client sends only the source prefix's bits (RFC 7871): the rest are zero.
      for (uint32_t bit = len; bit < 128; ++bit)
        k.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
      ctx.client = k;
      ctx.source = len;
      usable_ecs = true;
      client = {{"address", detail::client_prefix_text(k, len)}, {"from", "ECS"}};
    }
  }
  if (!usable_ecs) {
    if (!req.client)
      return usage("--client ADDRESS is needed (or --ecs with a source prefix longer than 0)");
    if (!parse_address(*req.client, ctx.client)) return usage("not an address: " + *req.client);
    ctx.source = family_bits(ctx.client);
    client = {{"address", *req.client}, {"from", "source address"}};
  }

  auto gen = maps.live_generation();
  if (!gen) {
    if (error) *error = {Failure::kUnavailable, "cannot read mdn_control in " + maps.dir()};
    return std::nullopt;
  }
  NameMaps names(maps, *gen);
  if (!names.complete()) {
    if (error)
      *error = {Failure::kUnavailable, "the name maps of generation " + std::to_string(*gen) +
                                           " are missing in " + maps.dir() +
                                           " (no data published yet?)"};
    return std::nullopt;
  }
  json out = {{"query", {{"name", qname->to_text()}, {"type", dns::type_to_text(*qtype)}}},
              {"client", client},
              {"generation", *gen}};
  const std::string key = qname->key();
  auto entry = names.find(*qtype, key);
  if (entry && entry->kind == MDN_ANSWER_STATIC) {
    out["entry"] = {{"kind", "static"}};
    if (entry->shuffle)
      out["entry"]["shuffled_records"] = entry->shuffle;  // sent in a random order (rule 1)
    out["ecs_scope"] = have_ecs ? json(0) : json(nullptr);
    answer(
        out, entry->flags,
        decode_sections(*qname, *qtype, entry->ancount, entry->nscount, entry->arcount,
                        std::span(entry->data, std::min<uint16_t>(entry->length, MDN_ANSWER_MAX))));
    return out;
  }
  if (entry && entry->kind == MDN_ANSWER_POLICY) {
    uint32_t w[4];
    std::memcpy(w, ctx.client.addr, sizeof(w));
    if (!usable_ecs && ctx.client.family == MDN_FAMILY_IPV6 && w[0] == 0 && w[1] == 0 &&
        w[2] == htonl(0xffff)) {
      out["entry"] = {{"kind", "policy"}, {"group", entry->csum}};
      pass_up(out, "an IPv4-mapped IPv6 source address (userspace reads it as IPv4)");
      return out;
    }
    explain_policy(out, maps, *gen, *entry, *qname, *qtype, ctx, usable_ecs, have_ecs);
    return out;
  }
  explain_negative(out, names, *qname, *qtype);
  if (out["verdict"] == "answer") out["ecs_scope"] = have_ecs ? json(0) : json(nullptr);
  return out;
}

}  // namespace

std::optional<json> explain(const PinnedMaps& maps, const ExplainRequest& req,
                            InspectError* error) {
  auto out = explain_data(maps, req, error);
  if (!out) return out;
  // A stale heartbeat sends every query up before the name lookup (bpf/dns_reply.h).
  auto control = maps.control();
  const auto beat = abi::heartbeat_of(control.value_or(mdn_control{}), abi::monotonic_ns());
  if (beat.stale) {
    for (const char* key : {"rcode", "aa", "records", "ecs_scope"}) out->erase(key);
    char reason[128];
    std::snprintf(reason, sizeof reason,
                  "meridiand's heartbeat is %.1f s old, past stale_after (%.0f s)",
                  beat.age_seconds, beat.stale_after_seconds);
    pass_up(*out, reason);
  }
  return out;
}

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
