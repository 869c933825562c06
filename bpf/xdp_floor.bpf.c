/* Benchmark floor: the least an XDP responder can do (swap MACs, IP addresses and UDP ports, then
 * XDP_TX), so bench/xdp_prog_cost can report the fast path's cost as a multiple of it. Swapping
 * leaves both checksums valid (one's complement sums do not depend on word order), so nothing
 * is recomputed. Never loaded by meridiand. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

static __always_inline void swap_bytes(__u8 *a, __u8 *b, int n)
{
#pragma unroll
	for (int i = 0; i < n; i++) {
		__u8 t = a[i];

		a[i] = b[i];
		b[i] = t;
	}
}

SEC("xdp")
int xdp_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
			return XDP_PASS;
		udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > data_end)
			return XDP_PASS;
		__u32 addr = ip->saddr;

		ip->saddr = ip->daddr;
		ip->daddr = addr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_UDP)
			return XDP_PASS;
		udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > data_end)
			return XDP_PASS;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			__u32 word = ip6->saddr.in6_u.u6_addr32[i];

			ip6->saddr.in6_u.u6_addr32[i] = ip6->daddr.in6_u.u6_addr32[i];
			ip6->daddr.in6_u.u6_addr32[i] = word;
		}
	} else {
		return XDP_PASS;
	}
	swap_bytes(eth->h_dest, eth->h_source, ETH_ALEN);
	__u16 port = udp->source;

	udp->source = udp->dest;
	udp->dest = port;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
