/* Runs maps/meridian_geo.h inside the kernel: an XDP program (never attached, only test-run) that
 * reads distance cases from the packet and writes the distance and biased distance into them, so
 * geo_math_bpf_run can compare the verifier-accepted BPF results with the C++ ones. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "meridian_geo.h"

/* One case in the packet; the layout is repeated in geo_math_bpf_run.cc. */
struct geo_case {
	struct mdn_geo_point a;
	struct mdn_geo_point b;
	__s32 bias;
	__u32 km;     /* written here */
	__u32 biased; /* written here */
};

#define GEO_CASES_MAX 16

SEC("xdp")
int geo_math(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	int i;

	for (i = 0; i < GEO_CASES_MAX; i++) {
		struct geo_case *c = (struct geo_case *)data + i;

		if ((void *)(c + 1) > end)
			break;
		c->km = mdn_geo_distance_km(&c->a, &c->b);
		c->biased = mdn_geo_biased_km(c->km, c->bias);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
