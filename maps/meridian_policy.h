/* GSLB routing policy evaluation (gslb-semantics rules 2-8 and "All down"): written once in C and
 * compiled as is by the XDP program (clang -target bpf), by the C++ engine and by meridianctl
 * explain, so every answer path makes the same decision from the same tables. No floating point,
 * no recursion, no function pointers, loops with constant bounds.
 *
 * This header holds the layouts and the rules around a decision (which client facts a policy
 * reads, the ECS scope of its answer); each policy's walk is a header of its own in policy/, and
 * policy/decide.h puts them together.
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
 * by the caller from the target group, decided for the same client (userspace only: the XDP
 * program passes groups with aliases up). */
#ifndef MERIDIAN_POLICY_H
#define MERIDIAN_POLICY_H

#include <linux/types.h>

#include "meridian_geo.h"

#define MDN_POLICY_INLINE static inline __attribute__((always_inline))
#define MDN_GROUP_MAX 64     /* record sets in one group (one bit each in a __u64 mask) */
#define MDN_MULTIVALUE_MAX 8 /* rule 8: up to 8 record sets per multivalue answer */

#define MDN_NO_HEALTH 0xffffffffU   /* candidate without a health check: always healthy */
#define MDN_NO_LATENCY 0xffffffffU  /* the operator table has no value */
#define MDN_NO_LOCATION 0xffffffffU /* the client is in no block of the collection */
#define MDN_NO_PROFILE 0U	    /* client in no latency table prefix */

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
	__u32 health;	  /* health slot, or MDN_NO_HEALTH */
	__u32 location;	  /* geolocation: MDN_GEO_LOCATION(); latency: region id; ip-based:
			   * CIDR location id or MDN_CIDR_DEFAULT */
	struct mdn_geo_point point; /* latency region / geoproximity location */
	__u8 weight;		    /* weighted: 0..255 */
	__u8 role;		    /* failover: enum mdn_failover_role */
	__s8 bias;		    /* geoproximity: -99..99 */
	__u8 pad;
};
MDN_POLICY_STATIC_ASSERT(sizeof(struct mdn_candidate) == 28, "mdn_candidate is 28 bytes");

struct mdn_group {
	__u8 policy;   /* enum mdn_policy */
	__u8 all_down; /* enum mdn_all_down */
	__u8 count;    /* candidates used, 1..MDN_GROUP_MAX */
	__u8 pad;
	__u32 collection; /* ip-based: CIDR collection id */
	struct mdn_candidate candidates[MDN_GROUP_MAX];
};
MDN_POLICY_STATIC_ASSERT(sizeof(struct mdn_group) == 8 + 28 * MDN_GROUP_MAX,
			 "mdn_group is 1800 bytes");

/* What the client is, as far as the policies care. The CIDR location is looked up per group
 * (MDN_POLICY_CIDR_LOCATION) because it depends on the group's collection. */
struct mdn_client {
	__u16 continent; /* interned ids, 0 = unknown */
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

/* The client facts (MDN_USED_*) a policy's decision reads: the caller looks them up (GeoIP
 * facts, the latency table's profile) only for these policies, and mdn_policy_decide reports
 * the same set in mdn_decision.used. Simple, weighted, failover and multivalue read none;
 * ip-based reads its CIDR collection through MDN_POLICY_CIDR_LOCATION. */
MDN_POLICY_INLINE __u32 mdn_policy_uses(__u32 policy)
{
	switch (policy) {
	case MDN_POLICY_GEOLOCATION:
	case MDN_POLICY_GEOPROXIMITY:
		return MDN_USED_GEO;
	case MDN_POLICY_LATENCY:
		return MDN_USED_GEO | MDN_USED_LATENCY_TABLE;
	case MDN_POLICY_IP_BASED:
		return MDN_USED_CIDR;
	default:
		return 0;
	}
}

/* The ECS scope of a decided answer: the longest scope of the table entries behind the facts the
 * decision used (0 when none: the answer is the same for every client), at most the client's
 * address length `max_len`. */
MDN_POLICY_INLINE __u32 mdn_policy_scope(const struct mdn_decision *d, __u32 geo_scope,
					 __u32 latency_scope, __u32 cidr_scope, __u32 max_len)
{
	__u32 scope = 0;

	if (d->used & MDN_USED_GEO)
		scope = geo_scope;
	if ((d->used & MDN_USED_LATENCY_TABLE) && latency_scope > scope)
		scope = latency_scope;
	if ((d->used & MDN_USED_CIDR) && cidr_scope > scope)
		scope = cidr_scope;
	return scope < max_len ? scope : max_len;
}

#endif /* MERIDIAN_POLICY_H */

/* The evaluation: only with the side-specific macros defined. */
#if defined(MDN_POLICY_HEALTHY)
#include "policy/decide.h"
#endif
