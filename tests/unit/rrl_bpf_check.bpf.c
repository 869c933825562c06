/* Runs maps/meridian_rrl.h inside the kernel the way the XDP program uses it: an XDP program
 * (never attached, only test-run) reads one reply event {time, client address, rcode} from the
 * packet, checks the allow list (LPM trie), finds or creates the bucket in an LRU hash, decides,
 * and writes the verdict back into the packet, so rrl_bpf_run can compare the verifier-accepted
 * BPF decisions with userspace's rrl::RateLimiter for the same sequence of events. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "meridian_rrl.h"

/* The packet layout; repeated in rrl_bpf_run.cc (checked by size there). */
struct rrl_event {
	__u64 now_ns;
	__u8 family; /* MDN_RRL_FAMILY_IPV4 / _IPV6 */
	__u8 pad;
	__u16 rcode;
	__u8 addr[16];
	__u8 verdict; /* written: enum mdn_rrl_verdict */
	__u8 allowed; /* written: 1 when the allow list matched */
	__u8 klass;   /* written: enum mdn_rrl_class */
	__u8 pad2[5];
};
_Static_assert(sizeof(struct rrl_event) == 40, "rrl_event is 40 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mdn_rrl_config);
} rrl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mdn_rrl_key);
	__type(value, struct mdn_rrl_bucket);
} rrl_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mdn_rrl_allow_key);
	__type(value, __u8);
} rrl_allow SEC(".maps");

SEC("xdp")
int rrl_decide(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct rrl_event *ev = data;
	const struct mdn_rrl_config *cfg;
	struct mdn_rrl_allow_key allow_key;
	struct mdn_rrl_bucket fresh = {};
	struct mdn_rrl_bucket *b;
	struct mdn_rrl_key key;
	__u32 zero = 0;
	__u8 family, klass;

	if (data + sizeof(*ev) > end)
		return XDP_ABORTED;
	cfg = bpf_map_lookup_elem(&rrl_config, &zero);
	if (!cfg)
		return XDP_ABORTED;
	family = ev->family == MDN_RRL_FAMILY_IPV6 ? MDN_RRL_FAMILY_IPV6 : MDN_RRL_FAMILY_IPV4;
	klass = mdn_rrl_class_of(ev->rcode);
	ev->klass = klass;
	ev->allowed = 0;
	ev->verdict = MDN_RRL_SEND;
	if (!cfg->enabled)
		return XDP_PASS;
	mdn_rrl_allow_key_make(&allow_key, family, ev->addr);
	if (bpf_map_lookup_elem(&rrl_allow, &allow_key)) {
		ev->allowed = 1;
		return XDP_PASS;
	}
	mdn_rrl_key_make(&key, family, ev->addr, klass, cfg);
	b = bpf_map_lookup_elem(&rrl_buckets, &key);
	if (!b) {
		/* BPF_NOEXIST: another CPU may have made it meanwhile; either way look it up again. */
		bpf_map_update_elem(&rrl_buckets, &key, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&rrl_buckets, &key);
		if (!b)
			return XDP_PASS; /* cannot count: send, never drop unfairly */
	}
	ev->verdict = mdn_rrl_decide(b, ev->now_ns, cfg);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
