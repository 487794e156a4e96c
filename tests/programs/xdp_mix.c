/* Held-out-style XDP program for tests/crosscheck_programs.rs: an LPM trie of
 * prefixes, a per-CPU hash, a queue, a bpf_loop callback, a global (BTF) function,
 * .rodata/.data/.bss and a three-program tail-call chain through a declarative
 * prog array. Every packet's verdict and every map after the capture must be the
 * same on the interpreter, the JIT and the kernel. */
#include "../../examples/packet.h"

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} per_proto SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__uint(key_size, 0);
	__uint(value_size, sizeof(__u32));
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} stage_hits SEC(".maps");

int stage1(struct xdp_md *ctx);
int stage2(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(max_entries, 4);
	__array(values, int(void *));
} stages SEC(".maps") = {
	.values = { [1] = (void *)&stage1, [2] = (void *)&stage2 },
};

const volatile __u32 loop_rounds = 5;
__u32 seen = 0;
__u64 hashes = 11;

struct walk {
	__u64 seed;
	__u64 acc;
};

static long step(__u32 i, void *arg)
{
	struct walk *w = arg;
	if (w->acc > (1ull << 60))
		return 1; /* stop early */
	w->acc = w->acc * 131 + w->seed + i;
	return 0;
}

__attribute__((noinline)) int classify(__u32 saddr)
{
	struct lpm_key key = { .prefixlen = 32, .addr = saddr };
	__u32 *class = bpf_map_lookup_elem(&prefixes, &key);
	return class ? (int)*class : -1;
}

static void count(__u32 stage)
{
	__u64 one = 1, *hits = bpf_map_lookup_elem(&stage_hits, &stage);
	if (hits)
		*hits += 1;
	else
		bpf_map_update_elem(&stage_hits, &stage, &one, BPF_ANY);
}

SEC("xdp")
int xdp_mix(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	seen += 1;
	if (seen == 1) {
		/* First packet: install prefixes, as a control plane would. */
		struct lpm_key k = { 24, 0x0000000a }; /* 10.0.0.0/24 */
		__u32 v = 1;
		bpf_map_update_elem(&prefixes, &k, &v, BPF_ANY);
		struct lpm_key k2 = { 32, 0x0300000a }; /* 10.0.0.3/32 */
		v = 2;
		bpf_map_update_elem(&prefixes, &k2, &v, BPF_ANY);
	}
	if ((void *)(ip + 1) > end || eth->h_proto != bswap16(ETH_P_IP))
		return XDP_PASS;

	struct walk w = { ip->ttl + ip->protocol, hashes };
	bpf_loop(loop_rounds, step, &w, 0);
	hashes = w.acc;

	__u32 proto = ip->protocol;
	__u64 one = 1, *n = bpf_map_lookup_elem(&per_proto, &proto);
	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&per_proto, &proto, &one, BPF_NOEXIST);

	__u32 tag = ip->saddr;
	bpf_map_push_elem(&recent, &tag, BPF_EXIST); /* oldest out when full */

	count(0);
	int class = classify(ip->saddr);
	if (class > 0)
		bpf_tail_call(ctx, &stages, class);
	return class < 0 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int stage1(struct xdp_md *ctx)
{
	count(1);
	bpf_tail_call(ctx, &stages, 2);
	return XDP_ABORTED;
}

SEC("xdp")
int stage2(struct xdp_md *ctx)
{
	count(2);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
