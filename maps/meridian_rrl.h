/* Response rate limiting (RRL): the one decision "send, drop or slip this reply", written once in
 * C and compiled as is by the XDP program (clang -target bpf) and by meridiand's UDP path
 * (userspace/rrl), so both limit the same clients the same way. Integer only, no loops, no
 * helpers: the caller brings the clock and the bucket (a map value in BPF, a table slot in
 * userspace). docs/rrl.md describes the behaviour.
 *
 * The bucket is a token bucket kept as one timestamp (GCRA, the "virtual scheduling" form of a
 * token bucket): `tat` is the time at which the bucket would be full again. Each reply sent moves
 * it one interval (1 s / responses_per_second) later; a reply is limited when that would put it
 * more than `burst` intervals past now. So a quiet source may send `burst` replies at once, then
 * one per interval. A zeroed bucket is a full one, so a new key needs no initialisation beyond
 * zeroing. Limited replies do not move `tat`: a flood gets exactly the configured rate through.
 *
 * Concurrency: in BPF the bucket lives in a shared LRU hash and is updated without locks by
 * every CPU. Two CPUs that read the same `tat` both send and both store tat + interval, so one
 * reply goes uncounted; the slip counter may likewise skip or repeat a step. A race therefore
 * costs a few extra replies (at most one per concurrent CPU per reply), never a wrong drop of a
 * source that is under its rate. That is accepted: a spin lock would serialise every reply of a
 * flooded prefix on one cache line. The userspace table serialises each bucket under its
 * stripe's mutex, so there the count is exact. */
#ifndef MERIDIAN_RRL_H
#define MERIDIAN_RRL_H

#include <linux/types.h>

#define MDN_RRL_INLINE static inline __attribute__((always_inline))

#ifdef __cplusplus
#define MDN_RRL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MDN_RRL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define MDN_RRL_NS_PER_SEC 1000000000ULL
#define MDN_RRL_MAX_RATE 1000000U  /* responses per second: keeps the interval >= 1000 ns */
#define MDN_RRL_MAX_BURST 1000000U /* responses; interval * burst stays far below 2^63 */
#define MDN_RRL_MAX_SLIP 10U	   /* as BIND: every 10th limited reply at most */

/* Response classes: each has its own bucket, so a flood of NXDOMAIN for random names does not use
 * up the answers a source gets for real names. Stable values (map keys, stats). */
enum mdn_rrl_class {
	MDN_RRL_CLASS_ANSWER = 0,   /* NOERROR: answers, NODATA, referrals */
	MDN_RRL_CLASS_NXDOMAIN = 1, /* NXDOMAIN */
	MDN_RRL_CLASS_ERROR = 2,    /* any other rcode (FORMERR, SERVFAIL, NOTIMP, REFUSED, ...) */
	MDN_RRL_CLASS_COUNT = 3,
};

enum mdn_rrl_verdict {
	MDN_RRL_SEND = 0, /* under the rate (or not limited): send the reply as built */
	MDN_RRL_DROP = 1, /* limited: send nothing */
	MDN_RRL_SLIP = 2, /* limited: send header + question (+ OPT) with TC=1, so a real client
			   * retries over TCP, which is never limited */
};

#define MDN_RRL_FAMILY_IPV4 4
#define MDN_RRL_FAMILY_IPV6 6

/* Which bucket a reply counts against: the client's prefix (address bits past the configured
 * length zeroed) and the response class. 20 bytes, no holes: hashed as is by the kernel. */
struct mdn_rrl_key {
	__u8 family;	 /* MDN_RRL_FAMILY_IPV4 / _IPV6 */
	__u8 klass;	 /* enum mdn_rrl_class */
	__u8 prefix_len; /* the length applied, so a reload that changes it starts new buckets */
	__u8 pad;
	__u8 addr[16]; /* IPv4 in the first 4 bytes; zero past prefix_len */
};
MDN_RRL_STATIC_ASSERT(sizeof(struct mdn_rrl_key) == 20, "mdn_rrl_key is 20 bytes");

/* State per key. Zeroed = full bucket, no limited replies yet. */
struct mdn_rrl_bucket {
	__u64 tat; /* ns (CLOCK_MONOTONIC, bpf_ktime_get_ns): when the bucket is full again */
	__u32 slip_count; /* limited replies since the last slipped one */
	__u32 pad;
};
MDN_RRL_STATIC_ASSERT(sizeof(struct mdn_rrl_bucket) == 16, "mdn_rrl_bucket is 16 bytes");

/* The limits, built by mdn_rrl_config_init (userspace) and read by both sides (in BPF from an
 * array map or a const volatile global). */
struct mdn_rrl_config {
	__u64 interval_ns;	    /* 1 s / responses_per_second: the cost of one reply */
	__u64 burst_ns;		    /* interval_ns * burst: how far past now `tat` may run */
	__u32 responses_per_second; /* 0 = RRL off */
	__u32 burst;		    /* replies a quiet prefix may send at once */
	__u8 slip;	      /* 0 = drop every limited reply, 1 = slip every one, N = every N-th */
	__u8 ipv4_prefix_len; /* 0..32, default 24 */
	__u8 ipv6_prefix_len; /* 0..128, default 56 */
	__u8 enabled;	      /* responses_per_second > 0 */
	__u32 pad;
};
MDN_RRL_STATIC_ASSERT(sizeof(struct mdn_rrl_config) == 32, "mdn_rrl_config is 32 bytes");

/* Key of the allow list as a BPF_MAP_TYPE_LPM_TRIE (BPF_F_NO_PREALLOC) holding both families:
 * the family byte is the first 8 bits of the matched data, so prefixlen = 8 + address bits. */
struct mdn_rrl_allow_key {
	__u32 prefixlen;
	__u8 family; /* MDN_RRL_FAMILY_IPV4 / _IPV6 */
	__u8 addr[16];
	__u8 pad[3];
};
MDN_RRL_STATIC_ASSERT(sizeof(struct mdn_rrl_allow_key) == 24, "mdn_rrl_allow_key is 24 bytes");

/* Fills `c`. rate 0 turns RRL off; burst 0 means one second's worth (= rate); slip and prefix
 * lengths are clamped to their ranges. Runs once per configuration (userspace), hence the one
 * division. */
MDN_RRL_INLINE void mdn_rrl_config_init(struct mdn_rrl_config *c, __u32 responses_per_second,
					__u32 burst, __u32 slip, __u32 ipv4_prefix_len,
					__u32 ipv6_prefix_len)
{
	__u32 rate = responses_per_second > MDN_RRL_MAX_RATE ? MDN_RRL_MAX_RATE :
							       responses_per_second;

	if (burst == 0)
		burst = rate;
	if (burst == 0)
		burst = 1;
	if (burst > MDN_RRL_MAX_BURST)
		burst = MDN_RRL_MAX_BURST;
	c->responses_per_second = rate;
	c->burst = burst;
	c->interval_ns = rate ? MDN_RRL_NS_PER_SEC / rate : 0;
	c->burst_ns = c->interval_ns * burst;
	c->slip = (__u8)(slip > MDN_RRL_MAX_SLIP ? MDN_RRL_MAX_SLIP : slip);
	c->ipv4_prefix_len = (__u8)(ipv4_prefix_len > 32 ? 32 : ipv4_prefix_len);
	c->ipv6_prefix_len = (__u8)(ipv6_prefix_len > 128 ? 128 : ipv6_prefix_len);
	c->enabled = rate > 0;
	c->pad = 0;
}

/* The class of a reply with this rcode (extended rcodes included: anything but 0 and 3 is an
 * error). */
MDN_RRL_INLINE __u8 mdn_rrl_class_of(__u32 rcode)
{
	if (rcode == 0)
		return MDN_RRL_CLASS_ANSWER;
	if (rcode == 3)
		return MDN_RRL_CLASS_NXDOMAIN;
	return MDN_RRL_CLASS_ERROR;
}

/* The mask of byte `i` of an address under a prefix of `len` bits. */
MDN_RRL_INLINE __u8 mdn_rrl_byte_mask(__u32 len, __u32 i)
{
	__u32 first = i * 8;

	if (len >= first + 8)
		return 0xff;
	if (len <= first)
		return 0;
	return (__u8)(0xff00 >> (len - first));
}

/* Fills `key` for a client address: 4 bytes at `addr` for MDN_RRL_FAMILY_IPV4, 16 for IPv6
 * (network order, as in the IP header). In BPF `addr` may point into the packet once the caller
 * has checked that the address is inside it. The byte steps are written out (no loop). */
MDN_RRL_INLINE void mdn_rrl_key_make(struct mdn_rrl_key *key, __u8 family, const __u8 *addr,
				     __u8 klass, const struct mdn_rrl_config *c)
{
	__u32 len = family == MDN_RRL_FAMILY_IPV6 ? c->ipv6_prefix_len : c->ipv4_prefix_len;

	__builtin_memset(key, 0, sizeof(*key));
	key->family = family;
	key->klass = klass;
	key->prefix_len = (__u8)len;
	key->addr[0] = addr[0] & mdn_rrl_byte_mask(len, 0);
	key->addr[1] = addr[1] & mdn_rrl_byte_mask(len, 1);
	key->addr[2] = addr[2] & mdn_rrl_byte_mask(len, 2);
	key->addr[3] = addr[3] & mdn_rrl_byte_mask(len, 3);
	if (family != MDN_RRL_FAMILY_IPV6)
		return;
	key->addr[4] = addr[4] & mdn_rrl_byte_mask(len, 4);
	key->addr[5] = addr[5] & mdn_rrl_byte_mask(len, 5);
	key->addr[6] = addr[6] & mdn_rrl_byte_mask(len, 6);
	key->addr[7] = addr[7] & mdn_rrl_byte_mask(len, 7);
	key->addr[8] = addr[8] & mdn_rrl_byte_mask(len, 8);
	key->addr[9] = addr[9] & mdn_rrl_byte_mask(len, 9);
	key->addr[10] = addr[10] & mdn_rrl_byte_mask(len, 10);
	key->addr[11] = addr[11] & mdn_rrl_byte_mask(len, 11);
	key->addr[12] = addr[12] & mdn_rrl_byte_mask(len, 12);
	key->addr[13] = addr[13] & mdn_rrl_byte_mask(len, 13);
	key->addr[14] = addr[14] & mdn_rrl_byte_mask(len, 14);
	key->addr[15] = addr[15] & mdn_rrl_byte_mask(len, 15);
}

/* The allow-list lookup key for a client address (full length: the LPM trie finds the longest
 * allowed prefix containing it). */
MDN_RRL_INLINE void mdn_rrl_allow_key_make(struct mdn_rrl_allow_key *key, __u8 family,
					   const __u8 *addr)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->family = family;
	key->prefixlen = family == MDN_RRL_FAMILY_IPV6 ? 8 + 128 : 8 + 32;
	__builtin_memcpy(key->addr, addr, 4);
	if (family == MDN_RRL_FAMILY_IPV6)
		__builtin_memcpy(key->addr + 4, addr + 4, 12);
}

/* Decides one reply against its bucket at time `now_ns`, and updates the bucket. */
MDN_RRL_INLINE enum mdn_rrl_verdict mdn_rrl_decide(struct mdn_rrl_bucket *b, __u64 now_ns,
						   const struct mdn_rrl_config *c)
{
	__u64 tat;
	__u32 count;

	if (!c->enabled)
		return MDN_RRL_SEND;
	tat = b->tat;
	if (tat < now_ns)
		tat = now_ns; /* idle long enough to be full: debt does not carry over */
	if (tat + c->interval_ns - now_ns <= c->burst_ns) {
		b->tat = tat + c->interval_ns;
		return MDN_RRL_SEND;
	}
	if (c->slip == 0)
		return MDN_RRL_DROP;
	count = b->slip_count + 1;
	if (count >= c->slip) {
		b->slip_count = 0;
		return MDN_RRL_SLIP;
	}
	b->slip_count = count;
	return MDN_RRL_DROP;
}

#endif /* MERIDIAN_RRL_H */
