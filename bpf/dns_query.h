/* DNS query parsing from the per-CPU copy of the payload: header checks, QNAME into the lookup
 * key (lowercased), QTYPE/QCLASS, and at most one OPT with its options. Every read is masked to
 * the copy's size. The label and option walks run their first steps inline (a call costs more
 * than a step) and the rest through bpf_loop, so each step is verified once. */
#ifndef MERIDIAN_DNS_QUERY_H
#define MERIDIAN_DNS_QUERY_H

#include "xdp_common.h"

/* struct query_info (the parse result) is in xdp_common.h: the scratch map holds a copy. */

#define QMASK (MDN_QUERY_MAX - 1)

INLINE __u16 q16(const __u8 *q, __u32 off)
{
	return ((__u16)q[off & QMASK] << 8) | q[(off + 1) & QMASK];
}

/* One label of QNAME: checks its length byte (not a pointer or extended type, inside the payload,
 * the name within 255 octets) and steps over it; the bytes are copied later, a word at a time. */
static long label_step(__u32 idx, void *ctx)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&mdn_scratch, &zero);
	if (!s)
		return 1;
	struct name_walk *nw = &s->nw;
	__u32 pos = nw->pos;
	if (pos >= nw->len) {
		nw->status = NAME_BAD;
		return 1;
	}
	__u8 c = s->query[pos & QMASK];
	if (c == 0) {
		nw->status = NAME_DONE;
		return 1;
	}
	if (c & 0xc0) {
		nw->status = NAME_BAD;
		return 1;
	}
	pos += (__u32)c + 1;
	/* the next length byte (at least the root's) must sit within the first 255 octets */
	if (pos - 12 > 254) {
		nw->status = NAME_BAD;
		return 1;
	}
	nw->pos = pos;
	return 0;
}

/* Labels walked inline before the bpf_loop takes over. */
#define NAME_INLINE_LABELS 6

#define ONES64 0x0101010101010101ULL

/* ASCII lowercase of eight bytes at once: a byte gets 0x20 added iff it is in 'A'..'Z'; bytes
 * >= 0x80 and everything else stay as they are. Label length bytes (<= 63) are never letters. */
INLINE __u64 lower8(__u64 x)
{
	__u64 low7 = x & (0x7f * ONES64);
	__u64 ge_a = low7 + (0x80 - 'A') * ONES64;     /* high bit: low7 >= 'A' (no carry out) */
	__u64 gt_z = low7 + (0x80 - 'Z' - 1) * ONES64; /* high bit: low7 > 'Z' */
	__u64 upper = (ge_a ^ gt_z) & ~x & (0x80 * ONES64);
	return x | (upper >> 2);
}

/* Copies the wire name (query offset 12, name_len bytes) into the key lowercased, eight bytes at a
 * time, and zeroes the rest of the key's size class: the lookup hashes and compares only that
 * many bytes, so nothing past the class is ever read. Returns the one's complement partial sum of
 * the name as sent (native 16-bit words, zero padded), for the reply's UDP checksum: the name
 * starts at an even offset, and 32-bit halves fold to the same sum as 16-bit words. */
INLINE __u64 copy_name(struct scratch *s, __u32 name_len)
{
	__u32 class_len = mdn_name_class_size(mdn_name_class(name_len));
	__u64 sum = 0;
#pragma unroll
	for (int w = 0; w < MDN_NAME_CLASS3 / 8; w++) {
		if (w * 8 >= class_len)
			break;
		__u64 x = 0;
		if (w * 8 < name_len) {
			x = *(__u64 *)(s->query + 12 + w * 8);
			if (name_len - w * 8 < 8)
				x &= (1ULL << ((name_len - w * 8) * 8)) - 1;
			sum += (x & 0xffffffff) + (x >> 32);
			x = lower8(x);
		}
		*(__u64 *)(s->key + 2 + w * 8) = x;
	}
	return sum;
}

/* One EDNS option: ECS and cookie are validated exactly as userspace does (userspace answers
 * FORMERR for a bad one), padding is ignored, any other option sends the query up. Returns 1 when
 * the walk ends (ow->status says how), idx counts the options from 0. */
INLINE long opt_one(struct scratch *s, __u32 idx)
{
	struct opt_walk *ow = &s->ow;
	__u32 pos = ow->pos, len = ow->len;
	const __u8 *q = s->query;
	if (pos == len) {
		ow->status = OPT_DONE;
		return 1;
	}
	if (pos + 4 > len || idx == MDN_MAX_OPTIONS - 1) {
		ow->status = idx == MDN_MAX_OPTIONS - 1 ? OPT_UNKNOWN : OPT_BAD;
		return 1;
	}
	__u16 code = q16(q, pos), olen = q16(q, pos + 2);
	pos += 4;
	if (pos + olen > len) {
		ow->status = OPT_BAD;
		return 1;
	}
	if (code == MDN_OPT_ECS) {
		__u16 family = q16(q, pos);
		__u8 source = q[(pos + 2) & QMASK];
		__u32 alen = olen - 4;
		__u32 max = family == 1 ? 32 : family == 2 ? 128 : 0;
		if (olen < 4 || ow->ecs_off || max == 0 || source > max ||
		    alen != ((__u32)source + 7) / 8) {
			ow->status = OPT_BAD;
			return 1;
		}
		if (alen > 0 && (source & 7)) {
			__u8 last = q[(pos + 4 + alen - 1) & QMASK];
			if (last & (0xff >> (source & 7))) {
				ow->status = OPT_BAD;
				return 1;
			}
		}
		ow->ecs_off = pos;
		ow->ecs_len = olen;
	} else if (code == MDN_OPT_COOKIE) {
		if (olen != 8 && (olen < 16 || olen > 40)) {
			ow->status = OPT_BAD;
			return 1;
		}
		if (ow->cookie_off) {
			ow->status = OPT_UNKNOWN;
			return 1;
		}
		ow->cookie_off = pos;
		ow->cookie_len = olen;
	} else if (code != MDN_OPT_PADDING) {
		ow->status = OPT_UNKNOWN;
		return 1;
	}
	ow->pos = pos + olen;
	return 0;
}

/* Options walked inline before the bpf_loop takes over: ECS and a cookie need no callback. */
#define OPT_INLINE_STEPS 3

static long opt_step(__u32 idx, void *ctx)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&mdn_scratch, &zero);
	if (!s)
		return 1;
	return opt_one(s, idx + OPT_INLINE_STEPS);
}

/* Parses QNAME into the lookup key (lowercased) and the rest of the question and OPT.
 * Returns 0 when the fast path may answer, else the stat reason to pass with. */
INLINE __u32 parse_dns(struct scratch *s, struct query_info *qi)
{
	const __u8 *q = s->query;
	__u32 len = qi->dns_len;
	__u16 flags = q16(q, 2);
	__u16 qdcount = q16(q, 4), ancount = q16(q, 6), nscount = q16(q, 8), arcount = q16(q, 10);

	qi->flags = flags;
	if (flags & 0x8000)
		return MDN_STAT_PASS_NOT_QUERY;
	if ((flags & 0x7800) != 0)
		return MDN_STAT_PASS_NOT_QUERY;
	if (qdcount != 1 || ancount != 0 || nscount != 0 || arcount > 1)
		return MDN_STAT_PASS_NOT_QUERY;

	/* QNAME: the first labels inline (most names have few), the rest one label per bpf_loop
	 * step so the verifier checks that step once. Each bpf_loop step is a function call, which
	 * costs far more than the step itself. The position goes through the map value so the
	 * verifier does not carry one state per inline exit into the rest of the program. */
	struct name_walk *nw = &s->nw;
	__u32 pos = 12;
	nw->status = NAME_RUNNING;
#pragma unroll
	for (int l = 0; l < NAME_INLINE_LABELS; l++) {
		if (pos >= len)
			return MDN_STAT_PASS_MALFORMED; /* truncated */
		__u8 c = q[pos & QMASK];
		if (c == 0) {
			nw->status = NAME_DONE;
			break;
		}
		if (c & 0xc0)
			return MDN_STAT_PASS_MALFORMED; /* pointer or extended label type */
		pos += (__u32)c + 1;
		if (pos - 12 > 254)
			return MDN_STAT_PASS_MALFORMED; /* more than 255 octets */
	}
	nw->pos = pos;
	nw->len = len;
	if (nw->status == NAME_RUNNING)
		bpf_loop(128, label_step, NULL,
			 0); /* 127 one-octet labels and the root: 255 octets */
	if (nw->status != NAME_DONE)
		return MDN_STAT_PASS_MALFORMED; /* truncated, pointer, bad label type, > 255 octets */
	/* Reloaded from the map value, so every path arrives with the same unknown value. */
	asm volatile("" ::: "memory");
	pos = nw->pos;
	if (pos >= len || pos < 12 || pos - 12 > 254)
		return MDN_STAT_PASS_MALFORMED;
	qi->name_len = pos - 12 + 1;
	qi->name_sum = copy_name(s, qi->name_len);
	pos++;
	barrier_var(pos); /* keeps the masks below: the bounds above are not the verifier's */

	if (pos + 4 > len)
		return MDN_STAT_PASS_MALFORMED;
	qi->qtype = q16(q, pos);
	__u16 qclass = q16(q, pos + 2);
	pos += 4;
	qi->question_end = pos;
	if (qclass != 1)
		return MDN_STAT_PASS_CLASS;
	s->key[0] = qi->qtype >> 8;
	s->key[1] = qi->qtype & 0xff;

	qi->udp_limit = 512;
	if (arcount == 0)
		return pos == len ? 0 : MDN_STAT_PASS_MALFORMED;

	/* The one additional record must be an OPT owned by the root. */
	if (pos + 11 > len)
		return MDN_STAT_PASS_MALFORMED;
	if (q[pos & QMASK] != 0 || q16(q, pos + 1) != MDN_QTYPE_OPT)
		return MDN_STAT_PASS_MALFORMED;
	__u16 payload = q16(q, pos + 3);
	__u8 version = q[(pos + 6) & QMASK];
	__u16 eflags = q16(q, pos + 7);
	__u16 rdlen = q16(q, pos + 9);
	pos += 11;
	if (pos + rdlen != len)
		return MDN_STAT_PASS_MALFORMED;
	if (version != 0)
		return MDN_STAT_PASS_EDNS_VERSION;
	qi->has_edns = 1;
	qi->do_bit = (eflags & 0x8000) != 0;
	if (payload < 512)
		payload = 512;
	if (payload > cfg_advertised_payload)
		payload = cfg_advertised_payload;
	qi->udp_limit = payload;

	struct opt_walk *ow = &s->ow;
	__builtin_memset(ow, 0, sizeof(*ow));
	ow->pos = pos;
	ow->len = len;
	/* The first steps inline (each bpf_loop step is a function call), the rest via bpf_loop. */
#pragma unroll
	for (int o = 0; o < OPT_INLINE_STEPS; o++)
		if (opt_one(s, o))
			break;
	if (ow->status == OPT_RUNNING)
		bpf_loop(MDN_MAX_OPTIONS - OPT_INLINE_STEPS, opt_step, NULL, 0);
	if (ow->status != OPT_DONE)
		return ow->status == OPT_UNKNOWN ? MDN_STAT_PASS_UNKNOWN_OPTION :
						   MDN_STAT_PASS_MALFORMED;
	qi->ecs_off = ow->ecs_off;
	qi->ecs_len = ow->ecs_len;
	qi->cookie_off = ow->cookie_off;
	qi->cookie_len = ow->cookie_len;
	return 0;
}

#endif
