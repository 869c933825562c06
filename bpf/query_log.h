/* Query log sampling: one XDP answer in mdn_control.qlog_sample is described in an event on the
 * ring buffer mdn_qlog, which meridiand turns into a query log line (docs/fastpath.md, "Query log
 * sampling"). Called by xdp_reply once the reply is written and before XDP_TX: it only reads what
 * the reply was built from, so the reply's bytes never depend on it. */
#ifndef MERIDIAN_XDP_QUERY_LOG_H
#define MERIDIAN_XDP_QUERY_LOG_H

#include "xdp_common.h"
#include "dns_query.h"
#include "negative.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MDN_QLOG_RING_BYTES);
} mdn_qlog SEC(".maps");

/* Writes the event for the answer `ans` to the query in s->qi, when this answer is sampled. The
 * reply's IP header (s->ip) is built: the client is its destination. The OPT buffer holds the
 * echoed ECS option when the query had one. */
INLINE void qlog_answer(struct scratch *s, const struct mdn_answer *ans)
{
	__u32 n = s->qlog_sample; /* every reply follows a read_control() that set it */
	if (n == 0 || bpf_get_prandom_u32() % n != 0)
		return;
	struct query_info *q = &s->qi;
	struct mdn_qlog_event *e = &s->qlog;
	e->timestamp_ns = bpf_ktime_get_ns();
	e->kind = s->negw.result == NEG_NXDOMAIN ? MDN_QLOG_NXDOMAIN :
		  s->negw.result == NEG_NODATA	 ? MDN_QLOG_NODATA :
		  s->ps.hit_policy		 ? MDN_QLOG_POLICY :
						   MDN_QLOG_STATIC;
	e->rcode = ans->flags & 0xf;
	e->qtype = q->qtype;
	e->pad = 0;
	__builtin_memset(e->client, 0, sizeof(e->client));
	if (s->is_v6) {
		e->family = MDN_FAMILY_IPV6;
		__builtin_memcpy(e->client, &((struct ipv6hdr *)s->ip)->daddr, 16);
	} else {
		e->family = MDN_FAMILY_IPV4;
		__builtin_memcpy(e->client, &((struct iphdr *)s->ip)->daddr, 4);
	}
	/* build_opt echoed ECS at opt[11..]: code, length, family, source, scope, address; the buffer
	 * was zeroed past it, so 16 bytes from the address are the address zero padded. */
	e->ecs_family = 0;
	e->ecs_source = 0;
	__builtin_memset(e->ecs_addr, 0, sizeof(e->ecs_addr));
	if (q->ecs_off) {
		e->ecs_family = s->opt[16];
		e->ecs_source = s->opt[17];
		__builtin_memcpy(e->ecs_addr, s->opt + 19, 16);
	}
	/* The name as the client sent it (the key may hold an ancestor after a negative walk),
	 * lowercased in words as copy_name does. */
	__u32 len = q->name_len;
	e->name_len = len;
#pragma unroll
	for (int w = 0; w < MDN_QLOG_NAME_MAX / 8; w++) {
		if (w * 8 >= len)
			break;
		*(__u64 *)(e->qname + w * 8) = lower8(*(__u64 *)(s->query + 12 + w * 8));
	}
	if (bpf_ringbuf_output(&mdn_qlog, e, sizeof(*e), 0) != 0)
		count(MDN_STAT_QLOG_LOST);
}

#endif
