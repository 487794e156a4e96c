/*
 * memcpy.c - benchmark: memcpy / memset / checksum over a 2 KiB buffer.
 *
 * What it exercises: streaming 64-bit loads and stores (ldxdw/stxdw) in
 * simple counted loops - the bulk-data-movement pattern - followed by a
 * multiply-heavy hash pass that reads the data back.
 *
 * Memory layout (mem, >= 2048 bytes, 8-byte aligned):
 *   [   0, 1024)  source data, never modified
 *   [1024, 2048)  destination:
 *     1. memcpy: the source is copied here 8 bytes at a time;
 *     2. memset: bytes [1024+256, 1024+768) are then filled with the byte
 *        mem[0] (replicated into a u64, also stored 8 bytes at a time);
 *     3. checksum: FNV-1a-style hash over the destination's 128 u64 words.
 * Every run rewrites the whole destination, so repeated runs do identical
 * work.  len < 2048 returns 0.
 *
 * Output (r0): the 64-bit hash of the destination half.
 */
#include "common.h"

#define MEMCPY_HALF      1024
#define MEMCPY_WORDS     (MEMCPY_HALF / 8)
#define MEMCPY_SET_FIRST 32 /* first word of the memset region (byte 256) */
#define MEMCPY_SET_END   96 /* one past its last word (byte 768) */

#define MEMCPY_FNV_OFFSET 0xcbf29ce484222325ULL
#define MEMCPY_FNV_PRIME  0x00000100000001b3ULL

__u64 entry(__u8 *mem, __u64 len)
{
	const __u64_a *src = (const __u64_a *)mem;
	__u64_a *dst = (__u64_a *)(mem + MEMCPY_HALF);
	__u64 i, fill, h;

	if (len < 2 * MEMCPY_HALF)
		return 0;

	/* 1. memcpy, one u64 per iteration. */
	for (i = 0; i < MEMCPY_WORDS; i++)
		dst[i] = src[i];

	/* 2. memset with the first input byte replicated 8 times. */
	fill = (__u64)mem[0] * 0x0101010101010101ULL;
	for (i = MEMCPY_SET_FIRST; i < MEMCPY_SET_END; i++)
		dst[i] = fill;

	/* 3. FNV-1a over 64-bit words (not bytes), reading the data back. */
	h = MEMCPY_FNV_OFFSET;
	for (i = 0; i < MEMCPY_WORDS; i++) {
		h ^= dst[i];
		h *= MEMCPY_FNV_PRIME;
	}

	return h;
}
