/* Meridian XDP fast path: answers DNS queries over UDP from precompiled answers in BPF maps
 * (XDP_TX), byte for byte what the userspace server would send; passes everything else up
 * (XDP_PASS) untouched. See docs/fastpath.md. */
#include "xdp_common.h"
#include "checksum.h"
#include "dns_query.h"
#include "dns_reply.h"
#include "policy.h"
#include "shuffle.h"
#include "negative.h"
#include "rrl.h"
#include "query_log.h"

/* Builds and sends the reply to the query in s->qi with answer `ans` (a name-map entry or an
 * answer assembled in s->pans): header, question, answer bytes, OPT, the link, IP and UDP headers
 * with both checksums. Returns the XDP action; counts the outcome. */
__attribute__((noinline)) int xdp_reply(struct xdp_md *ctx, struct scratch *s,
					const struct mdn_answer *ans, __u64 l3_off, __u64 l4_off)
{
	if (!ctx || !s || !ans)
		return XDP_PASS;
	struct query_info *q = &s->qi;
	int is_v6 = s->is_v6;
	void *data, *data_end;
	__u32 alen = ans->length;
	if (alen > MDN_ANSWER_MAX)
		return pass(MDN_STAT_PASS_NAME_MISS);

	/* OPT of the reply: version 0, our payload size, DO echoed, ECS echoed with the scope of the
	 * policy decision (0 for static answers, which do not depend on the client). Same order as
	 * userspace. */
	__u32 opt_len = 0;
	if (q->has_edns) {
		/* zero first: the checksum below sums OPT_SUM_LEN bytes, the record and zero padding */
#pragma unroll
		for (int w = 0; w < OPT_SUM_LEN / 8; w++)
			*(__u64 *)(s->opt + w * 8) = 0;
		opt_len = build_opt(s, q);
		if (opt_len == 0 || opt_len > OPT_SUM_LEN)
			return pass(MDN_STAT_PASS_MALFORMED);
	}
	__u32 qend = q->question_end;
	barrier_var(
		qend); /* the compiler knows this bound from parsing, the verifier needs it here */
	qend &= QMASK; /* a no-op (< 12 + 255 + 4), for the verifier */
	if (qend > 12 + 259 || qend < 17)
		return pass(MDN_STAT_PASS_MALFORMED);
	__u32 dns_reply_len = qend + alen + opt_len;
	if (dns_reply_len > q->udp_limit)
		return pass(MDN_STAT_PASS_TOO_BIG);

	/* DNS header of the reply, written over the query copy so header + question are contiguous. */
	__u8 *h = s->query;
	__u16 flags = 0x8000 | (q->flags & (0x7800 | 0x0100)) | ans->flags;
	__u16 arcount = ans->arcount + (q->has_edns ? 1 : 0);
	h[2] = flags >> 8;
	h[3] = flags & 0xff;
	h[4] = 0;
	h[5] = 1;
	h[6] = ans->ancount >> 8;
	h[7] = ans->ancount & 0xff;
	h[8] = ans->nscount >> 8;
	h[9] = ans->nscount & 0xff;
	h[10] = arcount >> 8;
	h[11] = arcount & 0xff;

	/* UDP checksum of the DNS payload, in native 16-bit words: header, QNAME (summed while it
	 * was copied), QTYPE/QCLASS, the precomputed answer sum, the OPT record; a block at an odd
	 * offset contributes byte-swapped. */
	__u64 sum = q->name_sum;
	sum += *(__u32 *)(h + 0) + *(__u32 *)(h + 4) + *(__u32 *)(h + 8);
	__u32 qt = qend - 4;
	__u32 tc = h[qt & QMASK] | (__u32)h[(qt + 1) & QMASK] << 8 |
		   (__u32)h[(qt + 2) & QMASK] << 16 | (__u32)h[(qt + 3) & QMASK] << 24;
	sum += place(tc, qt & 1);
	sum += place(ans->csum, qend & 1);
	barrier_var(opt_len);
	opt_len &= OPT_BUF - 1;
	if (opt_len) {
		__u64 osum = 0;
#pragma unroll
		for (int w = 0; w < OPT_SUM_LEN / 4; w++)
			osum += *(__u32 *)(s->opt + w * 4);
		sum += place(fold(osum), (qend + alen) & 1);
	}

	/* The reply's link, network and transport headers, built in scratch from the query's, read
	 * with direct packet access in fixed-size blocks (no helper calls): the Ethernet block may
	 * take up to 10 bytes of the IP header and the IP block 20 bytes past an IPv4 header, which
	 * are never used. Every block lies inside the query: it holds its headers, 8 bytes of UDP and
	 * at least 12 of DNS. */
	/* 64-bit, as the arguments: a 32-bit copy would be zero-extended into a fresh register per
	 * use, and the bound checked on one would not hold for the others. */
	__u64 l2_len = l3_off;
	__u32 ip_len = is_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	if (l2_len > L2_MAX || l2_len < sizeof(struct ethhdr))
		return pass(MDN_STAT_PASS_MALFORMED);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(s->l2) > data_end || data + l2_len + sizeof(s->ip) > data_end ||
	    data + (l4_off & 0xff) + sizeof(s->udp) > data_end)
		return pass(MDN_STAT_PASS_MALFORMED);
	__builtin_memcpy(s->l2, data, sizeof(s->l2));
	__builtin_memcpy(s->ip, data + l2_len, sizeof(s->ip));
	__builtin_memcpy(s->udp, data + (l4_off & 0xff), sizeof(s->udp));
	build_headers(s, is_v6, dns_reply_len, sum);

	/* Resize the frame: the only step that can fail, and a failed attempt leaves the packet
	 * untouched, so the query still goes up. Tailroom first; headroom (XDP always reserves
	 * some) when the driver left too little tailroom, as veth does for small packets. IPv4
	 * options are not part of the reply, so the frame may shrink. */
	__u32 hdr_len = l2_len + ip_len + sizeof(struct udphdr);
	int delta = (int)(hdr_len + dns_reply_len) - (int)(data_end - data);
	int moved = 0;
	if (delta > 0) {
		if (bpf_xdp_adjust_tail(ctx, delta)) {
			if (bpf_xdp_adjust_head(ctx, -delta))
				return pass(MDN_STAT_PASS_FRAME_GROW);
			moved = 1;
		}
	} else if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta)) {
		return pass(MDN_STAT_PASS_FRAME_GROW);
	}

	/* The headers, written in the same fixed-size blocks in order, so each block's spare bytes
	 * are overwritten by the next one (IP, then UDP and the >= 17 bytes of DNS). The reply is at
	 * least as long as every block's end: headers + 12 + 5 bytes of question. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	__u64 udp_at = hdr_len - sizeof(struct udphdr);
	udp_at &=
		0x7f; /* a no-op (<= 22 + 40), so the verifier sees a bound and no negative offset */
	if (data + sizeof(s->l2) > data_end || data + l2_len + sizeof(s->ip) > data_end ||
	    data + udp_at + sizeof(struct udphdr) + 12 > data_end)
		return count_drop(MDN_STAT_ERROR_STORE);
	__builtin_memcpy(data, s->l2, sizeof(s->l2));
	__builtin_memcpy(data + l2_len, s->ip, sizeof(s->ip));
	__builtin_memcpy(data + udp_at, s->udp, sizeof(s->udp));
	/* Unless the frame start or the UDP header moved (headroom used, IPv4 options dropped), the
	 * query's DNS bytes are still in place (the IP block rewrote the ID with its own bytes), so
	 * only the header's flags and counts are written; else header and question are stored. */
	if (!moved && hdr_len == l4_off + sizeof(struct udphdr)) {
		__builtin_memcpy(data + udp_at + sizeof(struct udphdr) + 2, s->query + 2, 10);
	} else if (bpf_xdp_store_bytes(ctx, hdr_len, s->query, qend) < 0) {
		return count_drop(MDN_STAT_ERROR_STORE);
	}
	/* Short blocks by direct access, longer answers with the helper (one call, then memcpy).
	 * The length tested is a copy read back from memory, as for the payload above. A policy's
	 * SERVFAIL has no answer bytes. */
	s->copy_len = alen;
	asm volatile("" ::: "memory");
	if (s->copy_len >= 8 && s->copy_len <= SMALL_MAX) {
		if (put_small(ctx, hdr_len + qend, ans->data, &s->copy_len) < 0)
			return count_drop(MDN_STAT_ERROR_STORE);
	} else if (alen > 0 &&
		   bpf_xdp_store_bytes(ctx, hdr_len + qend, (void *)ans->data, alen) < 0) {
		return count_drop(MDN_STAT_ERROR_STORE);
	}
	if (opt_len) {
		s->copy_len = opt_len;
		if (put_small(ctx, hdr_len + qend + alen, s->opt, &s->copy_len) < 0)
			return count_drop(MDN_STAT_ERROR_STORE);
	}

	count(MDN_STAT_ANSWERED);
	if (s->rrl_slipped) {
		count(MDN_STAT_RRL_SLIPPED);
		return XDP_TX;
	}
	qlog_answer(
		s, ans); /* sampled: an event on mdn_qlog (bpf/query_log.h); slips are not logged */
	count(neg_hit_stat(s->negw.result, q->qtype));
	if (s->ps.hit_policy)
		count(MDN_STAT_HIT_POLICY);
	return XDP_TX;
}

SEC("xdp")
int meridian_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	count(MDN_STAT_PACKETS);

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return pass(MDN_STAT_PASS_NOT_IP);
	__u16 proto = eth->h_proto;
	__u32 l3_off = sizeof(*eth);
#pragma unroll
	for (int v = 0; v < 2; v++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vh = data + l3_off;
		if ((void *)(vh + 1) > data_end)
			return pass(MDN_STAT_PASS_NOT_IP);
		proto = vh->proto;
		l3_off += sizeof(*vh);
	}

	__u32 l4_off, udp_len, ip_hdr_len;
	int is_v6;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + l3_off;
		if ((void *)(ip + 1) > data_end)
			return pass(MDN_STAT_PASS_MALFORMED);
		if (ip->ihl < 5 || ip->version != 4)
			return pass(MDN_STAT_PASS_MALFORMED);
		if (ip->frag_off & bpf_htons(0x3fff))
			return pass(MDN_STAT_PASS_FRAGMENT);
		if (ip->protocol != IPPROTO_UDP)
			return pass(ip->protocol == IPPROTO_TCP ? MDN_STAT_PASS_TCP :
								  MDN_STAT_PASS_NOT_UDP);
		ip_hdr_len = ip->ihl * 4;
		l4_off = l3_off + ip_hdr_len;
		is_v6 = 0;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + l3_off;
		if ((void *)(ip6 + 1) > data_end)
			return pass(MDN_STAT_PASS_MALFORMED);
		if (ip6->nexthdr != IPPROTO_UDP)
			return pass(ip6->nexthdr == IPPROTO_TCP ? MDN_STAT_PASS_TCP :
								  MDN_STAT_PASS_IPV6_EXT);
		ip_hdr_len = sizeof(*ip6);
		l4_off = l3_off + ip_hdr_len;
		is_v6 = 1;
	} else {
		return pass(MDN_STAT_PASS_NOT_IP);
	}
	if (l4_off > 128)
		return pass(MDN_STAT_PASS_MALFORMED);

	struct udphdr *udp = data + l4_off;
	if ((void *)(udp + 1) > data_end)
		return pass(MDN_STAT_PASS_MALFORMED);
	__u16 dport = bpf_ntohs(udp->dest);
	int port_ok = 0;
#pragma unroll
	for (int p = 0; p < MDN_MAX_PORTS; p++)
		if (cfg_ports[p] && cfg_ports[p] == dport)
			port_ok = 1;
	if (!port_ok)
		return pass(MDN_STAT_PASS_NOT_DNS_PORT);

	udp_len = bpf_ntohs(udp->len);
	__u32 pkt_len = data_end - data;
	if (udp_len < sizeof(*udp) + 12 || l4_off + udp_len > pkt_len)
		return pass(MDN_STAT_PASS_MALFORMED);
	struct query_info qi = {};
	qi.dns_len = udp_len - sizeof(*udp);
	if (qi.dns_len > MDN_QUERY_MAX)
		return pass(MDN_STAT_PASS_TOO_BIG);

	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&mdn_scratch, &zero);
	if (!s)
		return XDP_PASS;
	/* The DNS payload into scratch: short queries by direct access, longer ones with the helper.
	 * The branch tests a copy read back from map memory: testing dns_len itself would split its
	 * range, and the verifier would walk the rest of the program once per half. */
	s->copy_len = qi.dns_len;
	asm volatile("" ::: "memory");
	if (s->copy_len <= SMALL_MAX) {
		if (get_small(ctx, l4_off + sizeof(*udp), s->query, &s->copy_len) < 0)
			return pass(MDN_STAT_PASS_MALFORMED);
	} else if (bpf_xdp_load_bytes(ctx, l4_off + sizeof(*udp), s->query,
				      qi.dns_len & (MDN_QUERY_MAX * 2 - 1)) < 0) {
		return pass(MDN_STAT_PASS_MALFORMED);
	}
	__u32 why = parse_dns(s, &qi);
	if (why)
		return pass(why);
	/* The live generation, and whether meridiand still beats: a dead daemon's program passes
	 * everything up, so resolvers move on to the other authoritative servers. */
	why = read_control(s);
	if (why)
		return pass(why);

	struct mdn_answer *ans = lookup_answer(s, qi.name_len);
	/* Not in the maps (or only QNAME's negative entry): NODATA or NXDOMAIN when the entries
	 * make it exact (bpf/negative.h), else userspace answers. */
	s->negw.result = NEG_NONE;
	if (!ans || ans->kind == MDN_ANSWER_NEGATIVE) {
		if (xdp_negative_answer(s, qi.qtype, qi.name_len) == NEG_NONE)
			return pass(MDN_STAT_PASS_NAME_MISS);
		ans = &s->pans;
	}
	/* A routing-policy group: decided for this client, assembled in scratch. Whether it was is
	 * kept in scratch, not in a local: the verifier then checks the rest of the program once for
	 * every answer assembled in scratch, not once per way it got there. */
	s->ps.hit_policy = 0;
	s->ps.scope = 0;
	if (ans->kind == MDN_ANSWER_POLICY) {
		s->ps.group = ans->csum;
		if (client_address(ctx, s, &qi, l3_off, is_v6) || xdp_policy_answer(s))
			return pass(MDN_STAT_PASS_POLICY);
		ans = &s->pans;
		s->ps.hit_policy = 1;
	} else if (ans->shuffle) {
		if (xdp_shuffle_answer(s, ans, shuffle_rr_size(qi.qtype)))
			return pass(MDN_STAT_PASS_NAME_MISS);
		ans = &s->pans;
	}
	/* Response rate limiting (bpf/rrl.h): a limited reply is dropped, or slipped as header,
	 * question and OPT with TC=1, as userspace does. Whether it slipped is kept in scratch, so
	 * the verifier does not carry a second copy of the rest of the program. */
	s->rrl_slipped = 0;
	if (rrl_enabled()) { /* inline: the call costs more than the check when RRL is off */
		int verdict = xdp_rrl(ctx, s, ans, l3_off, is_v6);
		if (verdict == MDN_RRL_DROP)
			return count_drop(MDN_STAT_RRL_DROPPED);
		if (verdict == MDN_RRL_SLIP) {
			s->rrl_slipped = 1;
			ans = &s->pans;
		}
	}
	/* The reply, from here on the same for every kind of answer: a global function, so the
	 * verifier checks it once whether the answer is a map entry or was assembled in scratch. */
	s->qi = qi;
	s->is_v6 = is_v6;
	return xdp_reply(ctx, s, ans, l3_off, l4_off);
}

char LICENSE[] SEC("license") = "GPL";
