/* Shared kernel/user ABI: every map key/value layout, verdict reason and constant used by the XDP
 * program, meridiand and meridianctl. Included from C (BPF) and C++. Never renumber an enum value:
 * they double as metric labels. */
#ifndef MERIDIAN_MAPS_H
#define MERIDIAN_MAPS_H

#include <linux/types.h>

#include "meridian_policy.h"

#ifdef __cplusplus
#define MDN_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MDN_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
/* The rules both sides apply are functions here, inlined into the program and into C++. */
#define MDN_INLINE static inline __attribute__((always_inline))

/* Loads and stores of words at addresses that may be unaligned (names and addresses inside keys).
 * The program does them directly, as the JIT of every architecture it runs on allows; C++ goes
 * through memcpy so that UBSan's alignment check holds. */
#ifdef __bpf__
#define MDN_LOAD_U32(p) (*(const __u32 *)(p))
#define MDN_LOAD_U64(p) (*(const __u64 *)(p))
#define MDN_STORE_U64(p, v) (*(__u64 *)(p) = (v))
#else
MDN_INLINE __u32 mdn_load_u32(const void *p)
{
	__u32 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}
MDN_INLINE __u64 mdn_load_u64(const void *p)
{
	__u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}
#define MDN_LOAD_U32(p) mdn_load_u32(p)
#define MDN_LOAD_U64(p) mdn_load_u64(p)
#define MDN_STORE_U64(p, v)                              \
	do {                                             \
		__u64 mdn_store_v_ = (v);                \
		__builtin_memcpy((p), &mdn_store_v_, 8); \
	} while (0)
#endif

/* DNS codes the program reads or writes itself (RFC 6891, 7871, 7873, 7830, 1035). */
#define MDN_QTYPE_OPT 41
#define MDN_QTYPE_META_FIRST 128 /* 128-255: meta types (ANY, AXFR, IXFR, TSIG, ...) */
#define MDN_QTYPE_META_LAST 255
#define MDN_OPT_ECS 8
#define MDN_OPT_COOKIE 10
#define MDN_OPT_PADDING 12
#define MDN_DNS_POINTER 0xc000 /* the top bits of a compression pointer */
#define MDN_LABEL_MAX 63

/* Longest DNS query the fast path reads (larger ones go to userspace). */
#define MDN_QUERY_MAX 512
/* Name key size classes: a lookup hashes only the class that fits the name, not 256 bytes. */
#define MDN_NAME_CLASSES 4
#define MDN_NAME_CLASS0 32
#define MDN_NAME_CLASS1 64
#define MDN_NAME_CLASS2 128
#define MDN_NAME_CLASS3 256
/* Bytes of answer data (sections after the question, without OPT) one entry can hold. */
#define MDN_ANSWER_MAX 1024
/* Most values of one RRset the program shuffles itself (larger RRsets stay in userspace), and
 * where the shuffled records must end in the answer data (room for the verifier's bounds). */
#define MDN_SHUFFLE_MAX 16
#define MDN_SHUFFLE_END (MDN_ANSWER_MAX - 12)
/* Two generations of every data map: userspace fills the inactive one, then flips. */
#define MDN_GENERATIONS 2
#define MDN_MAX_PORTS 4

/* Key of the name maps: query type (network order) then the lowercased wire name, zero padded to
 * the class size. The full key is compared, so a hit is exact: no false hits. */
struct mdn_name_key0 {
	__be16 qtype;
	__u8 name[MDN_NAME_CLASS0];
};
struct mdn_name_key1 {
	__be16 qtype;
	__u8 name[MDN_NAME_CLASS1];
};
struct mdn_name_key2 {
	__be16 qtype;
	__u8 name[MDN_NAME_CLASS2];
};
struct mdn_name_key3 {
	__be16 qtype;
	__u8 name[MDN_NAME_CLASS3];
};

/* The size class of a wire name of `len` octets (1..MDN_NAME_CLASS3): the smallest that holds it.
 * The program looks a name up, the map writer writes it, and meridianctl reads it, in this class. */
MDN_INLINE __u32 mdn_name_class(__u32 len)
{
	return len <= MDN_NAME_CLASS0 ? 0 :
	       len <= MDN_NAME_CLASS1 ? 1 :
	       len <= MDN_NAME_CLASS2 ? 2 :
					3;
}

/* Octets of name in the keys of class c (0..MDN_NAME_CLASSES - 1): each class doubles the last. */
MDN_INLINE __u32 mdn_name_class_size(__u32 c)
{
	return (__u32)MDN_NAME_CLASS0 << c;
}
MDN_STATIC_ASSERT(MDN_NAME_CLASS1 == 2 * MDN_NAME_CLASS0 &&
			  MDN_NAME_CLASS2 == 2 * MDN_NAME_CLASS1 &&
			  MDN_NAME_CLASS3 == 2 * MDN_NAME_CLASS2 && MDN_NAME_CLASSES == 4,
		  "name classes double");

/* A precompiled answer: the DNS sections after the question, exactly as the userspace responder
 * writes them for this name and type (owner names compress to the question at offset 12). */
struct mdn_answer {
	__u16 flags;   /* host order: header bits to set (AA) and the rcode in the low 4 bits */
	__u16 ancount; /* host order section counts, OPT not included */
	__u16 nscount;
	__u16 arcount;
	__u16 length; /* bytes used in data */
	__u8 kind;    /* enum mdn_answer_kind */
	__u8 shuffle; /* static: the answer section ends with this many A/AAAA RRs of one RRset
			  * (one size, one compressed owner), sent in a random order (rule 1); 0: as is */
	__u32 csum;   /* static: csum_partial of data (native 16-bit words, zero padded to even);
			  * policy: the group's index in the live generation's mdn_groups */
	__u16 shuffle_at; /* offset in data of the first RR to shuffle */
	__u16 reserved;
	__u8 data[MDN_ANSWER_MAX];
};

enum mdn_answer_kind {
	MDN_ANSWER_STATIC = 0, /* replay data as is */
	MDN_ANSWER_POLICY =
		1, /* a routing-policy group: decided per query (header fields unused) */
	MDN_ANSWER_NEGATIVE = 2, /* keyed (qtype 0, name): negative answers (struct mdn_negative) */
};

/* ---- Routing policies decided in XDP (docs/fastpath.md, "Routing policies") ---- */

/* Bytes of one record set's answer RRs (or a group's NODATA authority section). */
#define MDN_FRAGMENT_MAX 496
/* Health slots (enum-free: HealthView's capacity). */
#define MDN_HEALTH_SLOTS 65536
/* No fragment (a group without a NODATA answer: the query goes up when it would need one). */
#define MDN_NO_FRAGMENT 0xffffffffU

/* The RRs one record set contributes to an answer, written as the userspace responder writes them
 * after the question (owner names compressed to offset 12), or a NODATA authority section. */
struct mdn_fragment {
	__u16 ancount;
	__u16 nscount;
	__u16 length; /* bytes used in data */
	__u16 reserved;
	__u32 csum; /* csum_partial of data, as for mdn_answer */
	__u32 reserved2;
	__u8 data[MDN_FRAGMENT_MAX];
};

/* One routing-policy group: candidates' record_set fields index mdn_fragments. */
struct mdn_group_entry {
	struct mdn_group group;
	__u32 nodata; /* fragment of the NODATA answer (SOA in authority) or MDN_NO_FRAGMENT */
	__u32 reserved;
};

/* Client prefix tables (BPF LPM tries): key data is table id (big endian), family, address. The
 * geolocation table (mdn_geo) uses table 0; the generation's mdn_prefixes holds the latency table
 * (table 0) and each CIDR collection (its id). Every table covers its whole address space with
 * disjoint prefixes, so a lookup with prefixlen MDN_PREFIX_HEAD_BITS + source prefix misses only
 * when the result depends on bits past the client's source prefix: the query then goes up. */
#define MDN_PREFIX_HEAD_BITS 40
#define MDN_TABLE_LATENCY 0U
#define MDN_TABLE_GEO 0U
#define MDN_FAMILY_IPV4 4
#define MDN_FAMILY_IPV6 6
struct mdn_prefix_key {
	__u32 prefixlen;
	__u8 table[4];
	__u8 family;
	__u8 addr[16];
	__u8 pad[3];
};

/* The table id in a prefix key: big endian, so a table's prefixes sort together in the trie. */
MDN_INLINE void mdn_prefix_key_set_table(struct mdn_prefix_key *k, __u32 table)
{
	k->table[0] = (__u8)(table >> 24);
	k->table[1] = (__u8)(table >> 16);
	k->table[2] = (__u8)(table >> 8);
	k->table[3] = (__u8)table;
}

MDN_INLINE __u32 mdn_prefix_key_table(const struct mdn_prefix_key *k)
{
	return (__u32)k->table[0] << 24 | (__u32)k->table[1] << 16 | (__u32)k->table[2] << 8 |
	       k->table[3];
}

/* Address bits of a family (MDN_FAMILY_IPV4 or MDN_FAMILY_IPV6). */
MDN_INLINE __u32 mdn_family_bits(__u8 family)
{
	return family == MDN_FAMILY_IPV4 ? 32 : 128;
}

/* 1 when a 16-octet address is IPv4-mapped IPv6 (::ffff:a.b.c.d). Userspace reads such a source
 * address as IPv4, which the program does not: a policy query from one goes up. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MDN_IPV4_MAPPED_WORD 0xffff0000U /* octets 8-11 of ::ffff:0:0, loaded as a __u32 */
#else
#define MDN_IPV4_MAPPED_WORD 0x0000ffffU
#endif
MDN_INLINE int mdn_ipv4_mapped(const __u8 *addr)
{
	return MDN_LOAD_U32(addr) == 0 && MDN_LOAD_U32(addr + 4) == 0 &&
	       MDN_LOAD_U32(addr + 8) == MDN_IPV4_MAPPED_WORD;
}

struct mdn_prefix_value {
	struct mdn_client client; /* geo: the client's facts (latency_profile unused) */
	__u32 value; /* latency: profile or MDN_NO_PROFILE; CIDR: location id or MDN_NO_LOCATION */
	__u8 scope;  /* ECS scope the result holds for */
	__u8 pad[3];
};

struct mdn_latency_key {
	__u32 profile;
	__u32 region;
};

/* Control array, one entry. */
struct mdn_control {
	__u32 generation;  /* which slot of the outer name maps is live: 0 or 1 */
	__u32 qlog_sample; /* log one XDP answer in N through mdn_qlog; 0: off */
	/* meridiand's heartbeat (docs/fastpath.md, "A dead daemon's fast path"): CLOCK_MONOTONIC
	 * ns of its last write. Once the program's clock is more than stale_after_ns past it, every
	 * query goes up (MDN_STAT_PASS_STALE). stale_after_ns 0: never stale. */
	__u64 heartbeat_ns;
	__u64 stale_after_ns;
};

/* Outcome counters in the per-CPU stats array. Fixed numbers, never renumbered. */
enum mdn_stat {
	MDN_STAT_PACKETS = 0,  /* every packet the program saw */
	MDN_STAT_ANSWERED = 1, /* XDP_TX replies */
	MDN_STAT_PASS_NOT_IP = 2,
	MDN_STAT_PASS_NOT_UDP = 3, /* TCP and anything else */
	MDN_STAT_PASS_TCP = 4,	   /* TCP to a DNS port */
	MDN_STAT_PASS_NOT_DNS_PORT = 5,
	MDN_STAT_PASS_FRAGMENT = 6,
	MDN_STAT_PASS_MALFORMED = 7, /* short or malformed: userspace forms FORMERR or drops */
	MDN_STAT_PASS_NOT_QUERY = 8, /* QR=1, opcode != QUERY, counts not a simple query */
	MDN_STAT_PASS_UNKNOWN_OPTION = 9,
	MDN_STAT_PASS_EDNS_VERSION = 10,
	MDN_STAT_PASS_CLASS = 11, /* class other than IN */
	MDN_STAT_PASS_NAME_MISS = 12,
	MDN_STAT_PASS_TOO_BIG = 13,  /* query longer than MDN_QUERY_MAX or reply over the limit */
	MDN_STAT_PASS_NO_DATA = 14,  /* maps not loaded */
	MDN_STAT_PASS_IPV6_EXT = 15, /* IPv6 extension headers */
	/* The reply is longer than the frame can grow (bpf_xdp_adjust_tail and _head both
	 * refused: too little room left by the driver): normal for big replies, the query goes up
	 * untouched. */
	MDN_STAT_PASS_FRAME_GROW = 16,
	MDN_STAT_ERROR_STORE = 17, /* writing the reply failed */
	MDN_STAT_HIT_A = 18,
	MDN_STAT_HIT_AAAA = 19,
	MDN_STAT_HIT_CNAME = 20,
	MDN_STAT_HIT_MX = 21,
	MDN_STAT_HIT_TXT = 22,
	MDN_STAT_HIT_NS = 23,
	MDN_STAT_HIT_SOA = 24,
	MDN_STAT_HIT_SRV = 25,
	MDN_STAT_HIT_OTHER = 26,
	MDN_STAT_HIT_POLICY = 27, /* answers a routing policy decided in XDP (also in HIT_<type>) */
	MDN_STAT_PASS_POLICY =
		28, /* policy group XDP cannot decide exactly (client outside the maps) */
	MDN_STAT_RRL_DROPPED = 29, /* response rate limiting: reply dropped */
	MDN_STAT_RRL_SLIPPED = 30, /* response rate limiting: TC=1 reply sent instead */
	MDN_STAT_HIT_NXDOMAIN =
		31, /* NXDOMAIN answered below a closest encloser (not in HIT_<type>) */
	MDN_STAT_HIT_NODATA = 32, /* NODATA answered at an existing name (not in HIT_<type>) */
	MDN_STAT_QLOG_LOST = 33,  /* sampled answer not logged: mdn_qlog was full */
	MDN_STAT_PASS_STALE = 34, /* meridiand's heartbeat older than stale_after: query goes up */
	MDN_STAT_COUNT = 35,
};

/* ---- Negative answers in XDP (docs/fastpath.md, "Negative answers") ----
 * Every existing name of our zones has one entry keyed (qtype 0, name) of kind
 * MDN_ANSWER_NEGATIVE (qtype 0 is never a real query type). Its header fields, data[0..length)
 * and csum are the NODATA answer for the name, as for a static answer; data[MDN_NEG_AT..] holds
 * struct mdn_negative. An entry with neither part only says "this name exists": a query for a
 * name below it must go up. */
#define MDN_NEG_AT 512	 /* offset of struct mdn_negative in mdn_answer.data; NODATA fits before */
#define MDN_NEG_TYPES 12 /* types present at a name that NODATA must not answer */
#define MDN_NEG_POINTERS 8 /* compression pointers in the NXDOMAIN sections */
#define MDN_NEG_UNSAFE 2   /* child labels whose names compress differently (SOA MNAME, RNAME) */
#define MDN_NEG_NX_MAX 440 /* bytes of NXDOMAIN sections */
struct mdn_negative {
	__u16 types[MDN_NEG_TYPES]; /* host order; 0 = unused */
	__u8 nodata;	 /* 1: data[0..length) is the NODATA answer for every other type */
	__u8 npointers;	 /* entries used in pointers */
	__u16 nx_length; /* bytes of nx_data; 0: names below go up */
	__u16 nx_flags;	 /* header bits of the NXDOMAIN reply (AA, rcode 3) */
	__u16 nx_nscount;
	__u16 nx_qname_len; /* wire length of the sample QNAME nx_data was written for */
	__u16 reserved;
	__u32 nx_csum;			  /* csum_partial of nx_data as written for the sample */
	__u16 pointers[MDN_NEG_POINTERS]; /* offsets in nx_data of compression pointers: each
					   * moves by (QNAME length - nx_qname_len) */
	/* The first 8 octets (length byte and up to 7 lowercase letters, zero padded) of child
	 * labels of this name under which a name in nx_data would compress against the query name
	 * (an MNAME or RNAME below a child that does not exist); all zero = unused. A query whose
	 * label under this name starts so goes up. */
	__u8 unsafe[MDN_NEG_UNSAFE][8];
	__u8 nx_data[MDN_NEG_NX_MAX]; /* the NXDOMAIN sections (authority SOA) for the sample */
};

/* ---- Query log sampling (docs/fastpath.md, "Query log sampling") ----
 * One answer in mdn_control.qlog_sample is described in an event written to the ring buffer
 * mdn_qlog right before XDP_TX; meridiand turns it into a query log line. */
#define MDN_QLOG_RING_BYTES (1U << 20) /* about 3,270 events; a power of two, whole pages */
#define MDN_QLOG_NAME_MAX 256

enum mdn_qlog_kind {
	MDN_QLOG_STATIC = 0,   /* a name-map answer (shuffled or not) */
	MDN_QLOG_POLICY = 1,   /* decided by a routing policy in XDP */
	MDN_QLOG_NXDOMAIN = 2, /* NXDOMAIN below a closest encloser */
	MDN_QLOG_NODATA = 3,   /* NODATA at an existing name */
};

struct mdn_qlog_event {
	__u64 timestamp_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, converted by userspace */
	__u8 family;	    /* of client: MDN_FAMILY_IPV4 or MDN_FAMILY_IPV6 */
	__u8 kind;	    /* enum mdn_qlog_kind */
	__u8 rcode;	    /* the reply's rcode (4 bits: no extended rcode in XDP answers) */
	__u8 ecs_family;    /* the query's ECS family (1 IPv4, 2 IPv6); 0: no ECS */
	__u8 ecs_source;    /* ECS source prefix length, as sent */
	__u8 pad;
	__u16 qtype;	   /* host order */
	__u8 client[16];   /* packet source address; IPv4 in the first 4 bytes, rest zero */
	__u8 ecs_addr[16]; /* ECS address bytes as sent, zero padded */
	__u16 name_len;	   /* wire length of qname, 1..255 */
	__u8 pad2[6];
	__u8 qname[MDN_QLOG_NAME_MAX]; /* wire form, ASCII lowercased as the name maps key it;
					* bytes from name_len on are unspecified */
};

MDN_STATIC_ASSERT(sizeof(struct mdn_name_key0) == 2 + MDN_NAME_CLASS0, "key0 packed");
MDN_STATIC_ASSERT(sizeof(struct mdn_name_key3) == 2 + MDN_NAME_CLASS3, "key3 packed");
MDN_STATIC_ASSERT(sizeof(struct mdn_answer) == 20 + MDN_ANSWER_MAX, "answer layout");
MDN_STATIC_ASSERT(sizeof(struct mdn_control) == 24, "control layout");
MDN_STATIC_ASSERT(sizeof(struct mdn_fragment) == 16 + MDN_FRAGMENT_MAX, "fragment layout");
MDN_STATIC_ASSERT(sizeof(struct mdn_group_entry) == sizeof(struct mdn_group) + 8, "group entry");
MDN_STATIC_ASSERT(sizeof(struct mdn_prefix_key) == 28, "prefix key layout");
MDN_STATIC_ASSERT(sizeof(struct mdn_prefix_value) == 32, "prefix value layout");
MDN_STATIC_ASSERT(sizeof(struct mdn_negative) == MDN_ANSWER_MAX - MDN_NEG_AT, "negative layout");
MDN_STATIC_ASSERT(sizeof(struct mdn_qlog_event) == 56 + MDN_QLOG_NAME_MAX, "qlog event layout");
MDN_STATIC_ASSERT(__builtin_offsetof(struct mdn_qlog_event, qname) % 8 == 0, "qname words");
MDN_STATIC_ASSERT((MDN_QLOG_RING_BYTES & (MDN_QLOG_RING_BYTES - 1)) == 0, "ring size power of 2");

#endif
