/*
 * collatz.c - benchmark: branch-heavy loop (Collatz / 3n+1 step counting).
 *
 * What it exercises: a nested loop whose inner trip count and branch
 * direction are data dependent and hard to predict (odd -> 3n+1, even ->
 * n/2), plus a running-maximum compare.  Almost no memory traffic; this
 * measures conditional-jump dispatch.
 *
 * Input (mem, >= 16 bytes, 8-byte aligned):
 *   u64 at 0: start  (masked to 20 bits)
 *   u64 at 8: count  (clamped to COLLATZ_MAX_COUNT)
 * The program walks the Collatz trajectory of every n in
 * start+1 .. start+count, each for at most COLLATZ_MAX_STEPS steps.
 * The generated input uses start = 0, count = 300 (n = 1..300), which runs
 * roughly 100k eBPF instructions.  len < 16 returns 0.
 *
 * Output (r0): (n with the longest trajectory << 32) | total steps.
 */
#include "common.h"

#define COLLATZ_MAX_COUNT 4096
#define COLLATZ_MAX_STEPS 1000

__u64 entry(__u8 *mem, __u64 len)
{
	__u64 start, count, k, total, best_n, best_steps;

	if (len < 16)
		return 0;

	start = ld64(mem) & 0xfffff;
	count = ld64(mem + 8);
	if (count > COLLATZ_MAX_COUNT)
		count = COLLATZ_MAX_COUNT;

	total = 0;
	best_n = 0;
	best_steps = 0;
	for (k = 1; k <= count; k++) {
		__u64 n = start + k;
		__u64 steps;

		/* n >= 1 always; values may wrap for huge trajectories, which
		 * is well defined for unsigned types and bounded anyway. */
		for (steps = 0; steps < COLLATZ_MAX_STEPS && n != 1; steps++) {
			if (n & 1)
				n = 3 * n + 1;
			else
				n >>= 1;
		}

		total += steps;
		if (steps > best_steps) {
			best_steps = steps;
			best_n = start + k;
		}
	}

	return (best_n << 32) | (total & 0xffffffff);
}
