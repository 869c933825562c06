/* What every policy walk is built from: the side-specific macros checked, branch-free 0/1
 * arithmetic the verifier can walk cheaply, the group's count loaded fresh for each loop, and the
 * result of one policy's pick. Included by the per-policy headers through policy/decide.h. */
#ifndef MERIDIAN_POLICY_WALK_H
#define MERIDIAN_POLICY_WALK_H

#include "../meridian_policy.h"

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
#define MDN_PICK_NO_MATCH 2	/* nothing applies to this client (geolocation, ip-based) */

#endif /* MERIDIAN_POLICY_WALK_H */
