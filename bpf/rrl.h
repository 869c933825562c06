/* Response rate limiting in the XDP program, before XDP_TX: the same decision as userspace
 * (maps/meridian_rrl.h) per client prefix (the packet's source address, never ECS) and response
 * class, with buckets in a shared LRU hash, settings and the allow list written by meridiand.
 * docs/rrl.md. */
#ifndef MERIDIAN_XDP_RRL_H
#define MERIDIAN_XDP_RRL_H

#include "xdp_common.h"
#include "meridian_rrl.h"

/* Buckets of the XDP path; the LRU evicts the quietest when a flood spreads over more prefixes. */
#define RRL_BUCKETS 65536
#define RRL_ALLOW_MAX 4096

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mdn_rrl_config);
} mdn_rrl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RRL_BUCKETS);
	__type(key, struct mdn_rrl_key);
	__type(value, struct mdn_rrl_bucket);
} mdn_rrl_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RRL_ALLOW_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mdn_rrl_allow_key);
	__type(value, __u8);
} mdn_rrl_allow SEC(".maps");

INLINE int rrl_enabled(void)
{
	__u32 zero = 0;
	const struct mdn_rrl_config *cfg = bpf_map_lookup_elem(&mdn_rrl_config, &zero);
	return cfg && cfg->enabled;
}

/* The verdict for the reply `a` to the packet's source address: MDN_RRL_SEND when RRL is off,
 * the source is allow-listed, or it is under its rate. For MDN_RRL_SLIP, s->pans holds the
 * slipped reply: the same header bits and rcode with TC=1, no records. A global function: the
 * verifier checks it once, not once per path of the caller. */
__attribute__((noinline)) int xdp_rrl(struct xdp_md *ctx, struct scratch *s,
				      const struct mdn_answer *a, __u32 l3_off, __u32 is_v6)
{
	__u32 zero = 0;
	if (!ctx || !s || !a)
		return MDN_RRL_SEND;
	const struct mdn_rrl_config *cfg = bpf_map_lookup_elem(&mdn_rrl_config, &zero);
	if (!cfg || !cfg->enabled)
		return MDN_RRL_SEND;
	__u8 addr[16] = {};
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	l3_off &= 0x1f; /* a no-op: Ethernet + two VLAN tags */
	__u8 family;
	if (is_v6) {
		struct ipv6hdr *ip6 = data + l3_off;
		if ((void *)(ip6 + 1) > data_end)
			return MDN_RRL_SEND;
		__builtin_memcpy(addr, &ip6->saddr, 16);
		family = MDN_RRL_FAMILY_IPV6;
	} else {
		struct iphdr *ip = data + l3_off;
		if ((void *)(ip + 1) > data_end)
			return MDN_RRL_SEND;
		__builtin_memcpy(addr, &ip->saddr, 4);
		family = MDN_RRL_FAMILY_IPV4;
	}
	struct mdn_rrl_allow_key allow;
	mdn_rrl_allow_key_make(&allow, family, addr);
	if (bpf_map_lookup_elem(&mdn_rrl_allow, &allow))
		return MDN_RRL_SEND;
	struct mdn_rrl_key key;
	mdn_rrl_key_make(&key, family, addr, mdn_rrl_class_of(a->flags & 0xf), cfg);
	struct mdn_rrl_bucket *b = bpf_map_lookup_elem(&mdn_rrl_buckets, &key);
	if (!b) {
		/* Another CPU may create it meanwhile (BPF_NOEXIST): look it up again either way. */
		struct mdn_rrl_bucket fresh = {};
		bpf_map_update_elem(&mdn_rrl_buckets, &key, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&mdn_rrl_buckets, &key);
		if (!b)
			return MDN_RRL_SEND; /* cannot count: send rather than drop unfairly */
	}
	int verdict = mdn_rrl_decide(b, bpf_ktime_get_ns(), cfg);
	if (verdict == MDN_RRL_SLIP) {
		s->pans.flags = a->flags | 0x0200; /* TC */
		s->pans.ancount = 0;
		s->pans.nscount = 0;
		s->pans.arcount = 0;
		s->pans.length = 0;
		s->pans.csum = 0;
		s->pans.kind = MDN_ANSWER_STATIC;
		s->pans.shuffle = 0;
	}
	return verdict;
}

#endif
