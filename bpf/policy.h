/* Routing policies in the XDP program: the client's facts from the prefix tables, the decision
 * by maps/meridian_policy.h (the same C the userspace engine compiles), and the answer assembled
 * from the chosen record sets' fragments. Anything that cannot be decided exactly as userspace
 * would (a table result that depends on bits past the client's source prefix, a missing entry)
 * makes the query go up instead. */
#ifndef MERIDIAN_XDP_POLICY_H
#define MERIDIAN_XDP_POLICY_H

#include "xdp_common.h"
#include "checksum.h"
#include "dns_query.h"

INLINE __u32 xdp_healthy(__u32 slot)
{
	if (slot >= MDN_HEALTH_SLOTS)
		return 1; /* MDN_NO_HEALTH */
	__u32 *down = bpf_map_lookup_elem(&mdn_health, &slot);
	return down && *down ? 0 : 1;
}

/* Looks the client up in one table of an LPM trie with the client's source prefix (or the full
 * address length when `full`). Null on a miss. */
INLINE struct mdn_prefix_value *xdp_prefix_lookup(void *trie, struct policy_state *ps, __u32 table,
						  int full)
{
	struct mdn_prefix_key key = ps->key;
	__u32 bits = mdn_family_bits(ps->key.family);
	mdn_prefix_key_set_table(&key, table);
	key.prefixlen = MDN_PREFIX_HEAD_BITS + (full ? bits : (ps->source & 0xff));
	return bpf_map_lookup_elem(trie, &key);
}

INLINE __u32 xdp_latency_ms(struct policy_state *ps, __u32 profile, __u32 region)
{
	__u32 gen = ps->generation & 1;
	void *inner = bpf_map_lookup_elem(&mdn_latency, &gen);
	if (!inner)
		return MDN_NO_LATENCY;
	struct mdn_latency_key key = { .profile = profile, .region = region };
	__u32 *ms = bpf_map_lookup_elem(inner, &key);
	return ms ? *ms : MDN_NO_LATENCY;
}

INLINE __u32 xdp_cidr_location(struct policy_state *ps, __u32 collection)
{
	__u32 gen = ps->generation & 1;
	void *inner = bpf_map_lookup_elem(&mdn_prefixes, &gen);
	struct mdn_prefix_value *v = inner ? xdp_prefix_lookup(inner, ps, collection, 0) : NULL;
	if (!v) {
		ps->fail = 1;
		return MDN_NO_LOCATION;
	}
	if (v->scope > ps->cidr_scope)
		ps->cidr_scope = v->scope;
	return v->value;
}

#define MDN_POLICY_CTX struct policy_state
#define MDN_POLICY_HEALTHY(ctx, slot) xdp_healthy(slot)
#define MDN_POLICY_RANDOM(ctx) bpf_get_prandom_u32()
#define MDN_POLICY_LATENCY_MS(ctx, profile, region) xdp_latency_ms(ctx, profile, region)
#define MDN_POLICY_CIDR_LOCATION(ctx, collection) xdp_cidr_location(ctx, collection)
#include "meridian_policy.h"

/* Fills s->ps.key (family, address), source and usable_ecs from the query's ECS option when it
 * has a source prefix > 0, else from the packet's source address. -1 when the address cannot be
 * used as userspace would (an IPv4-mapped IPv6 source, which userspace treats as IPv4). */
INLINE int client_address(struct xdp_md *ctx, struct scratch *s, struct query_info *qi,
			  __u32 l3_off, int is_v6)
{
	struct policy_state *ps = &s->ps;
	__builtin_memset(&ps->key, 0, sizeof(ps->key));
	if (qi->ecs_off) {
		__u32 at = qi->ecs_off;
		__u16 family = q16(s->query, at);
		__u8 source = s->query[(at + 2) & QMASK];
		__u32 alen = qi->ecs_len - 4;
		if (source > 0) {
			if (alen > 16)
				return -1;
#pragma unroll
			for (__u32 j = 0; j < 16; j++)
				ps->key.addr[j] = j < alen ? s->query[(at + 4 + j) & QMASK] : 0;
			ps->key.family = family == 1 ? MDN_FAMILY_IPV4 : MDN_FAMILY_IPV6;
			ps->source = source;
			ps->usable_ecs = 1;
			return 0;
		}
	}
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	l3_off &= 0x1f; /* a no-op: Ethernet + two VLAN tags */
	ps->usable_ecs = 0;
	if (is_v6) {
		struct ipv6hdr *ip6 = data + l3_off;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		__builtin_memcpy(ps->key.addr, &ip6->saddr, 16);
		if (mdn_ipv4_mapped(ps->key.addr))
			return -1;
		ps->key.family = MDN_FAMILY_IPV6;
		ps->source = 128;
	} else {
		struct iphdr *ip = data + l3_off;
		if ((void *)(ip + 1) > data_end)
			return -1;
		__builtin_memcpy(ps->key.addr, &ip->saddr, 4);
		ps->key.family = MDN_FAMILY_IPV4;
		ps->source = 32;
	}
	return 0;
}

/* Appends one fragment to s->pans. A global function: verified once, not once per candidate. */
__attribute__((noinline)) int xdp_append_fragment(struct scratch *s, const struct mdn_fragment *f)
{
	if (!s || !f)
		return -1;
	struct policy_state *ps = &s->ps;
	__u32 at = ps->at, len = f->length;
	if (len > MDN_FRAGMENT_MAX || at > MDN_ANSWER_MAX || at + len > MDN_ANSWER_MAX)
		return -1;
	for (__u32 w = 0; w < MDN_FRAGMENT_MAX / 8; w++) {
		if (w * 8 >= len)
			break;
		*(__u64 *)(s->pans.data + at + w * 8) = *(const __u64 *)(f->data + w * 8);
	}
	ps->sum += place(f->csum, at & 1);
	ps->at = at + len;
	ps->ancount += f->ancount;
	ps->nscount += f->nscount;
	return 0;
}

/* Decides group s->ps.group of generation s->ps.generation for the client in s->ps and assembles
 * the answer in s->pans (scope in s->ps.scope). 0 on success, -1: pass the query up. */
__attribute__((noinline)) int xdp_policy_answer(struct scratch *s)
{
	if (!s)
		return -1;
	struct policy_state *ps = &s->ps;
	__u32 gen = ps->generation & 1, zero = 0;
	void *groups = bpf_map_lookup_elem(&mdn_groups, &gen);
	void *fragments = bpf_map_lookup_elem(&mdn_fragments, &gen);
	if (!groups || !fragments)
		return -1;
	__u32 gi = ps->group;
	struct mdn_group_entry *ge = bpf_map_lookup_elem(groups, &gi);
	if (!ge)
		return -1;
	ps->fail = 0;
	ps->geo_scope = 0;
	ps->latency_scope = 0;
	ps->cidr_scope = 0;
	__builtin_memset(&ps->client, 0, sizeof(ps->client));

	/* The client's facts, for the policies that read them (as userspace classifies). */
	__u32 uses = mdn_policy_uses(ge->group.policy);
	if (uses & MDN_USED_GEO) {
		void *geo = bpf_map_lookup_elem(&mdn_geo, &zero);
		struct mdn_prefix_value *v = geo ? xdp_prefix_lookup(geo, ps, MDN_TABLE_GEO, 1) :
						   NULL;
		if (!v)
			return -1;
		ps->client = v->client;
		ps->client.latency_profile = MDN_NO_PROFILE;
		ps->geo_scope = v->scope;
		if (uses & MDN_USED_LATENCY_TABLE) {
			void *trie = bpf_map_lookup_elem(&mdn_prefixes, &gen);
			v = trie ? xdp_prefix_lookup(trie, ps, MDN_TABLE_LATENCY, 0) : NULL;
			if (!v)
				return -1;
			ps->client.latency_profile = v->value;
			ps->latency_scope = v->scope;
		}
	}

	mdn_policy_decide(ps, &ge->group, &ps->client, &ps->d);
	if (ps->fail)
		return -1;
	__u32 scope = mdn_policy_scope(&ps->d, ps->geo_scope, ps->latency_scope, ps->cidr_scope,
				       mdn_family_bits(ps->key.family));
	ps->scope = ps->usable_ecs ? scope : 0;

	struct mdn_answer *a = &s->pans;
	ps->at = 0;
	ps->sum = 0;
	ps->ancount = 0;
	ps->nscount = 0;
	a->kind = MDN_ANSWER_STATIC;
	a->arcount = 0;
	if (ps->d.outcome == MDN_OUTCOME_SERVFAIL) {
		a->flags = 2; /* SERVFAIL, not authoritative, every section empty (as userspace) */
		a->ancount = 0;
		a->nscount = 0;
		a->length = 0;
		a->csum = 0;
		return 0;
	}
	if (ps->d.outcome == MDN_OUTCOME_ANSWER) {
		__u64 chosen = ps->d.chosen;
		for (int k = 0; k < MDN_MULTIVALUE_MAX; k++) {
			if (!chosen)
				break;
			__u64 bit = chosen & -chosen;
			chosen ^= bit;
			__u32 i = mdn_policy_popcount(bit - 1) & (MDN_GROUP_MAX - 1);
			__u32 fi = ge->group.candidates[i].record_set;
			struct mdn_fragment *f = bpf_map_lookup_elem(fragments, &fi);
			if (!f || xdp_append_fragment(s, f))
				return -1;
		}
		if (chosen)
			return -1; /* more than MDN_MULTIVALUE_MAX: never decided */
	} else {
		__u32 fi = ge->nodata;
		struct mdn_fragment *f = bpf_map_lookup_elem(fragments, &fi);
		if (!f || xdp_append_fragment(s, f))
			return -1;
	}
	a->flags = 0x0400; /* AA, NOERROR */
	a->ancount = ps->ancount;
	a->nscount = ps->nscount;
	a->length = ps->at;
	a->csum = fold(ps->sum);
	return 0;
}

#endif
