/* XDP traffic statistics: what a held-out "maps on packets" program looks like.
 * Counts packets per IP protocol (hash), bytes per destination-port bucket (array),
 * packets per CPU (per-CPU array), remembers recent sources (LRU hash), reads its
 * limits from .rodata and keeps totals in .data/.bss, walks the first bytes with a
 * bounded loop, parses in a bpf-to-bpf call, and hands IPv6 to a second program
 * through a declaratively initialised prog array.
 *
 *   ebpfvm run examples/xdp_stats.o --program xdp_stats --pcap capture.pcap --json --maps-json
 *   ebpfvm crosscheck examples/xdp_stats.o --program xdp_stats --pcap capture.pcap
 */
#include "packet.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} port_bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} sources SEC(".maps");

int xdp_v6(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(max_entries, 2);
	__array(values, int(void *));
} next SEC(".maps") = {
	.values = { [1] = (void *)&xdp_v6 },
};

const volatile __u32 max_len = 1500; /* .rodata */
__u64 total_bytes = 0;              /* .bss */
__u32 checksum_seed = 7;            /* .data */
__u64 v6_packets = 0;               /* .bss */

struct parsed {
	__u32 proto;
	__u32 saddr;
	__u16 dport;
};

static __noinline int parse(void *data, void *data_end, struct parsed *out)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bswap16(ETH_P_IPV6))
		return 1;
	if (eth->h_proto != bswap16(ETH_P_IP))
		return -1;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	out->proto = ip->protocol;
	out->saddr = ip->saddr;
	out->dport = 0;
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		struct ports *p = (void *)(ip + 1);
		if ((void *)(p + 1) <= data_end)
			out->dport = bswap16(p->dest);
	}
	return 0;
}

static inline __attribute__((always_inline)) void bump(void *map, __u32 key, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);
	if (v) {
		__sync_fetch_and_add(v, by);
	} else {
		__u64 first = by;
		bpf_map_update_elem(map, &key, &first, BPF_NOEXIST);
	}
}

SEC("xdp")
int xdp_stats(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct parsed p = {};

	if (len > max_len)
		return XDP_DROP;
	total_bytes += len;

	/* A bounded loop over the first 16 bytes: a running checksum. */
	__u32 sum = checksum_seed;
	for (int i = 0; i < 16; i++) {
		__u8 *b = data + i;
		if ((void *)(b + 1) > data_end)
			break;
		sum = sum * 31 + *b;
	}

	int kind = parse(data, data_end, &p);
	if (kind == 1)
		bpf_tail_call(ctx, &next, 1);
	if (kind != 0)
		return XDP_PASS;

	bump(&proto_count, p.proto, 1);
	bump(&port_bytes, p.dport & 7, len);
	bump(&per_cpu, 0, 1);
	bpf_map_update_elem(&sources, &p.saddr, &sum, BPF_ANY);
	return p.dport == 23 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_v6(struct xdp_md *ctx)
{
	v6_packets += 1;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
