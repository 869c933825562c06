/* GSLB routing policy evaluation (gslb-semantics rules 2-8 and "All down"): written once in C and
 * compiled as is by the XDP program (clang -target bpf) and by the C++ engine, so both answer
 * paths make the same decision from the same tables. No floating point, no recursion, no function
 * pointers, loops with constant bounds.
 *
 * What differs between the two sides (where health states, random numbers, the latency table and
 * CIDR collections live) is reached through macros the includer defines BEFORE including this
 * header:
 *   MDN_POLICY_CTX                       type of the context pointer passed through (default void)
 *   MDN_POLICY_HEALTHY(ctx, slot)        1 when health slot `slot` is healthy, else 0 (also
 *                                        for MDN_NO_HEALTH, which is healthy by definition)
 *   MDN_POLICY_RANDOM(ctx)               a uniformly random __u32
 *   MDN_POLICY_LATENCY_MS(ctx, profile, region)
 *                                        operator-table milliseconds from the client's latency
 *                                        profile to a region, or MDN_NO_LATENCY
 *   MDN_POLICY_CIDR_LOCATION(ctx, collection)
 *                                        the client's location id in a CIDR collection (longest
 *                                        matching block), or MDN_NO_LOCATION
 * Without MDN_POLICY_HEALTHY defined, the header gives the layouts only (for code that builds
 * groups); it may be included again after defining the macros to get the evaluation.
 * Aliases with EvaluateTargetHealth are ordinary candidates here: their health slot is computed
 * by the caller from the target group. */
#ifndef MERIDIAN_POLICY_H
#define MERIDIAN_POLICY_H

#include <linux/types.h>

#include "meridian_geo.h"

#define MDN_POLICY_INLINE static inline __attribute__((always_inline))
#define MDN_GROUP_MAX 64      /* record sets in one group (one bit each in a __u64 mask) */
#define MDN_MULTIVALUE_MAX 8  /* rule 8: up to 8 record sets per multivalue answer */

#define MDN_NO_HEALTH 0xffffffffU   /* candidate without a health check: always healthy */
#define MDN_NO_LATENCY 0xffffffffU  /* the operator table has no value */
#define MDN_NO_LOCATION 0xffffffffU /* the client is in no block of the collection */
#define MDN_NO_PROFILE 0U           /* client in no latency table prefix */

/* Geolocation candidate locations: level << 16 | interned id (ids start at 1). */
#define MDN_GEO_LEVEL_CONTINENT 1U
#define MDN_GEO_LEVEL_COUNTRY 2U
#define MDN_GEO_LEVEL_SUBDIVISION 3U
#define MDN_GEO_LEVEL_DEFAULT 4U
#define MDN_GEO_LOCATION(level, id) (((__u32)(level) << 16) | (__u32)(id))
/* IP-based candidate location for the collection's '*' default. */
#define MDN_CIDR_DEFAULT 0xfffffffeU

enum mdn_policy {
	MDN_POLICY_SIMPLE = 0,
	MDN_POLICY_WEIGHTED = 1,
	MDN_POLICY_FAILOVER = 2,
	MDN_POLICY_GEOLOCATION = 3,
	MDN_POLICY_LATENCY = 4,
	MDN_POLICY_GEOPROXIMITY = 5,
	MDN_POLICY_IP_BASED = 6,
	MDN_POLICY_MULTIVALUE = 7,
};

enum mdn_all_down {
	MDN_ALL_DOWN_FAIL_OPEN = 0,
	MDN_ALL_DOWN_NODATA = 1,
	MDN_ALL_DOWN_SERVFAIL = 2,
};

enum mdn_outcome {
	MDN_OUTCOME_ANSWER = 0,
	MDN_OUTCOME_NODATA = 1,
	MDN_OUTCOME_SERVFAIL = 2,
};

enum mdn_failover_role {
	MDN_ROLE_PRIMARY = 0,
	MDN_ROLE_SECONDARY = 1,
};

/* Client facts a decision depended on: the caller sets the ECS scope to the longest prefix of the
 * table entries behind these facts (0 when none: the answer is the same for every client). */
#define MDN_USED_GEO 0x1U
#define MDN_USED_LATENCY_TABLE 0x2U
#define MDN_USED_CIDR 0x4U

#ifdef __cplusplus
#define MDN_POLICY_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MDN_POLICY_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* One record set of a group. */
struct mdn_candidate {
	__u32 record_set; /* index of the record set's answer in the caller's table */
	__u32 health;     /* health slot, or MDN_NO_HEALTH */
	__u32 location;   /* geolocation: MDN_GEO_LOCATION(); latency: region id; ip-based:
			   * CIDR location id or MDN_CIDR_DEFAULT */
	struct mdn_geo_point point; /* latency region / geoproximity location */
	__u8 weight;                /* weighted: 0..255 */
	__u8 role;                  /* failover: enum mdn_failover_role */
	__s8 bias;                  /* geoproximity: -99..99 */
	__u8 pad;
};
MDN_POLICY_STATIC_ASSERT(sizeof(struct mdn_candidate) == 28, "mdn_candidate is 28 bytes");

struct mdn_group {
	__u8 policy;     /* enum mdn_policy */
	__u8 all_down;   /* enum mdn_all_down */
	__u8 count;      /* candidates used, 1..MDN_GROUP_MAX */
	__u8 pad;
	__u32 collection; /* ip-based: CIDR collection id */
	struct mdn_candidate candidates[MDN_GROUP_MAX];
};
MDN_POLICY_STATIC_ASSERT(sizeof(struct mdn_group) == 8 + 28 * MDN_GROUP_MAX,
			 "mdn_group is 1800 bytes");

/* What the client is, as far as the policies care. The CIDR location is looked up per group
 * (MDN_POLICY_CIDR_LOCATION) because it depends on the group's collection. */
struct mdn_client {
	__u16 continent;   /* interned ids, 0 = unknown */
	__u16 country;
	__u16 subdivision;
	__u8 has_point;
	__u8 pad;
	struct mdn_geo_point point;
	__u32 latency_profile; /* MDN_NO_PROFILE or the latency table prefix the client is in */
};
MDN_POLICY_STATIC_ASSERT(sizeof(struct mdn_client) == 24, "mdn_client is 24 bytes");

struct mdn_decision {
	__u64 chosen; /* bit i set: candidate i is in the answer (in group order) */
	__u8 outcome; /* enum mdn_outcome */
	__u8 count;   /* bits set in chosen, 0..MDN_MULTIVALUE_MAX */
	__u8 used;    /* MDN_USED_* */
	__u8 pad[5];
};
MDN_POLICY_STATIC_ASSERT(sizeof(struct mdn_decision) == 16, "mdn_decision is 16 bytes");

#endif /* MERIDIAN_POLICY_H */

/* ---- The evaluation: only with the side-specific macros defined. ---- */
#if defined(MDN_POLICY_HEALTHY) && !defined(MERIDIAN_POLICY_LOGIC_H)
#define MERIDIAN_POLICY_LOGIC_H

#ifndef MDN_POLICY_CTX
#define MDN_POLICY_CTX void
#endif
#if !defined(MDN_POLICY_RANDOM) || !defined(MDN_POLICY_LATENCY_MS) || \
	!defined(MDN_POLICY_CIDR_LOCATION)
#error "define MDN_POLICY_RANDOM, MDN_POLICY_LATENCY_MS and MDN_POLICY_CIDR_LOCATION too"
#endif

/* The per-policy walks. In BPF they are global functions, which the verifier checks once each on
 * their own instead of once for every path of the caller that reaches them (inlined, the walks
 * multiply each other's paths past the verifier's budget). Their pointer arguments may be null
 * as far as the verifier knows, so each checks them. */
#ifdef __bpf__
#define MDN_POLICY_WALK __attribute__((noinline))
#else
#define MDN_POLICY_WALK MDN_POLICY_INLINE
#endif

/* The per-candidate loops are written without data-dependent branches that leave different
 * constants behind (masks and 0/1 arithmetic instead): the kernel's verifier walks every
 * iteration, and a branch that leaves a known constant in a loop-carried variable doubles the
 * states it must keep apart. MDN_POLICY_OPAQUE stops clang from turning the arithmetic back
 * into compares and branches. */
#define MDN_POLICY_OPAQUE(var) MDN_GEO_OPAQUE(var)

MDN_POLICY_INLINE __u64 mdn_policy_bit(__u32 i)
{
	return 1ULL << (i & (MDN_GROUP_MAX - 1));
}

/* 1 when a == b, else 0; both below 2^32. */
MDN_POLICY_INLINE __u64 mdn_policy_eq(__u64 a, __u64 b)
{
	__u64 x = a ^ b;

	MDN_POLICY_OPAQUE(x);
	x = (x - 1) >> 63;
	MDN_POLICY_OPAQUE(x); /* not known to be 0/1: no select made of a multiply by it */
	return x;
}

/* 1 when a < b, else 0; both below 2^63. */
MDN_POLICY_INLINE __u64 mdn_policy_lt(__u64 a, __u64 b)
{
	__u64 x = a - b;

	MDN_POLICY_OPAQUE(x);
	x >>= 63;
	MDN_POLICY_OPAQUE(x);
	return x;
}

/* 1 when a != 0, else 0; a below 2^32. */
MDN_POLICY_INLINE __u64 mdn_policy_nz(__u64 a)
{
	return mdn_policy_eq(a, 0) ^ 1;
}

MDN_POLICY_INLINE __u32 mdn_policy_popcount(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (__u32)((x * 0x0101010101010101ULL) >> 56);
}

/* g->count, loaded again for each loop: the verifier narrows the register a loop is bounded by
 * to one value on each exit of the loop, and a later loop bounded by that same register would be
 * walked once per value. A fresh load is unknown again. */
MDN_POLICY_INLINE __u32 mdn_policy_count(const struct mdn_group *g)
{
	return *(volatile const __u8 *)&g->count;
}

MDN_POLICY_INLINE void mdn_policy_answer(struct mdn_decision *d, __u64 chosen)
{
	d->outcome = MDN_OUTCOME_ANSWER;
	d->chosen = chosen;
	d->count = (__u8)mdn_policy_popcount(chosen);
}

/* Result of one policy's pick over a health mask. */
#define MDN_PICK_ANSWER 0
#define MDN_PICK_NONE_HEALTHY 1 /* candidates apply, but none in the mask */
#define MDN_PICK_NO_MATCH 2     /* nothing applies to this client (geolocation, ip-based) */

/* Rule 2: healthy weight > 0 with probability weight / sum; else uniform over healthy
 * weight-0 standbys. The draw is RANDOM % total: the modulo bias is below total / 2^32
 * (at most 64 * 255 / 2^32 = 4e-6), far under what the chi-square test can see. */
MDN_POLICY_WALK int mdn_policy_weighted(MDN_POLICY_CTX *ctx, const struct mdn_group *g,
					  __u64 mask, struct mdn_decision *d)
{
	__u64 total = 0, standby = 0, use_weight, r, acc = 0, found = 0, chosen = 0;
	__u32 i, n;

	if (!ctx || !g || !d)
		return MDN_PICK_NO_MATCH;
	n = mdn_policy_count(g);
	for (i = 0; i < MDN_GROUP_MAX; i++) {
		__u64 in, w;

		if (i >= n)
			break;
		in = (mask >> i) & 1;
		w = g->candidates[i].weight;
		total += w * in;
		standby += (mdn_policy_nz(w) ^ 1) & in;
	}
	if (!total && !standby)
		return MDN_PICK_NONE_HEALTHY;
	use_weight = mdn_policy_nz(total);
	r = MDN_POLICY_RANDOM(ctx) % (__u32)(total + standby * (use_weight ^ 1));
	n = mdn_policy_count(g);
	for (i = 0; i < MDN_GROUP_MAX; i++) {
		__u64 in, w, eff, hit;

		if (i >= n)
			break;
		in = (mask >> i) & 1;
		w = g->candidates[i].weight;
		/* weight when drawing by weight; 1 for each standby otherwise */
		eff = (w * use_weight + (mdn_policy_nz(w) ^ 1) * (use_weight ^ 1)) * in;
		acc += eff;
		hit = mdn_policy_lt(r, acc) & (found ^ 1);
		found |= hit;
		chosen |= hit << i;
	}
	if (!chosen)
		return MDN_PICK_NONE_HEALTHY; /* not reached: r < the sum walked */
	mdn_policy_answer(d, chosen);
	return MDN_PICK_ANSWER;
}

/* Rule 3: the first healthy primary, else the first healthy secondary. */
MDN_POLICY_WALK int mdn_policy_failover(const struct mdn_group *g, __u64 mask,
					  struct mdn_decision *d)
{
	__u64 primary = 0, secondary = 0;
	__u32 i, n;

	if (!g || !d)
		return MDN_PICK_NO_MATCH;
	n = mdn_policy_count(g);
	for (i = 0; i < MDN_GROUP_MAX; i++) {
		__u64 is_secondary;

		if (i >= n)
			break;
		is_secondary = g->candidates[i].role & 1;
		primary |= (is_secondary ^ 1) << i;
		secondary |= is_secondary << i;
	}
	primary &= mask;
	secondary &= mask;
	if (primary) {
		mdn_policy_answer(d, primary & -primary);
		return MDN_PICK_ANSWER;
	}
	if (secondary) {
		mdn_policy_answer(d, secondary & -secondary);
		return MDN_PICK_ANSWER;
	}
	return MDN_PICK_NONE_HEALTHY;
}

/* Rules 4 and 7: the most specific matching candidate that is healthy, walking up from the most
 * specific match (geolocation: subdivision, country, continent, '*'; ip-based: the client's
 * CIDR location, '*'). `cidr` is the client's location in the group's collection. */
MDN_POLICY_WALK int mdn_policy_most_specific(const struct mdn_group *g,
					       const struct mdn_client *cl, __u32 cidr,
					       __u64 mask, struct mdn_decision *d)
{
	__u64 rank[4] = { 0, 0, 0, 0 }; /* match masks, most specific first */
	__u64 ip, geo, cidr_known = mdn_policy_eq(cidr, MDN_NO_LOCATION) ^ 1;
	__u32 i, n;
	int k;

	if (!g || !cl || !d)
		return MDN_PICK_NO_MATCH;
	ip = mdn_policy_eq(g->policy, MDN_POLICY_IP_BASED);
	geo = ip ^ 1;
	n = mdn_policy_count(g);
	for (i = 0; i < MDN_GROUP_MAX; i++) {
		__u64 loc, level, id;

		if (i >= n)
			break;
		loc = g->candidates[i].location;
		level = loc >> 16;
		id = loc & 0xffffU;
		rank[0] |= (geo & mdn_policy_eq(level, MDN_GEO_LEVEL_SUBDIVISION) &
			    mdn_policy_eq(id, cl->subdivision) & mdn_policy_nz(cl->subdivision))
			   << i;
		rank[1] |= (geo & mdn_policy_eq(level, MDN_GEO_LEVEL_COUNTRY) &
			    mdn_policy_eq(id, cl->country) & mdn_policy_nz(cl->country))
			   << i;
		rank[2] |= ((geo & mdn_policy_eq(level, MDN_GEO_LEVEL_CONTINENT) &
			     mdn_policy_eq(id, cl->continent) & mdn_policy_nz(cl->continent)) |
			    (ip & cidr_known & mdn_policy_eq(loc, cidr)))
			   << i;
		rank[3] |= ((geo & mdn_policy_eq(level, MDN_GEO_LEVEL_DEFAULT)) |
			    (ip & mdn_policy_eq(loc, MDN_CIDR_DEFAULT)))
			   << i;
	}
	for (k = 0; k < 4; k++) {
		__u64 m = rank[k] & mask;

		if (m) {
			mdn_policy_answer(d, m & -m);
			return MDN_PICK_ANSWER;
		}
	}
	return (rank[0] | rank[1] | rank[2] | rank[3]) ? MDN_PICK_NONE_HEALTHY : MDN_PICK_NO_MATCH;
}

/* Rules 5 and 6: the healthy candidate with the smallest cost, first in group order on ties.
 * Latency cost: operator-table ms when the client has a profile and the table has the region,
 * ranked before great-circle km from the client's point (a region missing from the table sorts
 * after every region in it), ranked before "no information". Geoproximity cost: the biased
 * great-circle distance, 0 for all when the client's position is unknown. */
/* Returns the best candidate of `mask` as a one-bit mask (0: none) and stores the best of the
 * whole group in *best_any: one walk for both, since the distances are the expensive part. */
MDN_POLICY_WALK __u64 mdn_policy_nearest(MDN_POLICY_CTX *ctx, const struct mdn_group *g,
					   const struct mdn_client *cl, __u64 mask,
					   __u64 *best_any)
{
	const __u64 none = 3ULL << 32; /* above every cost */
	__u64 best_cost = none, best = 0, any_cost = none, any = 0;
	/* Loop-invariant facts as 0/1 values, so the loop body has one path. */
	__u64 latency, has_point, want_ms;
	__u32 i, n;

	if (!ctx || !g || !cl || !best_any)
		return 0;
	latency = mdn_policy_eq(g->policy, MDN_POLICY_LATENCY);
	has_point = mdn_policy_nz(cl->has_point);
	want_ms = latency & mdn_policy_nz(cl->latency_profile);
	n = mdn_policy_count(g);
	for (i = 0; i < MDN_GROUP_MAX; i++) {
		const struct mdn_candidate *c;
		__u64 km, ms = MDN_NO_LATENCY, have_ms, by_latency, by_distance, cost, take;

		if (i >= n)
			break;
		c = &g->candidates[i];
		/* Computed even without a client point (then multiplied by 0): one path. */
		km = mdn_geo_distance_km(&cl->point, &c->point);
		if (want_ms)
			ms = MDN_POLICY_LATENCY_MS(ctx, cl->latency_profile, c->location);
		have_ms = mdn_policy_eq(ms, MDN_NO_LATENCY) ^ 1;
		by_latency = have_ms * ms +
			     (have_ms ^ 1) * (has_point * ((1ULL << 32) | km) +
					      (has_point ^ 1) * (2ULL << 32));
		by_distance = has_point * mdn_geo_biased_km((__u32)km, c->bias);
		cost = latency * by_latency + (latency ^ 1) * by_distance;
		take = mdn_policy_lt(cost, best_cost) & (mask >> i) & 1;
		best_cost += (cost - best_cost) * take;
		best += (mdn_policy_bit(i) - best) * take;
		take = mdn_policy_lt(cost, any_cost);
		any_cost += (cost - any_cost) * take;
		any += (mdn_policy_bit(i) - any) * take;
	}
	*best_any = any;
	return best;
}

/* The r-th (from 0) set bit of m, as a one-bit mask; 0 when m has no more than r bits. */
MDN_POLICY_INLINE __u64 mdn_policy_select_bit(__u64 m, __u64 r)
{
	__u64 seen = 0, sel = 0;
	__u32 j;

	for (j = 0; j < MDN_GROUP_MAX; j++) {
		__u64 b = (m >> j) & 1;

		sel |= (b & mdn_policy_eq(seen, r)) << j;
		seen += b;
	}
	return sel;
}

/* Rule 8: the whole mask when it has up to MDN_MULTIVALUE_MAX candidates, else that many drawn
 * uniformly at random without replacement. */
MDN_POLICY_WALK int mdn_policy_multivalue(MDN_POLICY_CTX *ctx, const struct mdn_group *g,
					    __u64 mask, struct mdn_decision *d)
{
	__u64 all, rem, chosen = 0;
	__u32 n, k;

	if (!ctx || !g || !d)
		return MDN_PICK_NO_MATCH;
	all = g->count >= MDN_GROUP_MAX ? ~0ULL : mdn_policy_bit(g->count) - 1;
	rem = mask & all;
	n = mdn_policy_popcount(rem);
	if (!n)
		return MDN_PICK_NONE_HEALTHY;
	if (n <= MDN_MULTIVALUE_MAX) {
		mdn_policy_answer(d, rem);
		return MDN_PICK_ANSWER;
	}
	for (k = 0; k < MDN_MULTIVALUE_MAX; k++) {
		__u64 sel = mdn_policy_select_bit(rem, MDN_POLICY_RANDOM(ctx) % (n - k));

		chosen |= sel;
		rem &= ~sel;
	}
	mdn_policy_answer(d, chosen);
	return MDN_PICK_ANSWER;
}

MDN_POLICY_INLINE int mdn_policy_pick(MDN_POLICY_CTX *ctx, const struct mdn_group *g,
				      const struct mdn_client *cl, __u32 cidr, __u64 mask,
				      struct mdn_decision *d)
{
	switch (g->policy) {
	case MDN_POLICY_WEIGHTED:
		return mdn_policy_weighted(ctx, g, mask, d);
	case MDN_POLICY_FAILOVER:
		return mdn_policy_failover(g, mask, d);
	case MDN_POLICY_GEOLOCATION:
	case MDN_POLICY_IP_BASED:
		return mdn_policy_most_specific(g, cl, cidr, mask, d);
	case MDN_POLICY_MULTIVALUE:
		return mdn_policy_multivalue(ctx, g, mask, d);
	default:
		return MDN_PICK_NO_MATCH;
	}
}

/* Decides one query for one group. Always fills every field of `d`. */
MDN_POLICY_INLINE void mdn_policy_decide(MDN_POLICY_CTX *ctx, const struct mdn_group *g,
					 const struct mdn_client *cl, struct mdn_decision *d)
{
	__u64 all, healthy = 0;
	__u32 i, n, count = g->count, cidr = MDN_NO_LOCATION;
	int r;

	__builtin_memset(d, 0, sizeof(*d));
	d->outcome = MDN_OUTCOME_NODATA;
	if (count == 0 || count > MDN_GROUP_MAX)
		return;
	all = count >= MDN_GROUP_MAX ? ~0ULL : mdn_policy_bit(count) - 1;

	/* Rule 1: one record set, every value, no health check. */
	if (g->policy == MDN_POLICY_SIMPLE) {
		mdn_policy_answer(d, 1);
		return;
	}
	if (g->policy == MDN_POLICY_GEOLOCATION || g->policy == MDN_POLICY_GEOPROXIMITY)
		d->used = MDN_USED_GEO;
	else if (g->policy == MDN_POLICY_LATENCY)
		d->used = MDN_USED_GEO | MDN_USED_LATENCY_TABLE;
	else if (g->policy == MDN_POLICY_IP_BASED)
		d->used = MDN_USED_CIDR;
	if (g->policy == MDN_POLICY_IP_BASED)
		cidr = MDN_POLICY_CIDR_LOCATION(ctx, g->collection);

	n = mdn_policy_count(g);
	for (i = 0; i < MDN_GROUP_MAX; i++) {
		__u32 slot;

		if (i >= n)
			break;
		slot = g->candidates[i].health;
		/* Arithmetic, not a branch: see MDN_POLICY_OPAQUE. */
		healthy |= (mdn_policy_eq(slot, MDN_NO_HEALTH) |
			    ((__u64)MDN_POLICY_HEALTHY(ctx, slot) & 1))
			   << i;
	}

	if (g->policy == MDN_POLICY_LATENCY || g->policy == MDN_POLICY_GEOPROXIMITY) {
		__u64 best_any = 0, best = mdn_policy_nearest(ctx, g, cl, healthy, &best_any);

		if (best) {
			mdn_policy_answer(d, best);
			return;
		}
		if (g->all_down == MDN_ALL_DOWN_SERVFAIL)
			d->outcome = MDN_OUTCOME_SERVFAIL;
		else if (g->all_down == MDN_ALL_DOWN_FAIL_OPEN)
			mdn_policy_answer(d, best_any);
		return;
	}

	r = mdn_policy_pick(ctx, g, cl, cidr, healthy, d);
	if (r == MDN_PICK_ANSWER)
		return;
	d->outcome = MDN_OUTCOME_NODATA;
	if (r == MDN_PICK_NO_MATCH)
		return;
	/* All down: every candidate that applies is unhealthy. */
	if (g->all_down == MDN_ALL_DOWN_NODATA)
		return;
	if (g->all_down == MDN_ALL_DOWN_SERVFAIL) {
		d->outcome = MDN_OUTCOME_SERVFAIL;
		return;
	}
	/* Fail open: as if every candidate were healthy (rule 3: both down answers the primary;
	 * rule 8: up to 8 of the unhealthy ones). */
	if (mdn_policy_pick(ctx, g, cl, cidr, all, d) != MDN_PICK_ANSWER)
		d->outcome = MDN_OUTCOME_NODATA;
}

#endif /* MERIDIAN_POLICY_LOGIC_H */
