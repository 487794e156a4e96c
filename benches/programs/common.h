/*
 * common.h - tiny shim shared by the ebpfvm benchmark programs.
 *
 * Every benchmark is a single C function
 *
 *     __u64 entry(__u8 *mem, __u64 len);
 *
 * compiled twice from the same source:
 *   - with `clang -O2 -target bpf -mcpu=v3` into raw eBPF bytecode
 *     (r1 = mem, r2 = len, r0 = result), and
 *   - natively with `gcc -O2` by native.c, which provides the oracle results
 *     (expected.txt) and reference timings.
 *
 * So this header must work in both worlds: it defines the kernel-style
 * integer types itself rather than pulling in <linux/types.h>, and it only
 * contains `static __always_inline` helpers (the BPF object must consist of
 * exactly one function with no relocations).
 *
 * Memory access rules (so the C is free of undefined behaviour natively):
 *   - `mem` must be at least 8-byte aligned (the VM and native.c both
 *     guarantee this).  Multi-byte loads/stores are only ever done at
 *     offsets that are a multiple of the access size.
 *   - Multi-byte accesses go through the `*_a` typedefs below, which carry
 *     __attribute__((may_alias)) so reading a byte buffer as u16/u32/u64 is
 *     not a strict-aliasing violation.  clang turns them into plain
 *     ldx{h,w,dw} / stx{h,w,dw} instructions.
 *   - All arithmetic is unsigned, so overflow wraps identically in BPF and
 *     natively.
 */
#ifndef EBPFVM_BENCH_COMMON_H
#define EBPFVM_BENCH_COMMON_H

/* Same definitions as the kernel's asm-generic/int-ll64.h (a compatible
 * redefinition is harmless if some system header also provides them). */
typedef unsigned char      __u8;
typedef unsigned short     __u16;
typedef unsigned int       __u32;
typedef unsigned long long __u64;
typedef signed long long   __s64;

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Aliasing-safe views of the byte buffer (natural alignment). */
typedef __u16 __attribute__((may_alias)) __u16_a;
typedef __u32 __attribute__((may_alias)) __u32_a;
typedef __u64 __attribute__((may_alias)) __u64_a;

/* Host-order loads/stores; `p` must be suitably aligned. */
static __always_inline __u16 ld16(const __u8 *p) { return *(const __u16_a *)p; }
static __always_inline __u32 ld32(const __u8 *p) { return *(const __u32_a *)p; }
static __always_inline __u64 ld64(const __u8 *p) { return *(const __u64_a *)p; }

/* Network (big-endian) 16-bit load from a 2-byte aligned address.  On a
 * little-endian target this is a 16-bit load plus a byte swap (`be16` in
 * BPF, `rol`/`xchg` natively). */
static __always_inline __u16 ld_be16(const __u8 *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(ld16(p));
#else
	return ld16(p);
#endif
}

/* Network (big-endian) 32-bit value from a 2-byte aligned address, built
 * from two 16-bit loads (packet headers after a 14-byte Ethernet header are
 * only 2-byte aligned). */
static __always_inline __u32 ld_be32_a2(const __u8 *p)
{
	return ((__u32)ld_be16(p) << 16) | (__u32)ld_be16(p + 2);
}

/* Rotates; `r` must be a constant in 1..width-1 (no UB shift by width). */
static __always_inline __u64 rotl64(__u64 x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

static __always_inline __u32 rotl32(__u32 x, unsigned int r)
{
	return (x << r) | (x >> (32 - r));
}

#endif /* EBPFVM_BENCH_COMMON_H */
