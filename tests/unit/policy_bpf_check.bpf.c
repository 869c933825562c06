/* Runs maps/meridian_policy.h inside the kernel: an XDP program (never attached, only test-run)
 * that decides the group stored in the `group` map for the client, health bits, latency values,
 * CIDR location and random seed given in the packet, and writes the decision back into the
 * packet, so policy_bpf_run can compare the verifier-accepted BPF decisions with the C++ ones. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The packet layout; repeated in policy_bpf_run.cc (checked by size there). */
struct policy_case {
	struct mdn_client_wire {
		__u8 bytes[24];
	} client;
	__u64 healthy;     /* health slot i is healthy when bit i is set (slots 0..63) */
	__u32 cidr;        /* what MDN_POLICY_CIDR_LOCATION returns */
	__u32 rng;         /* xorshift32 state for MDN_POLICY_RANDOM */
	__u32 latency[16]; /* MDN_POLICY_LATENCY_MS by region id (0..15), any profile */
	__u8 decision[16]; /* struct mdn_decision, written here */
};

#define MDN_POLICY_CTX struct policy_case
#define MDN_POLICY_HEALTHY(ctx, slot) (((ctx)->healthy >> ((slot) & 63)) & 1)
#define MDN_POLICY_RANDOM(ctx) policy_case_random(ctx)
#define MDN_POLICY_LATENCY_MS(ctx, profile, region) ((ctx)->latency[(region) & 15])
#define MDN_POLICY_CIDR_LOCATION(ctx, collection) ((ctx)->cidr)

static __always_inline __u32 policy_case_random(struct policy_case *c)
{
	__u32 x = c->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	c->rng = x;
	return x;
}

#include "meridian_policy.h"

_Static_assert(sizeof(struct mdn_client) == 24, "client wire size");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mdn_group);
} group SEC(".maps");

/* The case while it is decided: a map value may be indexed by a variable (region id), the
 * packet and a stack copy of this size may not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct policy_case);
} scratch SEC(".maps");

SEC("xdp")
int policy_decide(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct policy_case *c;
	struct mdn_decision d;
	const struct mdn_group *g;
	__u32 key = 0;

	if (data + sizeof(*c) > end)
		return XDP_ABORTED;
	g = bpf_map_lookup_elem(&group, &key);
	if (!g)
		return XDP_ABORTED;
	c = bpf_map_lookup_elem(&scratch, &key);
	if (!c)
		return XDP_ABORTED;
	__builtin_memcpy(c, data, sizeof(*c));
	mdn_policy_decide(c, g, (const struct mdn_client *)&c->client, &d);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + sizeof(*c) > end)
		return XDP_ABORTED;
	__builtin_memcpy(((struct policy_case *)data)->decision, &d, sizeof(d));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
