/* Building the reply: the answer lookup in the live generation, the OPT record, and the
 * L2/L3/L4 header rewrite with both checksums. */
#ifndef MERIDIAN_DNS_REPLY_H
#define MERIDIAN_DNS_REPLY_H

#include "checksum.h"
#include "dns_query.h"

/* Looks the key up in one size class's name map of the live generation. One call site per map:
 * when the compiler merges the lookups of different maps into one call, the verifier cannot inline
 * it and every lookup goes through the generic helper and an indirect call. */
#define LOOKUP_CLASS(N)                                                    \
	do {                                                               \
		void *inner = bpf_map_lookup_elem(&mdn_names##N, &gen);    \
		if (!inner)                                                \
			return NULL;                                       \
		struct mdn_answer *a = bpf_map_lookup_elem(inner, s->key); \
		barrier_var(a);                                            \
		return a;                                                  \
	} while (0)

/* Reads mdn_control once per query: the live generation (a policy answer reads the same
 * generation's tables) and the query log rate into scratch, and meridiand's heartbeat. Returns 0,
 * or the reason to pass the query up: MDN_STAT_PASS_STALE once the heartbeat is more than
 * stale_after_ns old, so a dead daemon's frozen answers and health stop being served. The coarse
 * clock is CLOCK_MONOTONIC at tick resolution without reading a clock source; the daemon's fine
 * clock may be up to a tick ahead of it, hence the signed difference. */
INLINE __u32 read_control(struct scratch *s)
{
	__u32 zero = 0;
	struct mdn_control *ctl = bpf_map_lookup_elem(&mdn_control, &zero);
	if (!ctl)
		return MDN_STAT_PASS_NO_DATA;
	s->ps.generation = ctl->generation & 1;
	s->qlog_sample = ctl->qlog_sample;
	__s64 limit = (__s64)ctl->stale_after_ns;
	if (limit > 0 && (__s64)(bpf_ktime_get_coarse_ns() - ctl->heartbeat_ns) > limit)
		return MDN_STAT_PASS_STALE;
	return 0;
}

/* Looks the key up in the name map of its size class in the generation read_control() read. */
INLINE struct mdn_answer *lookup_answer(struct scratch *s, __u32 name_len)
{
	__u32 gen = s->ps.generation & 1;
	__u32 c = mdn_name_class(name_len);
	if (c == 0)
		LOOKUP_CLASS(0);
	if (c == 1)
		LOOKUP_CLASS(1);
	if (c == 2)
		LOOKUP_CLASS(2);
	LOOKUP_CLASS(3);
}

INLINE void oput(__u8 *o, __u32 at, __u8 v)
{
	barrier_var(at);
	o[at & (OPT_BUF - 1)] = v;
}

INLINE __u8 qget(const __u8 *q, __u32 at)
{
	barrier_var(at);
	return q[at & QMASK];
}

INLINE __u32 put_opt_bytes(struct scratch *s, __u32 at, __u32 from, __u32 len)
{
	/* copies len (<= 40) bytes of an option from the query into the OPT buffer */
	for (__u32 j = 0; j < 40; j++) {
		if (j >= len)
			break;
		oput(s->opt, at + j, qget(s->query, from + j));
	}
	return at + len;
}

/* Builds the reply's OPT record in s->opt, as userspace writes it: version 0, our payload size,
 * DO echoed, ECS echoed with the decision's scope (s->ps.scope); a client cookie is not echoed (no server cookies yet, as
 * userspace). Returns its length, 0 on error. */
INLINE __u32 build_opt(struct scratch *s, struct query_info *qi)
{
	__u8 *o = s->opt;
	__u16 payload = cfg_advertised_payload;
	o[0] = 0;
	o[1] = 0;
	o[2] = MDN_QTYPE_OPT;
	o[3] = payload >> 8;
	o[4] = payload & 0xff;
	o[5] = 0;
	o[6] = 0;
	o[7] = qi->do_bit ? 0x80 : 0;
	o[8] = 0;
	__u32 at = 11;
	if (qi->ecs_off) {
		__u32 elen = qi->ecs_len;
		if (elen < 4 || elen > 20)
			return 0;
		oput(o, at, 0);
		oput(o, at + 1, MDN_OPT_ECS);
		oput(o, at + 2, 0);
		oput(o, at + 3, elen);
		at = put_opt_bytes(s, at + 4, qi->ecs_off, elen);
		oput(o, at - elen + 3, s->ps.scope); /* SCOPE PREFIX-LENGTH */
	}
	if (at > OPT_BUF - 3)
		return 0;
	__u32 rdlen = at - 11;
	o[9] = rdlen >> 8;
	o[10] = rdlen & 0xff;
	oput(o, at, 0);
	oput(o, at + 1, 0);
	oput(o, at + 2, 0);
	return at;
}

/* Turns the query's L2/L3/L4 headers (copied into scratch) into the reply's: MACs, addresses
 * and ports swapped, a plain IPv4 header (options dropped) or IPv6 header with the new length and
 * TTL/hop limit 64, the IPv4 header checksum, and the full UDP checksum from `sum`, the partial
 * sum of the DNS payload. Offload is never trusted: packets from a namespace may carry partial
 * checksums. */
INLINE void build_headers(struct scratch *s, int is_v6, __u32 dns_len, __u64 sum)
{
	__u8 mac[ETH_ALEN];
	__builtin_memcpy(mac, s->l2, ETH_ALEN);
	__builtin_memcpy(s->l2, s->l2 + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(s->l2 + ETH_ALEN, mac, ETH_ALEN);

	__u16 udp_len = sizeof(struct udphdr) + dns_len;
	if (is_v6) {
		struct ipv6hdr *ip6 = (void *)s->ip;
		struct in6_addr tmp = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = tmp;
		ip6->payload_len = bpf_htons(udp_len);
		ip6->hop_limit = 64;
#pragma unroll
		for (int w = 0; w < 4; w++) {
			__u32 a = ip6->saddr.in6_u.u6_addr32[w], b = ip6->daddr.in6_u.u6_addr32[w];
			sum += (a & 0xffff) + (a >> 16) + (b & 0xffff) + (b >> 16);
		}
	} else {
		struct iphdr *ip = (void *)s->ip;
		__be32 tmp = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = tmp;
		ip->ihl = 5;
		ip->tot_len = bpf_htons(sizeof(struct iphdr) + udp_len);
		ip->frag_off = 0;
		ip->ttl = 64;
		ip->check = 0;
		__u64 ipsum = 0;
		__u16 *w16 = (__u16 *)ip;
#pragma unroll
		for (int w = 0; w < 10; w++)
			ipsum += w16[w];
		ip->check = ~fold(ipsum);
		sum += (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) +
		       (ip->daddr >> 16);
	}
	struct udphdr *udp = (void *)s->udp;
	__be16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons(udp_len);
	udp->check = 0;
	sum += bpf_htons(IPPROTO_UDP) + bpf_htons(udp_len);
	sum += udp->source + udp->dest + udp->len;
	__u16 csum = ~fold(sum);
	udp->check = csum ? csum : 0xffff;
}

INLINE __u32 hit_stat(__u16 qtype)
{
	switch (qtype) {
	case 1:
		return MDN_STAT_HIT_A;
	case 28:
		return MDN_STAT_HIT_AAAA;
	case 5:
		return MDN_STAT_HIT_CNAME;
	case 15:
		return MDN_STAT_HIT_MX;
	case 16:
		return MDN_STAT_HIT_TXT;
	case 2:
		return MDN_STAT_HIT_NS;
	case 6:
		return MDN_STAT_HIT_SOA;
	case 33:
		return MDN_STAT_HIT_SRV;
	default:
		return MDN_STAT_HIT_OTHER;
	}
}

#endif
