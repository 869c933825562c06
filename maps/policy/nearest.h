/* The latency and geoproximity policies (gslb-semantics rules 5 and 6): one walk, since both
 * take the healthy candidate of the lowest cost. */
#ifndef MERIDIAN_POLICY_NEAREST_H
#define MERIDIAN_POLICY_NEAREST_H

#include "walk.h"
#include "../meridian_geo.h"

/* Rules 5 and 6: the healthy candidate with the smallest cost, first in group order on ties.
 * Latency cost: operator-table ms when the client has a profile and the table has the region,
 * ranked before great-circle km from the client's point (a region missing from the table sorts
 * after every region in it), ranked before "no information". Geoproximity cost: the biased
 * great-circle distance, 0 for all when the client's position is unknown. */
/* Returns the best candidate of `mask` as a one-bit mask (0: none) and stores the best of the
 * whole group in *best_any: one walk for both, since the distances are the expensive part. */
MDN_POLICY_WALK __u64 mdn_policy_nearest(MDN_POLICY_CTX *ctx, const struct mdn_group *g,
					 const struct mdn_client *cl, __u64 mask, __u64 *best_any)
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
		by_latency = have_ms * ms + (have_ms ^ 1) * (has_point * ((1ULL << 32) | km) +
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

#endif /* MERIDIAN_POLICY_NEAREST_H */
