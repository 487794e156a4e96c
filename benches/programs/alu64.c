/*
 * alu64.c - benchmark: compute-bound 64-bit (and some 32-bit) ALU loop.
 *
 * What it exercises: a tight loop of register-only arithmetic with no memory
 * traffic apart from reading the seed - xorshift64 (shifts/xor), 64-bit
 * multiply, add/sub, rotates (built from shifts + or), an arithmetic right
 * shift, and a 32-bit LCG lane that compiles to ALU32 (w-register)
 * instructions under -mcpu=v3.  This measures raw interpreter dispatch /
 * JIT code quality for straight-line ALU code plus one loop back-edge.
 *
 * Input (mem): at least 8 bytes; the first 8 bytes (little-endian u64) are
 *              the seed.  len < 8 returns 0.
 * Output (r0): a 64-bit digest of the final state.
 */
#include "common.h"

#define ALU64_ROUNDS 1000

__u64 entry(__u8 *mem, __u64 len)
{
	__u64 seed, x, acc, i;
	__u32 lo;

	if (len < 8)
		return 0;

	seed = ld64(mem);

	/* xorshift64 state must be non-zero. */
	x = seed ^ 0x9e3779b97f4a7c15ULL;
	if (x == 0)
		x = 0x9e3779b97f4a7c15ULL;

	acc = 0x0123456789abcdefULL;
	lo = (__u32)seed;

	for (i = 0; i < ALU64_ROUNDS; i++) {
		/* xorshift64 step (Marsaglia 13/7/17). */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;

		/* 64-bit multiply-add, rotate and mix. */
		acc += x * 0x2545f4914f6cdd1dULL;
		acc = rotl64(acc, 27) ^ (acc >> 5);
		acc -= i * 0x9e3779b97f4a7c15ULL;

		/* Arithmetic (sign-propagating) shift: implementation-defined
		 * in C, but gcc and clang both define it as arithmetic. */
		acc += (__u64)((__s64)acc >> 13);

		/* 32-bit lane: LCG step, mixed with the top of x, rotated. */
		lo = lo * 1664525u + 1013904223u;
		lo ^= (__u32)(x >> 32);
		lo = rotl32(lo, 9);

		acc ^= (__u64)lo << 17;
	}

	return acc ^ x ^ lo;
}
