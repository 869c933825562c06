/* Shared definitions of the XDP program: platform helpers, settings, maps, per-CPU scratch and
 * the stats counters. Included once, by meridian_xdp.bpf.c. */
#ifndef MERIDIAN_XDP_COMMON_H
#define MERIDIAN_XDP_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "meridian_maps.h"

#define INLINE static __always_inline
/* barrier_var() (bpf_helpers.h) hides a value's range from the compiler, so the bounds masks
 * written here stay in the object for the verifier to see. */

/* Settings fixed at load time through the skeleton's rodata. */
const volatile __u16 cfg_ports[MDN_MAX_PORTS] = { 53, 0, 0, 0 }; /* host order; 0 = unused */
const volatile __u16 cfg_advertised_payload = 1232;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MDN_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} mdn_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mdn_control);
} mdn_control SEC(".maps");

#define NAME_INNER(N)                                             \
	struct {                                                  \
		__uint(type, BPF_MAP_TYPE_HASH);                  \
		__uint(max_entries, 1);                           \
		__uint(key_size, sizeof(struct mdn_name_key##N)); \
		__uint(value_size, sizeof(struct mdn_answer));    \
	}
#define NAME_OUTER(N)                                     \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); \
		__uint(max_entries, MDN_GENERATIONS);     \
		__type(key, __u32);                       \
		__array(values, NAME_INNER(N));           \
	} mdn_names##N SEC(".maps")

/* The inner maps are declared by size only, so these anchors put the full key and value types in
 * the object's BTF, where tests/bpf/btf_layout_test.cc checks them against the C++ layout. */
struct mdn_btf_anchor {
	struct mdn_answer answer;
	struct mdn_control control;
	struct mdn_name_key0 key0;
	struct mdn_name_key1 key1;
	struct mdn_name_key2 key2;
	struct mdn_name_key3 key3;
	struct mdn_group_entry group_entry;
	struct mdn_fragment fragment;
	struct mdn_prefix_key prefix_key;
	struct mdn_prefix_value prefix_value;
	struct mdn_latency_key latency_key;
	struct mdn_negative negative;
	struct mdn_qlog_event qlog_event;
};
const struct mdn_btf_anchor *mdn_btf_anchor __attribute__((unused));

NAME_OUTER(0);
NAME_OUTER(1);
NAME_OUTER(2);
NAME_OUTER(3);

/* Routing policies (bpf/policy.h). Per generation, like the name maps: the groups, the record
 * sets' answer fragments, the latency table and CIDR collections (one LPM trie), the operator
 * latency milliseconds. Inner arrays carry BPF_F_INNER_MAP so each generation's can be sized
 * to what it holds. */
#define GENERATION_OUTER(NAME, INNER)                     \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); \
		__uint(max_entries, MDN_GENERATIONS);     \
		__type(key, __u32);                       \
		__array(values, INNER);                   \
	} NAME SEC(".maps")

struct group_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct mdn_group_entry));
};
struct fragment_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct mdn_fragment));
};
struct prefix_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct mdn_prefix_key));
	__uint(value_size, sizeof(struct mdn_prefix_value));
};
struct latency_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct mdn_latency_key));
	__uint(value_size, sizeof(__u32));
};
GENERATION_OUTER(mdn_groups, struct group_inner);
GENERATION_OUTER(mdn_fragments, struct fragment_inner);
GENERATION_OUTER(mdn_prefixes, struct prefix_inner);
GENERATION_OUTER(mdn_latency, struct latency_inner);

/* The geolocation table: one slot, replaced whole when the database changes (its ids are stable
 * across zone reloads, so it is not part of a generation). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct prefix_inner);
} mdn_geo SEC(".maps");

/* Health by slot: 0 healthy (also every slot never written), 1 unhealthy. Written by the
 * daemon's health checker on every transition; never rebuilt. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MDN_HEALTH_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} mdn_health SEC(".maps");

/* Per-CPU scratch: the query copy, the lookup key and the reply headers. */
#define HDR_BUF 352    /* IPv6 40 + UDP 8 + DNS 12 + question <= 259 + pad */
#define OPT_BUF 128    /* OPT 11 + ECS 4+20 + cookie 4+40, padded to a power of two */
#define OPT_SUM_LEN 40 /* the reply's OPT is at most 11 + ECS 4+20 (no cookie is echoed) */
#define L2_MAX 22      /* Ethernet + two VLAN tags */
enum { NAME_RUNNING = 0, NAME_DONE = 1, NAME_BAD = 2 };
struct name_walk {
	__u32 pos; /* next label length byte of the query */
	__u32 len; /* DNS payload length */
	__u32 status;
};

#define MDN_MAX_OPTIONS 8
enum { OPT_RUNNING = 0, OPT_DONE = 1, OPT_BAD = 2, OPT_UNKNOWN = 3 };
struct opt_walk {
	__u32 pos, len;
	__u32 ecs_off, ecs_len;
	__u32 cookie_off, cookie_len;
	__u32 status;
};

/* The walk up a missing name's ancestors to its closest encloser (bpf/negative.h). */
enum { NEG_RUNNING = 0, NEG_FOUND = 1, NEG_OUT = 2 };
struct neg_walk {
	__u32 len; /* wire length of the name now in the key */
	__u32 status;
	__u32 result; /* the negative answer in pans (NEG_NODATA, NEG_NXDOMAIN), for the counters */
	__u32 pad;
	__u64 child; /* first 8 octets of the label stripped last (lowercase, zero padded) */
};

/* Result of parsing the DNS query in scratch->query. */
struct query_info {
	__u32 dns_len;	    /* bytes of DNS payload */
	__u32 question_end; /* offset just past QTYPE/QCLASS */
	__u32 name_len;	    /* wire length of QNAME */
	__u64 name_sum;	    /* partial checksum of QNAME as sent (see copy_name) */
	__u16 qtype;	    /* host order */
	__u16 flags;	    /* host order header flags of the query */
	__u16 udp_limit;    /* largest reply the client accepts */
	__u8 has_edns;
	__u8 do_bit;
	__u32 ecs_off; /* offset of ECS option data in query, 0 if none */
	__u32 ecs_len;
	__u32 cookie_off;
	__u32 cookie_len;
};

/* One routing-policy decision: inputs set by the caller, state of the answer being assembled. */
struct policy_state {
	__u32 generation;
	__u32 group;	  /* index in the generation's mdn_groups */
	__u32 source;	  /* client source prefix length (ECS) or 32/128 */
	__u32 usable_ecs; /* the client address came from ECS: the reply carries the scope */
	__u32 fail;	  /* a table could not decide exactly: the query goes up */
	__u32 geo_scope;
	__u32 latency_scope;
	__u32 cidr_scope;
	__u32 scope; /* the reply's ECS scope */
	__u32 at;    /* bytes assembled */
	__u32 ancount;
	__u32 nscount;
	__u32 hit_policy; /* this query's answer was decided by a policy */
	__u32 pad2;
	__u64 sum;		   /* checksum of the bytes assembled */
	struct mdn_prefix_key key; /* the client's address, prefixlen and table set per lookup */
	__u32 pad;
	struct mdn_client client;
	struct mdn_decision d;
};

/* Walk state lives in the scratch map, not on the stack: values read back from map memory are not
 * tracked exactly by the verifier, so each bpf_loop step is verified once instead of per value. */
struct scratch {
	struct name_walk nw;
	struct opt_walk ow;
	struct neg_walk negw;
	__u32 copy_len; /* length for get_small/put_small, read back from memory */
	__u8 query[MDN_QUERY_MAX];
	__u8 key_pad[2]; /* and so does the key's name (key + 2): aligned word copies */
	__u8 key[2 + MDN_NAME_CLASS3];
	__u8 opt[OPT_BUF];
	__u8 l2[L2_MAX + 2]; /* the reply's Ethernet header and VLAN tags */
	__u8 ip[40];	     /* the reply's IPv4 (20 bytes used) or IPv6 header */
	__u8 udp[8];	     /* the reply's UDP header */
	struct policy_state ps;
	__u8 order[MDN_SHUFFLE_MAX]; /* a shuffled answer's RR order */
	/* An answer assembled per query: from a policy's fragments, or a static one shuffled. */
	struct mdn_answer pans;
	__u8 pans_slack[MDN_FRAGMENT_MAX + 16]; /* word copies may run past pans.data's end */
	__u32 rrl_slipped;    /* this reply was rate limited and slipped (bpf/rrl.h) */
	struct query_info qi; /* the parse result, for xdp_reply() */
	__u32 is_v6;
	__u32 qlog_sample; /* mdn_control.qlog_sample, read with the generation (read_control) */
	struct mdn_qlog_event qlog; /* a sampled answer's query log event (bpf/query_log.h) */
};
_Static_assert(__builtin_offsetof(struct scratch, query) % 8 == 4,
	       "QNAME (query + 12) word aligned");
_Static_assert(__builtin_offsetof(struct scratch, key) % 8 == 6, "key name word aligned");
_Static_assert(__builtin_offsetof(struct scratch, opt) % 8 == 0, "OPT word aligned");
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} mdn_scratch SEC(".maps");

INLINE void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&mdn_stats, &stat);
	if (v)
		*v += 1;
}

INLINE int pass(__u32 stat)
{
	count(stat);
	return XDP_PASS;
}

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Longest block get_small() and put_small() copy. */
#define SMALL_MAX 64

/* Writes *lenp (8..SMALL_MAX) bytes from src (at least SMALL_MAX bytes of map value) to the
 * packet at off with direct access, in 8-byte words; the last word ends exactly at the length and
 * may overlap the one before, which rewrites the same bytes. Cheaper than a helper call for short
 * blocks. Returns -1 if the packet is too short (it never is: the frame was sized for the reply).
 * The length is read back from map memory: the loop's exits narrow the value they test, and were
 * it the caller's, the verifier would carry each narrowed copy through the rest of the program. */
INLINE int put_small(struct xdp_md *ctx, __u32 off, const __u8 *src, const __u32 *lenp)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	barrier_var(off);
	off &= 0x7ff; /* a no-op: headers 70 + question 271 + answer 1024 + OPT stays below */
	asm volatile("" ::: "memory");
	__u32 len = *lenp;
	if (len < 8 || len > SMALL_MAX)
		return -1;
#pragma unroll
	for (__u32 w = 0; w < SMALL_MAX / 8; w++) {
		__u32 at = w * 8 + 8 > len ? len - 8 : w * 8;
		at &= SMALL_MAX - 1; /* a no-op: at <= SMALL_MAX - 8 */
		__u8 *p = data + off + at;
		if ((void *)(p + 8) > data_end)
			return -1;
		*(__u64 *)p = *(const __u64 *)(src + at);
		if (w * 8 + 8 >= len)
			break;
	}
	return 0;
}

/* Copies *lenp (8..SMALL_MAX) bytes of the packet at off (< 256) into dst, the same way. */
INLINE int get_small(struct xdp_md *ctx, __u32 off, __u8 *dst, const __u32 *lenp)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	barrier_var(off);
	off &= 0xff;
	asm volatile("" ::: "memory");
	__u32 len = *lenp;
	if (len < 8 || len > SMALL_MAX)
		return -1;
#pragma unroll
	for (__u32 w = 0; w < SMALL_MAX / 8; w++) {
		__u32 at = w * 8 + 8 > len ? len - 8 : w * 8;
		at &= SMALL_MAX - 1; /* a no-op: at <= SMALL_MAX - 8 */
		__u8 *p = data + off + at;
		if ((void *)(p + 8) > data_end)
			return -1;
		*(__u64 *)(dst + at) = *(__u64 *)p;
		if (w * 8 + 8 >= len)
			break;
	}
	return 0;
}

/* Once the packet has been changed it cannot go up as a query any more: count and drop. */
INLINE int count_drop(__u32 stat)
{
	count(stat);
	return XDP_DROP;
}

#endif
