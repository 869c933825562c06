/* The weighted policy (gslb-semantics rule 2). */
#ifndef MERIDIAN_POLICY_WEIGHTED_H
#define MERIDIAN_POLICY_WEIGHTED_H

#include "walk.h"

/* Rule 2: healthy weight > 0 with probability weight / sum; else uniform over healthy
 * weight-0 standbys. The draw is RANDOM % total: the modulo bias is below total / 2^32
 * (at most 64 * 255 / 2^32 = 4e-6), far under what the chi-square test can see. */
MDN_POLICY_WALK int mdn_policy_weighted(MDN_POLICY_CTX *ctx, const struct mdn_group *g, __u64 mask,
					struct mdn_decision *d)
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

#endif /* MERIDIAN_POLICY_WEIGHTED_H */
