/* Negative answers in the XDP program: NODATA at an existing name and NXDOMAIN below a closest
 * encloser, replayed from the entries keyed (qtype 0, name) that the compiler asked the userspace
 * Responder for (docs/fastpath.md, "Negative answers"). Whatever the entries cannot make exact
 * goes up: special query types, types present at the name, names too far below their closest
 * encloser, encloser entries without NXDOMAIN data. */
#ifndef MERIDIAN_XDP_NEGATIVE_H
#define MERIDIAN_XDP_NEGATIVE_H

#include "xdp_common.h"
#include "checksum.h"
#include "dns_reply.h"

/* Ancestors tried, one bpf_loop step each: a random-subdomain flood is mostly one label below a
 * name that exists; deeper misses go up. */
#define NEG_WALK_STEPS 8

enum { NEG_NONE = 0, NEG_NODATA = 1, NEG_NXDOMAIN = 2 };

/* Types whose answers are not a plain NODATA: 0, OPT, and the meta range (ANY, AXFR, IXFR, TSIG,
 * ...). Userspace answers them. */
INLINE int neg_special_qtype(__u32 qtype)
{
	return qtype == 0 || qtype == 41 || (qtype >= 128 && qtype <= 255);
}

INLINE __u32 neg_class_len(__u32 len)
{
	return len <= MDN_NAME_CLASS0 ? MDN_NAME_CLASS0 :
	       len <= MDN_NAME_CLASS1 ? MDN_NAME_CLASS1 :
	       len <= MDN_NAME_CLASS2 ? MDN_NAME_CLASS2 : MDN_NAME_CLASS3;
}

/* The counter of an answer: its type's, or the negative answer's (read back from scratch, so
 * the paths before meet in one state). */
INLINE __u32 neg_hit_stat(__u32 result, __u16 qtype)
{
	return result == NEG_NXDOMAIN ? MDN_STAT_HIT_NXDOMAIN :
	       result == NEG_NODATA ? MDN_STAT_HIT_NODATA : hit_stat(qtype);
}

/* One step up: strips the first label of the name in the key (the key moves left in place, the
 * bytes past the shorter name zeroed to its size class, as copy_name leaves them) and looks the
 * parent up as (0, parent). Stops when it exists (NEG_FOUND) or when nothing is left (NEG_OUT). */
static long neg_step(__u32 idx, void *ctx)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&mdn_scratch, &zero);
	if (!s)
		return 1;
	struct neg_walk *w = &s->negw;
	__u32 len = w->len;
	__u32 lab = s->key[2];
	if (lab == 0 || lab > 63 || len <= lab + 1 || len > MDN_NAME_CLASS3) {
		w->status = NEG_OUT;
		return 1;
	}
	__u64 first = *(__u64 *)(s->key + 2);
	if (lab < 7)
		first &= (1ULL << ((lab + 1) * 8)) - 1;
	w->child = first;
	__u32 nlen = len - lab - 1;
	__u32 class_len = neg_class_len(nlen);
	/* Forward copy: each word is read before any write reaches it (the source is lab + 1 ahead). */
#pragma unroll
	for (int i = 0; i < MDN_NAME_CLASS3 / 8; i++) {
		if (i * 8 >= class_len)
			break;
		__u64 x = 0;
		if (i * 8 < nlen) {
			x = *(__u64 *)(s->key + 2 + lab + 1 + i * 8);
			if (nlen - i * 8 < 8)
				x &= (1ULL << ((nlen - i * 8) * 8)) - 1;
		}
		*(__u64 *)(s->key + 2 + i * 8) = x;
	}
	w->len = nlen;
	if (lookup_answer(s, nlen)) {
		w->status = NEG_FOUND;
		return 1;
	}
	return 0;
}

/* The 16-bit value v at offset `at` of a block, as it adds to the block's native-word sum. */
INLINE __u32 neg_contrib(__u32 v, __u32 at)
{
	return at & 1 ? v : ((v >> 8) | (v << 8)) & 0xffff;
}

/* Called when (qtype, QNAME) is not in the maps (or QNAME's entry is the negative one): puts the
 * NODATA or NXDOMAIN answer userspace would send into s->pans. The key holds (qtype, QNAME) as
 * parse_dns built it and is changed here. Returns NEG_NODATA, NEG_NXDOMAIN, or NEG_NONE to pass
 * the query up. A global function: verified once. */
__attribute__((noinline)) int xdp_negative_answer(struct scratch *s, __u32 qtype, __u32 name_len)
{
	if (!s)
		return NEG_NONE;
	if (neg_special_qtype(qtype) || name_len < 1 || name_len > MDN_NAME_CLASS3)
		return NEG_NONE;
	s->key[0] = 0;
	s->key[1] = 0;
	struct mdn_answer *a = lookup_answer(s, name_len);
	if (a) {
		/* QNAME exists: NODATA unless the type is there (its answer stayed in userspace). */
		if (a->kind != MDN_ANSWER_NEGATIVE)
			return NEG_NONE;
		struct mdn_negative *n = (void *)(a->data + MDN_NEG_AT);
		__u32 len = a->length;
		if (!n->nodata || len > MDN_NEG_AT)
			return NEG_NONE;
#pragma unroll
		for (int i = 0; i < MDN_NEG_TYPES; i++)
			if (n->types[i] == qtype)
				return NEG_NONE;
		for (__u32 w = 0; w < MDN_NEG_AT / 8; w++) {
			if (w * 8 >= len)
				break;
			*(__u64 *)(s->pans.data + w * 8) = *(const __u64 *)(a->data + w * 8);
		}
		/* Read again: the copy's exits narrowed len differently each, and the verifier would
		 * walk the rest once per exit. */
		asm volatile("" ::: "memory");
		s->pans.flags = a->flags;
		s->pans.ancount = a->ancount;
		s->pans.nscount = a->nscount;
		s->pans.arcount = a->arcount;
		s->pans.length = a->length;
		s->pans.csum = a->csum;
		s->pans.kind = MDN_ANSWER_STATIC;
		s->pans.shuffle = 0;
		s->pans.shuffle_at = 0;
		s->negw.result = NEG_NODATA;
		return NEG_NODATA;
	}

	/* QNAME does not exist: the first existing ancestor decides. */
	s->negw.len = name_len;
	s->negw.status = NEG_RUNNING;
	s->negw.child = 0;
	bpf_loop(NEG_WALK_STEPS, neg_step, NULL, 0);
	asm volatile("" ::: "memory");
	if (s->negw.status != NEG_FOUND)
		return NEG_NONE;
	a = lookup_answer(s, s->negw.len);
	if (!a || a->kind != MDN_ANSWER_NEGATIVE)
		return NEG_NONE;
	struct mdn_negative *n = (void *)(a->data + MDN_NEG_AT);
	__u32 len = n->nx_length;
	if (len == 0 || len > MDN_NEG_NX_MAX)
		return NEG_NONE;
	/* A name in the answer could compress against this query's labels: userspace answers. */
	__u64 child = s->negw.child;
#pragma unroll
	for (int i = 0; i < MDN_NEG_UNSAFE; i++)
		if (*(__u64 *)n->unsafe[i] == child)
			return NEG_NONE;
	for (__u32 w = 0; w < MDN_NEG_NX_MAX / 8; w++) {
		if (w * 8 >= len)
			break;
		*(__u64 *)(s->pans.data + w * 8) = *(const __u64 *)(n->nx_data + w * 8);
	}
	asm volatile("" ::: "memory"); /* len read again, as above */
	len = n->nx_length;
	if (len == 0 || len > MDN_NEG_NX_MAX)
		return NEG_NONE;
	/* Every pointer targets the encloser's part of the question or later: it moves with the
	 * difference between this QNAME's length and the sample's. The checksum follows each. */
	int delta = (int)name_len - (int)n->nx_qname_len;
	__u64 sum = n->nx_csum;
	__u32 np = n->npointers;
	for (int i = 0; i < MDN_NEG_POINTERS; i++) {
		if (i >= np)
			break;
		__u32 at = n->pointers[i];
		if (at + 2 > len)
			return NEG_NONE;
		at &= 511; /* a no-op (at < len <= MDN_NEG_NX_MAX < 512), for the verifier */
		__u32 v = (__u32)s->pans.data[at] << 8 | s->pans.data[at + 1];
		__u32 nv = (v + delta) & 0xffff;
		if ((v & 0xc000) != 0xc000 || (nv & 0xc000) != 0xc000)
			return NEG_NONE;
		s->pans.data[at] = nv >> 8;
		s->pans.data[at + 1] = nv & 0xff;
		sum += 0xffff - neg_contrib(v, at) + neg_contrib(nv, at);
	}
	s->pans.flags = n->nx_flags;
	s->pans.ancount = 0;
	s->pans.nscount = n->nx_nscount;
	s->pans.arcount = 0;
	s->pans.length = len;
	s->pans.csum = fold(sum);
	s->pans.kind = MDN_ANSWER_STATIC;
	s->pans.shuffle = 0;
	s->pans.shuffle_at = 0;
	s->negw.result = NEG_NXDOMAIN;
	return NEG_NXDOMAIN;
}

#endif
