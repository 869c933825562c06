// GslbEngine: the userspace side of maps/meridian_policy.h — health slots read from the
// HealthView (aliases evaluated from their target group), xorshift64* random numbers, latency
// and CIDR lookups from the DecisionTable — and alias resolution of the chosen record sets.
#include "policy/gslb_engine.h"

#include <algorithm>
#include <random>

namespace meridian::policy {
namespace detail {

// Everything the policy macros need for one query.
struct PolicyContext {
  const DecisionTable* table = nullptr;
  const ClientClassifier* classifier = nullptr;
  const ClientAddress* client = nullptr;
  uint64_t* random_state = nullptr;
  ClientFacts facts;  // classified on first use
  bool classified = false;
  uint8_t cidr_scope = 0;  // longest CIDR scope used by this query's decisions
  uint8_t scope = 0;       // longest ECS scope of the decisions made (answers and alias health)
  int depth = 0;           // alias nesting
};

// Alias chains are loop-free (checked at build) but bounded anyway.
constexpr int kMaxAliasDepth = 8;

bool target_healthy(PolicyContext* ctx, const dns::Name& target, uint16_t type);
bool decides_healthy_answer(PolicyContext* ctx, const mdn_group& group);

uint32_t healthy(PolicyContext* ctx, uint32_t slot) {
  if (slot == MDN_NO_HEALTH) return 1;
  if (const AliasEntry* a = ctx->table->alias(slot)) {
    if (a->own_health != MDN_NO_HEALTH && !healthy(ctx, a->own_health)) return 0;
    return target_healthy(ctx, a->target, a->type) ? 1 : 0;
  }
  const HealthView* view = ctx->table->health();
  return !view || view->healthy(slot) ? 1 : 0;
}

// "At least one healthy answer" (spec rule 9): plain records of the type at the target, or a
// policy group that, decided for this client, answers with a healthy candidate.
bool target_healthy(PolicyContext* ctx, const dns::Name& target, uint16_t type) {
  if (ctx->depth >= kMaxAliasDepth) return false;
  if (const GroupEntry* g = ctx->table->find(target, type)) {
    ++ctx->depth;
    const bool any = decides_healthy_answer(ctx, g->group);
    --ctx->depth;
    return any;
  }
  const zone::Zone* z = ctx->table->zones().find_zone(target);
  const zone::Node* node = z ? z->find(target) : nullptr;
  return node && node->find(type) != nullptr;
}

uint32_t random32(PolicyContext* ctx) {
  uint64_t x = *ctx->random_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *ctx->random_state = x;
  return static_cast<uint32_t>((x * 0x2545F4914F6CDD1DULL) >> 32);
}

uint32_t cidr_location(PolicyContext* ctx, uint32_t collection) {
  uint8_t scope = 0;
  const uint32_t loc = ctx->classifier->cidr_location(collection, *ctx->client, &scope);
  ctx->cidr_scope = std::max(ctx->cidr_scope, scope);
  return loc;
}

}  // namespace detail
}  // namespace meridian::policy

#define MDN_POLICY_CTX meridian::policy::detail::PolicyContext
#define MDN_POLICY_HEALTHY(ctx, slot) meridian::policy::detail::healthy(ctx, slot)
#define MDN_POLICY_RANDOM(ctx) meridian::policy::detail::random32(ctx)
#define MDN_POLICY_LATENCY_MS(ctx, profile, region) (ctx)->table->latency_ms(profile, region)
#define MDN_POLICY_CIDR_LOCATION(ctx, collection) \
  meridian::policy::detail::cidr_location(ctx, collection)
#include "meridian_policy.h"

namespace meridian::policy {
namespace detail {

// One decision for `group` and this query's client. An alias may decide several groups for one
// query (its answer, its targets' health): the answer's scope is the longest.
mdn_decision decide(PolicyContext* ctx, const mdn_group& group) {
  if ((mdn_policy_uses(group.policy) & MDN_USED_GEO) && !ctx->classified) {
    ctx->facts = ctx->classifier->classify(*ctx->client);
    ctx->classified = true;
  }
  mdn_decision d;
  mdn_policy_decide(ctx, &group, &ctx->facts.client, &d);
  ctx->scope = std::max(ctx->scope, static_cast<uint8_t>(mdn_policy_scope(
                                        &d, ctx->facts.geo_scope, ctx->facts.latency_scope,
                                        ctx->cidr_scope, ctx->client->max_len())));
  return d;
}

// Whether the group answers this client with at least one healthy candidate: decided with every
// unhealthy candidate left out (all down: NODATA, never fail open). A geolocation or IP-based
// group with no record set for the client's location answers nothing, so an alias to it is
// unhealthy for that client.
bool decides_healthy_answer(PolicyContext* ctx, const mdn_group& group) {
  mdn_group healthy_only = group;
  healthy_only.all_down = MDN_ALL_DOWN_NODATA;
  return decide(ctx, healthy_only).outcome == MDN_OUTCOME_ANSWER;
}

}  // namespace detail

namespace {

using Query = detail::PolicyContext;

Outcome decide_group(const GroupEntry& g, Query& q, std::vector<const zone::RecordSet*>& out) {
  const mdn_decision d = detail::decide(&q, g.group);
  if (d.outcome == MDN_OUTCOME_SERVFAIL) return Outcome::kServFail;
  if (d.outcome != MDN_OUTCOME_ANSWER) return Outcome::kNoData;

  const size_t before = out.size();
  for (uint32_t i = 0; i < g.group.count; ++i) {
    if (!(d.chosen & (1ULL << i))) continue;
    const zone::RecordSet* rs = g.record_sets[i];
    if (!rs->alias) {
      out.push_back(rs);
      continue;
    }
    // Alias: the target's records of the queried type, decided again when the target routes.
    const dns::Name& target = rs->alias->dns_name;
    if (q.depth >= detail::kMaxAliasDepth) return Outcome::kServFail;
    if (const GroupEntry* tg = q.table->find(target, g.type)) {
      ++q.depth;
      const Outcome o = decide_group(*tg, q, out);
      --q.depth;
      if (o == Outcome::kServFail) return o;
      continue;
    }
    const zone::Zone* z = q.table->zones().find_zone(target);
    const zone::Node* node = z ? z->find(target) : nullptr;
    if (const zone::RecordSet* t = node ? node->find(g.type) : nullptr) out.push_back(t);
  }
  return out.size() > before ? Outcome::kAnswer : Outcome::kNoData;
}

}  // namespace

Result<std::shared_ptr<const GslbEngine>> GslbEngine::build(const zone::ZoneSet& zones,
                                                            const GslbInputs& inputs) {
  auto table = DecisionTable::build(zones, inputs);
  if (!table) return table.error();
  return std::shared_ptr<const GslbEngine>(new GslbEngine(std::move(*table)));
}

GslbAnswer GslbEngine::answer(const GroupEntry& group, const ClientAddress& client) const {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32 | rd()) | 1;
  }();
  return answer(group, client, state);
}

GslbAnswer GslbEngine::answer(const GroupEntry& group, const ClientAddress& client,
                              uint64_t& random_state) const {
  if (random_state == 0) random_state = 0x9E3779B97F4A7C15ULL;  // xorshift must not start at 0
  Query q;
  q.table = table_.get();
  q.classifier = &classifier_;
  q.client = &client;
  q.random_state = &random_state;
  GslbAnswer a;
  a.outcome = decide_group(group, q, a.record_sets);
  if (a.outcome != Outcome::kAnswer) a.record_sets.clear();
  a.scope = q.scope;
  return a;
}

Result<std::shared_ptr<const zone::ZoneSet>> attach_gslb(const zone::ZoneSet& zones,
                                                         const GslbInputs& inputs) {
  auto engine = GslbEngine::build(zones, inputs);
  if (!engine) return engine.error();
  return std::make_shared<const zone::ZoneSet>(zones.zones(), *engine);
}

const GslbEngine* gslb_engine(const zone::ZoneSet& zones) {
  return dynamic_cast<const GslbEngine*>(zones.attachment());
}

}  // namespace meridian::policy
