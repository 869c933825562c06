/* DNS query parsing from the per-CPU copy of the payload: header checks, QNAME into the lookup
 * key (lowercased), QTYPE/QCLASS, and at most one OPT with its options. Every read is masked to
 * the copy's size; loops run through bpf_loop so each step is verified once. */
#ifndef MERIDIAN_DNS_QUERY_H
#define MERIDIAN_DNS_QUERY_H

#include "xdp_common.h"

/* Result of parsing the DNS query in scratch->query. */
struct query_info {
	__u32 dns_len;      /* bytes of DNS payload */
	__u32 question_end; /* offset just past QTYPE/QCLASS */
	__u32 name_len;     /* wire length of QNAME */
	__u16 qtype;        /* host order */
	__u16 flags;        /* host order header flags of the query */
	__u16 udp_limit;    /* largest reply the client accepts */
	__u8 has_edns;
	__u8 do_bit;
	__u32 ecs_off;      /* offset of ECS option data in query, 0 if none */
	__u32 ecs_len;
	__u32 cookie_off;
	__u32 cookie_len;
};

#define QMASK (MDN_QUERY_MAX - 1)

INLINE __u16 q16(const __u8 *q, __u32 off)
{
	return ((__u16)q[off & QMASK] << 8) | q[(off + 1) & QMASK];
}

/* One byte of QNAME: copies it into the key, lowercasing label bytes. */
static long name_step(__u32 idx, void *ctx)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&mdn_scratch, &zero);
	if (!s)
		return 1;
	struct name_walk *nw = &s->nw;
	if (nw->pos >= nw->len) {
		nw->status = NAME_BAD;
		return 1;
	}
	__u64 k = (__u64)idx + 2; /* key offset: after the qtype */
	if (k >= sizeof(s->key)) {
		nw->status = NAME_BAD;
		return 1;
	}
	__u8 c = s->query[nw->pos & QMASK];
	nw->pos++;
	if (nw->rem == 0) {
		if (c == 0) {
			s->key[k] = 0;
			nw->i = idx;
			nw->status = NAME_DONE;
			return 1;
		}
		if (c & 0xc0) {
			nw->status = NAME_BAD;
			return 1;
		}
		nw->rem = c;
	} else {
		nw->rem--;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
	}
	s->key[k] = c;
	if (idx == 254) /* the name did not end within 255 octets */
		nw->status = NAME_BAD;
	return nw->status != NAME_RUNNING;
}

/* One EDNS option: ECS and cookie are validated exactly as userspace does (userspace answers
 * FORMERR for a bad one), padding is ignored, any other option sends the query up. */
static long opt_step(__u32 idx, void *ctx)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&mdn_scratch, &zero);
	if (!s)
		return 1;
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
	if (code == 8) {
		__u16 family = q16(q, pos);
		__u8 source = q[(pos + 2) & QMASK];
		__u32 alen = olen - 4;
		__u32 max = family == 1 ? 32 : family == 2 ? 128 : 0;
		if (olen < 4 || ow->ecs_off || max == 0 || source > max || alen != ((__u32)source + 7) / 8) {
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
	} else if (code == 10) {
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
	} else if (code != 12) {
		ow->status = OPT_UNKNOWN;
		return 1;
	}
	ow->pos = pos + olen;
	return 0;
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

	/* QNAME, one byte per bpf_loop step: the verifier checks the step once. */
	__builtin_memset(s->key, 0, sizeof(s->key));
	struct name_walk *nw = &s->nw;
	nw->pos = 12;
	nw->len = len;
	nw->rem = 0;
	nw->i = 0;
	nw->status = NAME_RUNNING;
	bpf_loop(256, name_step, NULL, 0);
	if (nw->status != NAME_DONE)
		return MDN_STAT_PASS_MALFORMED; /* truncated, pointer, bad label type, > 255 octets */
	__u32 pos = nw->pos;
	__u32 i = nw->i;
	if (pos > len || i > 254)
		return MDN_STAT_PASS_MALFORMED;
	qi->name_len = i + 1;

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
	if (q[pos & QMASK] != 0 || q16(q, pos + 1) != 41)
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
	bpf_loop(MDN_MAX_OPTIONS, opt_step, NULL, 0);
	if (ow->status != OPT_DONE)
		return ow->status == OPT_UNKNOWN ? MDN_STAT_PASS_UNKNOWN_OPTION : MDN_STAT_PASS_MALFORMED;
	qi->ecs_off = ow->ecs_off;
	qi->ecs_len = ow->ecs_len;
	qi->cookie_off = ow->cookie_off;
	qi->cookie_len = ow->cookie_len;
	return 0;
}

#endif
