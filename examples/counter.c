/* Counts the values of a request in a hash map, with global data, a bpf-to-bpf call
 * and a bpf_loop callback. Context: struct request (16 u32 values and a count). */
#include "bpf.h"

struct request {
	__u32 n;
	__u32 values[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} stats SEC(".maps");

const volatile __u32 threshold = 10; /* .rodata */
__u32 weight = 2;                    /* .data */
__u64 runs;                          /* .bss */

struct walk {
	__u32 n;
	__u32 values[16];
	__u64 big;
};

/* A bpf-to-bpf call: counts one value; returns 1 for a value seen for the first time. */
static __noinline int bump(__u32 value)
{
	__u64 one = 1;
	__u64 *c = bpf_map_lookup_elem(&counts, &value);
	if (c) {
		__sync_fetch_and_add(c, 1);
		return 0;
	}
	bpf_map_update_elem(&counts, &value, &one, BPF_NOEXIST);
	return 1;
}

static int visit(__u32 i, void *data)
{
	struct walk *w = data;
	if (i >= w->n)
		return 1;
	__u32 v = w->values[i & 15];
	bump(v);
	if (v > threshold)
		w->big++;
	return 0;
}

SEC("syscall")
int count(struct request *req)
{
	struct walk w = {};
	w.n = req->n;
	__builtin_memcpy(w.values, req->values, sizeof(w.values));
	runs++;
	long visited = bpf_loop(16, visit, &w, 0);
	__u32 k = 0;
	__u64 *s = bpf_map_lookup_elem(&stats, &k);
	if (s)
		*s += w.big * weight;
	k = 1;
	s = bpf_map_lookup_elem(&stats, &k);
	if (s)
		*s += visited;
	return visited;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
