/*
 * checksum.c - benchmark: byte-at-a-time Internet checksum (RFC 1071).
 *
 * What it exercises: a memory-bound loop doing one 1-byte load (ldxb) per
 * iteration, a shift, an add and a loop bound check - the classic
 * "process a packet byte by byte" pattern.  The ones' complement sum is
 * formed exactly as RFC 1071 defines it over big-endian 16-bit words, but
 * the bytes are consumed one at a time (even offsets are the high byte).
 *
 * Input (mem): the payload; at most the first 1500 bytes (one Ethernet
 *              MTU) are summed.  The generated input is exactly 1500 bytes.
 * Output (r0): ((bytes summed) << 32) | (16-bit Internet checksum).
 */
#include "common.h"

#define CSUM_MAX_LEN 1500

__u64 entry(__u8 *mem, __u64 len)
{
	__u64 n = len < CSUM_MAX_LEN ? len : CSUM_MAX_LEN;
	__u64 sum = 0;
	__u64 i;

	for (i = 0; i < n; i++) {
		__u64 b = mem[i];

		/* Even offsets are the high byte of a big-endian word, so they
		 * are shifted left by 8, odd offsets by 0 (branch-free). */
		sum += b << ((~i & 1) << 3);
	}

	/*
	 * Fold the carries back in.  sum < 1500 * 0xff00 < 2^27, so two folds
	 * always suffice; a third keeps this obviously correct and the code
	 * loop-free.
	 */
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);

	return (n << 32) | (~sum & 0xffff);
}
