/* One's complement arithmetic for the UDP checksum: partial sums in native 16-bit words (what
 * csum_partial() gives, and what the program sums inline), folded, and placed at odd offsets. */
#ifndef MERIDIAN_CHECKSUM_H
#define MERIDIAN_CHECKSUM_H

#include "xdp_common.h"

/* Folds a 64-bit one's complement sum to 16 bits. */
INLINE __u16 fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* A partial sum of a block placed at an odd offset is the byte-swapped sum. */
INLINE __u32 place(__u32 partial, __u32 odd)
{
	__u16 f = fold(partial);
	return odd ? (__u16)((f >> 8) | (f << 8)) : f;
}

#endif
