/* The multivalue policy (gslb-semantics rule 8). */
#ifndef MERIDIAN_POLICY_MULTIVALUE_H
#define MERIDIAN_POLICY_MULTIVALUE_H

#include "walk.h"

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

#endif /* MERIDIAN_POLICY_MULTIVALUE_H */
