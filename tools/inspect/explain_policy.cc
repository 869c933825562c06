// Explain for a routing-policy entry: the decision is mdn_policy_decide from
// maps/meridian_policy.h, compiled here with MDN_POLICY_* macros that read the pinned maps where
// bpf/policy.h reads the program's maps; the client facts and the ECS scope follow the same shared
// rules (mdn_policy_uses, mdn_policy_scope). Random draws are shown as each candidate's share.
#include <bpf/bpf.h>

#include <algorithm>
#include <map>
#include <vector>

#include "inspect/explain_parts.h"
#include "inspect/map_decode.h"

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
  mdn_prefix_key_set_table(&key, table);
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

namespace meridian::inspect::detail {

namespace {

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

}  // namespace

void explain_policy(json& out, const PinnedMaps& maps, uint32_t gen, const mdn_answer& entry,
                    const dns::Name& qname, uint16_t qtype, const ExplainClient& client) {
  const uint32_t gi = entry.csum;
  out["entry"] = {{"kind", "policy"}, {"group", gi}};
  if (!client.usable_ecs && client.key.family == MDN_FAMILY_IPV6 &&
      mdn_ipv4_mapped(client.key.addr))
    return pass_up(out, "an IPv4-mapped IPv6 source address (userspace reads it as IPv4)");
  const bool usable_ecs = client.usable_ecs, have_ecs = client.have_ecs;
  ExplainContext ctx;
  ctx.client = client.key;
  ctx.source = client.source;
  auto groups = maps.map("mdn_groups");
  auto fragments = maps.map("mdn_fragments");
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

  auto health = maps.map("mdn_health");
  auto prefixes = maps.map("mdn_prefixes");
  auto latency = maps.map("mdn_latency");
  auto geo = maps.map("mdn_geo");
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
  const uint32_t uses = mdn_policy_uses(g.policy);
  if (uses & MDN_USED_GEO) {
    auto hit = lookup_prefix(geo_inner.get(), ctx.client, MDN_TABLE_GEO,
                             mdn_family_bits(ctx.client.family));
    if (!hit) return pass_up(out, "the client's address is not in the GeoIP table (mdn_geo)");
    cl = hit->first.client;
    cl.latency_profile = MDN_NO_PROFILE;
    geo_scope = hit->first.scope;
    facts["geo"] = {{"prefix", client_prefix_text(ctx.client, hit->second)},
                    {"scope", geo_scope},
                    {"client", client_json(cl)}};
    if (uses & MDN_USED_LATENCY_TABLE) {
      auto lat = lookup_prefix(ctx.prefixes_fd, ctx.client, MDN_TABLE_LATENCY, ctx.source);
      if (!lat)
        return pass_up(out, "the latency table has no region for " +
                                client_prefix_text(ctx.client, ctx.source) +
                                ": the answer depends on address bits the client did not send");
      cl.latency_profile = lat->first.value;
      latency_scope = lat->first.scope;
      facts["latency_table"] = {{"prefix", client_prefix_text(ctx.client, lat->second)},
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
  const uint32_t scope = mdn_policy_scope(&d, geo_scope, latency_scope, ctx.cidr_scope,
                                          mdn_family_bits(ctx.client.family));
  out["ecs_scope"] = have_ecs ? json(usable_ecs ? scope : 0) : json(nullptr);

  // Each candidate in group order: its health, and why it is or is not in the answer.
  uint64_t healthy_mask = 0;
  for (uint32_t i = 0; i < g.count && i < MDN_GROUP_MAX; ++i)
    if (healthy(&ctx, g.candidates[i].health)) healthy_mask |= 1ULL << i;
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
      const uint32_t ms = latency_ms(&ctx, cl.latency_profile, c.location);
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

}  // namespace meridian::inspect::detail
