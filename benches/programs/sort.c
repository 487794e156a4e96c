/*
 * sort.c - benchmark: insertion sort of 64 u32 values.
 *
 * What it exercises: data-dependent inner loop trip counts and branches,
 * 32-bit loads/stores at computed addresses (ldxw/stxw), 32-bit unsigned
 * compares, and a multiply-accumulate pass at the end.
 *
 * Memory layout (mem, >= 512 bytes, 8-byte aligned):
 *   [  0, 256)  64 input u32 (little-endian), never modified
 *   [256, 512)  64 u32 scratch; overwritten with a copy of the input which
 *               is then sorted in place
 * Because every run starts by copying the input, repeated runs on the same
 * buffer do identical work.  len < 512 returns 0.
 *
 * Output (r0): sum over i of sorted[i] * (i + 1), as u64.
 */
#include "common.h"

#define SORT_N 64

__u64 entry(__u8 *mem, __u64 len)
{
	const __u32_a *in = (const __u32_a *)mem;
	__u32_a *a = (__u32_a *)(mem + SORT_N * 4);
	__u64 i, sum;

	if (len < 2 * SORT_N * 4)
		return 0;

	/* Copy the input into the scratch area. */
	for (i = 0; i < SORT_N; i++)
		a[i] = in[i];

	/* Insertion sort; the inner loop is bounded by j <= i < SORT_N. */
	for (i = 1; i < SORT_N; i++) {
		__u32 key = a[i];
		__u64 j = i;

		while (j > 0 && a[j - 1] > key) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = key;
	}

	/* Position-weighted checksum of the sorted array. */
	sum = 0;
	for (i = 0; i < SORT_N; i++)
		sum += (__u64)a[i] * (i + 1);

	return sum;
}
