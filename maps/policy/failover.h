/* The failover policy (gslb-semantics rule 3). */
#ifndef MERIDIAN_POLICY_FAILOVER_H
#define MERIDIAN_POLICY_FAILOVER_H

#include "walk.h"

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

#endif /* MERIDIAN_POLICY_FAILOVER_H */
