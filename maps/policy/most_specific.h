/* The geolocation and IP-based policies (gslb-semantics rules 4 and 7): one walk, since both
 * take the most specific healthy match. */
#ifndef MERIDIAN_POLICY_MOST_SPECIFIC_H
#define MERIDIAN_POLICY_MOST_SPECIFIC_H

#include "walk.h"

/* Rules 4 and 7: the most specific matching candidate that is healthy, walking up from the most
 * specific match (geolocation: subdivision, country, continent, '*'; ip-based: the client's
 * CIDR location, '*'). `cidr` is the client's location in the group's collection. */
MDN_POLICY_WALK int mdn_policy_most_specific(const struct mdn_group *g, const struct mdn_client *cl,
					     __u32 cidr, __u64 mask, struct mdn_decision *d)
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

#endif /* MERIDIAN_POLICY_MOST_SPECIFIC_H */
