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
#include "meridian_negative.h"

enum { NEG_NONE = 0, NEG_NODATA = 1, NEG_NXDOMAIN = 2 };

/* The counter of an answer: its type's, or the negative answer's (read back from scratch, so
 * the paths before meet in one state). */
INLINE __u32 neg_hit_stat(__u32 result, __u16 qtype)
{
	return result == NEG_NXDOMAIN ? MDN_STAT_HIT_NXDOMAIN :
	       result == NEG_NODATA   ? MDN_STAT_HIT_NODATA :
					hit_stat(qtype);
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
	__u64 child = 0;
	__u32 nlen = mdn_neg_strip_label(s->key + 2, w->len, &child);
	if (!nlen) {
		w->status = NEG_OUT;
		return 1;
	}
	w->child = child;
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
	if (mdn_neg_special_qtype(qtype) || name_len < 1 || name_len > MDN_NAME_CLASS3)
		return NEG_NONE;
	s->key[0] = 0;
	s->key[1] = 0;
	struct mdn_answer *a = lookup_answer(s, name_len);
	if (a) {
		/* QNAME exists: NODATA unless the type is there (its answer stayed in userspace). */
		struct mdn_negative *n = (void *)(a->data + MDN_NEG_AT);
		if (!mdn_neg_has_nodata(a, n) || mdn_neg_lists_type(n, qtype))
			return NEG_NONE;
		__u32 len = a->length;
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
	bpf_loop(MDN_NEG_WALK_STEPS, neg_step, NULL, 0);
	asm volatile("" ::: "memory");
	if (s->negw.status != NEG_FOUND)
		return NEG_NONE;
	a = lookup_answer(s, s->negw.len);
	if (!a)
		return NEG_NONE;
	struct mdn_negative *n = (void *)(a->data + MDN_NEG_AT);
	__u32 len = mdn_neg_nx_length(a, n);
	if (!len || mdn_neg_child_unsafe(n, s->negw.child))
		return NEG_NONE;
	for (__u32 w = 0; w < MDN_NEG_NX_MAX / 8; w++) {
		if (w * 8 >= len)
			break;
		*(__u64 *)(s->pans.data + w * 8) = *(const __u64 *)(n->nx_data + w * 8);
	}
	asm volatile("" ::: "memory"); /* len read again, as above */
	len = mdn_neg_nx_length(a, n);
	if (!len)
		return NEG_NONE;
	/* Each pointer moves with the difference between this QNAME's length and the sample's; the
	 * checksum follows each. */
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
		__u32 nv = mdn_neg_moved_pointer(v, delta);
		if (!nv)
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
