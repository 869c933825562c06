/* Negative answers replayed from the entries keyed (qtype 0, name) (docs/fastpath.md, "Negative
 * answers"): the rules the XDP program (bpf/negative.h) and meridianctl explain
 * (tools/inspect/explain_negative.cc) both apply, so the explanation cannot drift from what the
 * program does. The compiler that writes the entries asks the userspace Responder for every byte;
 * these rules say when those bytes may be sent for a query and how they are adjusted. */
#ifndef MERIDIAN_NEGATIVE_H
#define MERIDIAN_NEGATIVE_H

#include <linux/types.h>

#include "meridian_maps.h"

/* Ancestors tried on the walk to the closest encloser (one bpf_loop step each in the program): a
 * random-subdomain flood is mostly one label below a name that exists; deeper misses go up. */
#define MDN_NEG_WALK_STEPS 8

#if defined(__clang__)
#define MDN_UNROLL _Pragma("unroll")
#else
#define MDN_UNROLL
#endif

/* 1 for query types whose answer is not a plain NODATA or NXDOMAIN: 0, OPT and the meta range
 * (ANY, AXFR, IXFR, TSIG, ...). Userspace answers them. */
MDN_INLINE int mdn_neg_special_qtype(__u32 qtype)
{
	return qtype == 0 || qtype == MDN_QTYPE_OPT ||
	       (qtype >= MDN_QTYPE_META_FIRST && qtype <= MDN_QTYPE_META_LAST);
}

/* 1 when the entry `a` of the query name itself (its struct mdn_negative `n`) has a NODATA part:
 * the answer to every type the entry does not list. */
MDN_INLINE int mdn_neg_has_nodata(const struct mdn_answer *a, const struct mdn_negative *n)
{
	return a->kind == MDN_ANSWER_NEGATIVE && n->nodata && a->length <= MDN_NEG_AT;
}

/* 1 when the entry lists `qtype` as present at the name: its answer stayed in userspace
 * (oversize, shuffle, policy), so no NODATA. */
MDN_INLINE int mdn_neg_lists_type(const struct mdn_negative *n, __u32 qtype)
{
	int i;

	MDN_UNROLL
	for (i = 0; i < MDN_NEG_TYPES; i++)
		if (n->types[i] == qtype)
			return 1;
	return 0;
}

/* One step of the walk to the closest encloser: strips the first label of the `len`-octet wire
 * name at `name` in place (the rest moves left and the octets past it are zeroed up to its size
 * class, as a name key holds it) and stores the stripped label's first 8 octets (length octet
 * and up to 7 letters, zero padded, in memory order) in *child. Returns the parent's length, or 0
 * when there is no parent. Words are moved whole: `name` has room for MDN_NAME_CLASS3 + 8
 * octets. */
MDN_INLINE __u32 mdn_neg_strip_label(__u8 *name, __u32 len, __u64 *child)
{
	__u32 lab = name[0], nlen, class_len, i;
	__u64 first;

	if (lab == 0 || lab > MDN_LABEL_MAX || len <= lab + 1 || len > MDN_NAME_CLASS3)
		return 0;
	first = MDN_LOAD_U64(name);
	if (lab < 7)
		first &= (1ULL << ((lab + 1) * 8)) - 1;
	*child = first;
	nlen = len - lab - 1;
	class_len = mdn_name_class_size(mdn_name_class(nlen));
	/* Forward copy: each word is read before any write reaches it (the source is lab + 1
	 * ahead). */
	MDN_UNROLL
	for (i = 0; i < MDN_NAME_CLASS3 / 8; i++) {
		__u64 x = 0;

		if (i * 8 >= class_len)
			break;
		if (i * 8 < nlen) {
			x = MDN_LOAD_U64(name + lab + 1 + i * 8);
			if (nlen - i * 8 < 8)
				x &= (1ULL << ((nlen - i * 8) * 8)) - 1;
		}
		MDN_STORE_U64(name + i * 8, x);
	}
	return nlen;
}

/* The length of the NXDOMAIN sections of the closest encloser's entry, or 0 when it has none the
 * program can replay (names below it go up). */
MDN_INLINE __u32 mdn_neg_nx_length(const struct mdn_answer *a, const struct mdn_negative *n)
{
	__u32 len;

	if (a->kind != MDN_ANSWER_NEGATIVE)
		return 0;
	len = n->nx_length;
	return len == 0 || len > MDN_NEG_NX_MAX ? 0 : len;
}

/* 1 when a name in the NXDOMAIN sections would compress against the query's label under the
 * encloser (`child`, as mdn_neg_strip_label gives it): userspace answers. */
MDN_INLINE int mdn_neg_child_unsafe(const struct mdn_negative *n, __u64 child)
{
	int i;

	MDN_UNROLL
	for (i = 0; i < MDN_NEG_UNSAFE; i++)
		if (MDN_LOAD_U64(n->unsafe[i]) == child)
			return 1;
	return 0;
}

/* A compression pointer `v` of the sample's sections moved by `delta` octets (the query name's
 * length minus the sample's: every pointer targets the encloser's part of the question or
 * later). 0 when `v` or the result is not a pointer: the entry is not one the compiler writes,
 * and the query goes up. */
MDN_INLINE __u32 mdn_neg_moved_pointer(__u32 v, int delta)
{
	__u32 nv = (v + delta) & 0xffff;

	if ((v & MDN_DNS_POINTER) != MDN_DNS_POINTER || (nv & MDN_DNS_POINTER) != MDN_DNS_POINTER)
		return 0;
	return nv;
}

#endif /* MERIDIAN_NEGATIVE_H */
