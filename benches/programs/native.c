/*
 * native.c - native (gcc -O2) build of the ebpfvm benchmark programs.
 *
 * Compiles the very same C sources that build.sh turns into eBPF bytecode,
 * runs each program's entry function on its NAME.mem input and prints
 *
 *     NAME result=0x<16 hex digits> ns_per_run=<float>
 *
 * The results are the oracle for the VM's tests (build.sh writes them to
 * expected.txt); the timings are the native reference the interpreter/JIT
 * numbers are compared against.
 *
 * Usage: native [-q] [DIR]
 *   DIR  directory holding the NAME.mem files (default ".")
 *   -q   results only: run each program once, print ns_per_run=0
 *
 * Build (build.sh does this): gcc -O2 -o native native.c
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Pull in each program under a unique name. */
#define entry bench_alu64
#include "alu64.c"
#undef entry

#define entry bench_checksum
#include "checksum.c"
#undef entry

#define entry bench_parser
#include "parser.c"
#undef entry

#define entry bench_sort
#include "sort.c"
#undef entry

#define entry bench_collatz
#include "collatz.c"
#undef entry

#define entry bench_memcpy
#include "memcpy.c"
#undef entry

typedef __u64 (*entry_fn)(__u8 *mem, __u64 len);

static const struct {
	const char *name;
	entry_fn fn;
} benches[] = {
	{ "alu64", bench_alu64 },
	{ "checksum", bench_checksum },
	{ "parser", bench_parser },
	{ "sort", bench_sort },
	{ "collatz", bench_collatz },
	{ "memcpy", bench_memcpy },
};

#define NBENCHES (sizeof(benches) / sizeof(benches[0]))

/* Timing parameters: each batch runs for at least BATCH_NS, the best
 * (minimum) per-run time over NBATCHES batches is reported. */
#define BATCH_NS 50000000.0 /* 50 ms */
#define NBATCHES 7

/* Read DIR/NAME.mem into a 64-byte aligned buffer. */
static __u8 *load_mem(const char *dir, const char *name, __u64 *len_out)
{
	char path[4096];
	FILE *f;
	long size;
	size_t alloc;
	__u8 *buf;

	snprintf(path, sizeof(path), "%s/%s.mem", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		fclose(f);
		return NULL;
	}
	/* aligned_alloc wants a multiple of the alignment. */
	alloc = ((size_t)size + 63) / 64 * 64;
	if (alloc == 0)
		alloc = 64;
	buf = aligned_alloc(64, alloc);
	if (!buf) {
		perror("aligned_alloc");
		fclose(f);
		return NULL;
	}
	memset(buf, 0, alloc);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len_out = (__u64)size;
	return buf;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * Run fn `iters` times.  The empty asm statements are compiler barriers:
 * the first tells gcc that `mem` (and all memory) may have changed before
 * every call, so nothing can be hoisted out of the loop even if fn gets
 * inlined; the second makes every result "used".
 */
static __u64 run_batch(entry_fn fn, __u8 *mem, __u64 len, __u64 iters)
{
	__u64 r = 0;
	__u64 i;

	for (i = 0; i < iters; i++) {
		__asm__ volatile("" : : "r"(mem) : "memory");
		r = fn(mem, len);
		__asm__ volatile("" : : "r"(r) : "memory");
	}
	return r;
}

static double time_per_run(entry_fn fn, __u8 *mem, __u64 len)
{
	__u64 iters = 1;
	double best = 0.0;
	int b;

	/* Warm up and find an iteration count that fills a batch. */
	for (;;) {
		double t0 = now_ns();
		double dt;

		run_batch(fn, mem, len, iters);
		dt = now_ns() - t0;
		if (dt >= BATCH_NS / 4) {
			iters = (__u64)((double)iters * BATCH_NS / dt) + 1;
			break;
		}
		iters *= 2;
	}

	for (b = 0; b < NBATCHES; b++) {
		double t0 = now_ns();
		double per;

		run_batch(fn, mem, len, iters);
		per = (now_ns() - t0) / (double)iters;
		if (b == 0 || per < best)
			best = per;
	}
	return best;
}

int main(int argc, char **argv)
{
	const char *dir = ".";
	int quick = 0;
	int failed = 0;
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-q") == 0)
			quick = 1;
		else
			dir = argv[i];
	}

	for (k = 0; k < NBENCHES; k++) {
		__u64 len, result, again;
		double ns = 0.0;
		__u8 *mem = load_mem(dir, benches[k].name, &len);

		if (!mem) {
			failed = 1;
			continue;
		}
		result = benches[k].fn(mem, len);
		if (!quick) {
			ns = time_per_run(benches[k].fn, mem, len);
			/* Programs must be repeatable on the same buffer. */
			again = benches[k].fn(mem, len);
			if (again != result) {
				fprintf(stderr, "%s: result changed between runs "
					"(0x%016" PRIx64 " vs 0x%016" PRIx64 ")\n",
					benches[k].name, (uint64_t)result,
					(uint64_t)again);
				failed = 1;
			}
		}
		printf("%s result=0x%016" PRIx64 " ns_per_run=%.1f\n",
		       benches[k].name, (uint64_t)result, ns);
		fflush(stdout);
		free(mem);
	}
	return failed;
}
