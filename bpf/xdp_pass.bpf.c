/* XDP_PASS for the peer end of a veth pair: native XDP_TX on a veth is only delivered when the
 * peer has an XDP program. Used by the demo and the end-to-end tests, never by meridiand. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
