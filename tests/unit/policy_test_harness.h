// The test side of maps/meridian_policy.h: health bits, latency values, CIDR location and an
// xorshift32 random state held in one struct, exactly as tests/unit/policy_bpf_check.bpf.c
// defines them, so the unit tests and the BPF equivalence test drive the same evaluation.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "geo/geo_point.h"
#include "meridian_policy.h"  // layouts

namespace meridian::policy::test {

// Same layout as struct policy_case in policy_bpf_check.bpf.c (the packet of the BPF test).
struct PolicyCase {
  mdn_client client;
  uint64_t healthy = ~0ULL;  // health slot i healthy when bit i is set
  uint32_t cidr = MDN_NO_LOCATION;
  uint32_t rng = 2463534242u;
  uint32_t latency[16];
  mdn_decision decision;
};
static_assert(sizeof(PolicyCase) == 24 + 8 + 4 + 4 + 64 + 16);

inline uint32_t case_random(PolicyCase* c) {
  uint32_t x = c->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  c->rng = x;
  return x;
}

}  // namespace meridian::policy::test

#define MDN_POLICY_CTX meridian::policy::test::PolicyCase
#define MDN_POLICY_HEALTHY(ctx, slot) (((ctx)->healthy >> ((slot)&63)) & 1)
#define MDN_POLICY_RANDOM(ctx) meridian::policy::test::case_random(ctx)
#define MDN_POLICY_LATENCY_MS(ctx, profile, region) ((ctx)->latency[(region)&15])
#define MDN_POLICY_CIDR_LOCATION(ctx, collection) ((ctx)->cidr)
#include "meridian_policy.h"  // the evaluation, with the macros above

namespace meridian::policy::test {

// One candidate, written compactly in test tables.
struct Cand {
  uint32_t health = MDN_NO_HEALTH;
  uint32_t location = 0;
  uint8_t weight = 0;
  uint8_t role = MDN_ROLE_PRIMARY;
  int8_t bias = 0;
  geo::LatLon at{};
};

inline mdn_group make_group(uint8_t policy, const std::vector<Cand>& cands,
                            uint8_t all_down = MDN_ALL_DOWN_FAIL_OPEN, uint32_t collection = 0) {
  mdn_group g{};
  g.policy = policy;
  g.all_down = all_down;
  g.count = static_cast<uint8_t>(cands.size());
  g.collection = collection;
  for (size_t i = 0; i < cands.size(); ++i) {
    mdn_candidate& c = g.candidates[i];
    c.record_set = static_cast<uint32_t>(i);
    c.health = cands[i].health;
    c.location = cands[i].location;
    c.weight = cands[i].weight;
    c.role = cands[i].role;
    c.bias = cands[i].bias;
    c.point = geo::to_point(cands[i].at);
  }
  return g;
}

inline PolicyCase make_case() {
  PolicyCase c{};
  c.healthy = ~0ULL;
  c.cidr = MDN_NO_LOCATION;
  c.rng = 2463534242u;
  for (auto& l : c.latency) l = MDN_NO_LATENCY;
  return c;
}

}  // namespace meridian::policy::test
