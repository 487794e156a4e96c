/* BTF-defined maps, global data, several programs per section, bpf-to-bpf calls,
 * bpf_loop callbacks and a declarative prog-array tail-call table. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 8);
} counters SEC(".maps");

struct pair {
	__u32 a;
	__u16 b;
	__u8 c[10];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct pair);
	__type(value, __u32);
	__uint(max_entries, 128);
	__uint(map_flags, 0);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 2);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(key_size, sizeof(__u32));
	__uint(max_entries, 4);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [1] = &inner_a },
};

int tail_a(void *ctx);
int tail_b(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(max_entries, 4);
	__array(values, int(void *));
} jumps SEC(".maps") = {
	.values = { [0] = (void *)&tail_a, [2] = (void *)&tail_b },
};

__u64 total = 5;              /* .data */
const __u32 limit = 3;        /* .rodata */
__u32 hits;                   /* .bss */
static __u32 local_hits;      /* .bss, reached through the section symbol */

static __attribute__((noinline)) __u64 add(__u64 a, __u64 b)
{
	return a + b + local_hits;
}

__attribute__((noinline)) int global_helper(int x)
{
	return x * 3;
}

static int step(__u32 index, void *ctx)
{
	__u64 *acc = ctx;
	*acc += index;
	return 0;
}

SEC("xdp")
int first(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	if (v)
		*v = add(*v, total);
	hits += 1;
	local_hits += 2;
	__u64 acc = 0;
	bpf_loop(limit, step, &acc, 0);
	return global_helper((int)acc);
}

SEC("xdp")
int second(void *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	return 1;
}

SEC("xdp")
int tail_a(void *ctx)
{
	__u32 key = 0;
	void *in = bpf_map_lookup_elem(&outer, &key);
	return in ? 10 : 11;
}

SEC("tc")
int tail_b(void *ctx)
{
	struct pair p = { .a = 1 };
	__u32 one = 1;
	bpf_map_update_elem(&flows, &p, &one, BPF_NOEXIST);
	bpf_ringbuf_output(&events, &p, sizeof(p), 0);
	return add(2, 3);
}

SEC("kprobe/do_sys_open")
int probe(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
