/* Shared kernel/user ABI: every map key/value layout, verdict reason and constant used by the XDP
 * program, meridiand and meridianctl. Included from C (BPF) and C++. Never renumber an enum value:
 * they double as metric labels. */
#ifndef MERIDIAN_MAPS_H
#define MERIDIAN_MAPS_H

#include <linux/types.h>

#ifdef __cplusplus
#define MDN_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MDN_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

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
/* Two generations of every data map: userspace fills the inactive one, then flips. */
#define MDN_GENERATIONS 2
#define MDN_MAX_PORTS 4

/* Key of the name maps: query type (network order) then the lowercased wire name, zero padded to
 * the class size. The full key is compared, so a hit is exact: no false hits. */
struct mdn_name_key0 { __be16 qtype; __u8 name[MDN_NAME_CLASS0]; };
struct mdn_name_key1 { __be16 qtype; __u8 name[MDN_NAME_CLASS1]; };
struct mdn_name_key2 { __be16 qtype; __u8 name[MDN_NAME_CLASS2]; };
struct mdn_name_key3 { __be16 qtype; __u8 name[MDN_NAME_CLASS3]; };

/* A precompiled answer: the DNS sections after the question, exactly as the userspace responder
 * writes them for this name and type (owner names compress to the question at offset 12). */
struct mdn_answer {
	__u16 flags;     /* host order: header bits to set (AA) and the rcode in the low 4 bits */
	__u16 ancount;   /* host order section counts, OPT not included */
	__u16 nscount;
	__u16 arcount;
	__u16 length;    /* bytes used in data */
	__u16 reserved;
	__u32 csum;      /* csum_partial of data (native 16-bit words, zero padded to even) */
	__u8 data[MDN_ANSWER_MAX];
};

/* Control array, one entry. */
struct mdn_control {
	__u32 generation; /* which slot of the outer name maps is live: 0 or 1 */
	__u32 reserved;
};

/* Outcome counters in the per-CPU stats array. Fixed numbers, never renumbered. */
enum mdn_stat {
	MDN_STAT_PACKETS = 0,        /* every packet the program saw */
	MDN_STAT_ANSWERED = 1,       /* XDP_TX replies */
	MDN_STAT_PASS_NOT_IP = 2,
	MDN_STAT_PASS_NOT_UDP = 3,   /* TCP and anything else */
	MDN_STAT_PASS_TCP = 4,       /* TCP to a DNS port */
	MDN_STAT_PASS_NOT_DNS_PORT = 5,
	MDN_STAT_PASS_FRAGMENT = 6,
	MDN_STAT_PASS_MALFORMED = 7, /* short or malformed: userspace forms FORMERR or drops */
	MDN_STAT_PASS_NOT_QUERY = 8, /* QR=1, opcode != QUERY, counts not a simple query */
	MDN_STAT_PASS_UNKNOWN_OPTION = 9,
	MDN_STAT_PASS_EDNS_VERSION = 10,
	MDN_STAT_PASS_CLASS = 11,    /* class other than IN */
	MDN_STAT_PASS_NAME_MISS = 12,
	MDN_STAT_PASS_TOO_BIG = 13,  /* query longer than MDN_QUERY_MAX or reply over the limit */
	MDN_STAT_PASS_NO_DATA = 14,  /* maps not loaded */
	MDN_STAT_PASS_IPV6_EXT = 15, /* IPv6 extension headers */
	MDN_STAT_ERROR_ADJUST = 16,  /* bpf_xdp_adjust_tail failed */
	MDN_STAT_ERROR_STORE = 17,   /* writing the reply failed */
	MDN_STAT_HIT_A = 18,
	MDN_STAT_HIT_AAAA = 19,
	MDN_STAT_HIT_CNAME = 20,
	MDN_STAT_HIT_MX = 21,
	MDN_STAT_HIT_TXT = 22,
	MDN_STAT_HIT_NS = 23,
	MDN_STAT_HIT_SOA = 24,
	MDN_STAT_HIT_SRV = 25,
	MDN_STAT_HIT_OTHER = 26,
	MDN_STAT_COUNT = 27,
};

MDN_STATIC_ASSERT(sizeof(struct mdn_name_key0) == 2 + MDN_NAME_CLASS0, "key0 packed");
MDN_STATIC_ASSERT(sizeof(struct mdn_name_key3) == 2 + MDN_NAME_CLASS3, "key3 packed");
MDN_STATIC_ASSERT(sizeof(struct mdn_answer) == 16 + MDN_ANSWER_MAX, "answer layout");
MDN_STATIC_ASSERT(sizeof(struct mdn_control) == 8, "control layout");

#endif
