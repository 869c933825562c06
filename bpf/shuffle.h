/* Spec rule 1 in the XDP program: a simple RRset answering the query is sent with its values in
 * a uniformly random order. The compiler marks answers whose answer section ends with one A or
 * AAAA RRset (after a CNAME chain, if any) of fixed-size RRs sharing one compressed owner, so any
 * order is valid bytes; the program copies the answer to scratch with those RRs permuted
 * (Fisher-Yates). The RR size is even, so every RR keeps the parity of its offset and the
 * precomputed checksum still holds. */
#ifndef MERIDIAN_XDP_SHUFFLE_H
#define MERIDIAN_XDP_SHUFFLE_H

#include "xdp_common.h"

/* Size of one answer RR of the query type: pointer, type, class, TTL, length, address. */
INLINE __u32 shuffle_rr_size(__u16 qtype)
{
	return qtype == 1 ? 2 + 10 + 4 : qtype == 28 ? 2 + 10 + 16 : 0;
}

/* Copies `a` into s->pans with its first a->shuffle RRs (rr_size bytes each) in random order.
 * A global function: verified once. 0 on success, -1 when the entry is not what it claims. */
__attribute__((noinline)) int xdp_shuffle_answer(struct scratch *s, const struct mdn_answer *a,
						 __u32 rr_size)
{
	if (!s || !a)
		return -1;
	__u32 n = a->shuffle, len = a->length, at = a->shuffle_at;
	if (n < 2 || n > MDN_SHUFFLE_MAX || (rr_size != 16 && rr_size != 28) ||
	    len > MDN_ANSWER_MAX || at > MDN_ANSWER_MAX || at + n * rr_size > len ||
	    at + n * rr_size > MDN_SHUFFLE_END)
		return -1;
	/* The whole answer first: what follows the RRset (authority, additional) stays in place. */
	for (__u32 w = 0; w < MDN_ANSWER_MAX / 8; w++) {
		if (w * 8 >= len)
			break;
		*(__u64 *)(s->pans.data + w * 8) = *(const __u64 *)(a->data + w * 8);
	}
	for (__u32 i = 0; i < MDN_SHUFFLE_MAX; i++)
		s->order[i] = i;
	for (__u32 k = 0; k < MDN_SHUFFLE_MAX - 1; k++) {
		__u32 i = MDN_SHUFFLE_MAX - 1 - k;
		if (i >= n)
			continue;
		__u32 j = bpf_get_prandom_u32() % (i + 1);
		barrier_var(j); /* keeps the mask below for the verifier (clang knows j <= i) */
		j &= MDN_SHUFFLE_MAX - 1;
		__u8 t = s->order[i];
		s->order[i] = s->order[j];
		s->order[j] = t;
	}
	for (__u32 i = 0; i < MDN_SHUFFLE_MAX; i++) {
		if (i >= n)
			break;
		/* 64-bit: a 32-bit value is zero-extended into a fresh register for each use, and the
		 * bound checked on one copy would not carry over to the other. */
		__u64 from = at + (s->order[i] & (MDN_SHUFFLE_MAX - 1)) * rr_size;
		__u64 to = at + i * rr_size;
		/* Never true (every record ends by MDN_SHUFFLE_END); the bound is for the verifier. */
		barrier_var(from);
		barrier_var(to);
		if (from > MDN_SHUFFLE_END - 16 || to > MDN_SHUFFLE_END - 16)
			return -1;
		for (__u32 w = 0; w < 7; w++) {
			if (w * 4 >= rr_size)
				break;
			*(__u32 *)(s->pans.data + to + w * 4) =
				*(const __u32 *)(a->data + from + w * 4);
		}
	}
	s->pans.flags = a->flags;
	s->pans.ancount = a->ancount;
	s->pans.nscount = a->nscount;
	s->pans.arcount = a->arcount;
	s->pans.length = len;
	s->pans.kind = MDN_ANSWER_STATIC;
	s->pans.shuffle = 0;
	s->pans.shuffle_at = 0;
	s->pans.csum = a->csum;
	return 0;
}

#endif
