/* One query decided for one group: the simple policy (rule 1), the dispatch to each policy's
 * walk, and "All down" (fail open, NODATA, SERVFAIL). Reached through meridian_policy.h once the
 * includer has defined the MDN_POLICY_* macros. */
#ifndef MERIDIAN_POLICY_DECIDE_H
#define MERIDIAN_POLICY_DECIDE_H

#include "walk.h"
#include "weighted.h"
#include "failover.h"
#include "most_specific.h"
#include "nearest.h"
#include "multivalue.h"

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
	d->used = (__u8)mdn_policy_uses(g->policy);
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

#endif /* MERIDIAN_POLICY_DECIDE_H */
