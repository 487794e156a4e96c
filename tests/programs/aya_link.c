/* For tests/aya_loader.rs: what two ELF linkers (ours and aya's) must agree on, in
 * sections aya 0.14 knows and without `.values` (which aya does not fill). BTF maps of
 * several kinds (hash, LRU hash, per-CPU array, LPM trie, queue, ring buffer, an empty
 * prog array), .data/.rodata/.bss and a static reached through the section symbol, a
 * read-only table indexed at run time, bpf-to-bpf calls (static and global), a
 * bpf_loop callback, packet writes, and one program per test-runnable section: xdp,
 * classifier, socket, cgroup_skb, flow_dissector, raw_tp. */
#include "../../examples/packet.h"

/* From linux/bpf.h. */
struct bpf_flow_keys {
	__u16 nhoff;
	__u16 thoff;
	__u16 addr_proto;
	__u8 is_frag;
	__u8 is_first_frag;
	__u8 is_encap;
	__u8 ip_proto;
	__u16 n_proto;
	__u16 sport;
	__u16 dport;
	union {
		struct {
			__u32 ipv4_src;
			__u32 ipv4_dst;
		};
		struct {
			__u32 ipv6_src[4];
			__u32 ipv6_dst[4];
		};
	};
	__u32 flags;
	__u32 flow_label;
};
#define BPF_OK 0
#define BPF_DROP 2

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} by_proto SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__uint(key_size, 0);
	__uint(value_size, sizeof(__u32));
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

/* Never filled: a tail call through it falls through, on every loader. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 2);
} jumps SEC(".maps");

const volatile __u32 rounds = 4;               /* .rodata */
const volatile __u8 weights[8] = { 3, 1, 4, 1, 5, 9, 2, 6 }; /* .rodata */
__u64 seed = 0x5eed;                           /* .data */
__u64 total;                                   /* .bss */
static __u32 calls;                            /* .bss, through the section symbol */

struct walk {
	__u64 acc;
	__u32 salt;
};

static long step(__u32 i, void *arg)
{
	struct walk *w = arg;
	w->acc = w->acc * 31 + weights[(i + w->salt) & 7] + i;
	return 0;
}

static __attribute__((noinline)) __u64 mix(__u64 a, __u32 salt)
{
	struct walk w = { a, salt };
	bpf_loop(rounds, step, &w, 0);
	calls += 1;
	return w.acc;
}

__attribute__((noinline)) int bump(__u32 proto, __u32 saddr)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(&by_proto, &proto);
	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&by_proto, &proto, &one, BPF_NOEXIST);
	__u32 *seen = bpf_map_lookup_elem(&sources, &saddr);
	__u32 first = 1;
	if (seen)
		*seen += 1;
	else
		bpf_map_update_elem(&sources, &saddr, &first, BPF_ANY);
	__u32 key = proto & 3;
	__u64 *c = bpf_map_lookup_elem(&per_cpu, &key);
	if (c)
		*c += proto;
	bpf_map_push_elem(&recent, &saddr, BPF_EXIST);
	return (int)(calls & 0xff);
}

static int classify(__u32 saddr)
{
	struct lpm_key k = { 32, saddr };
	__u32 *class = bpf_map_lookup_elem(&prefixes, &k);
	if (!class) {
		__u32 v = (saddr >> 24) & 3;
		k.prefixlen = 24;
		bpf_map_update_elem(&prefixes, &k, &v, BPF_ANY);
		return -1;
	}
	return (int)*class;
}

SEC("xdp")
int link_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	total += 1;
	if ((void *)(ip + 1) > end || eth->h_proto != bswap16(ETH_P_IP))
		return XDP_PASS;
	seed = mix(seed, ip->ttl);
	int r = bump(ip->protocol, ip->saddr);
	bpf_ringbuf_output(&events, &seed, sizeof(seed), 0);
	/* Swap the MAC addresses and stamp the mix into the IP id: the packet comes back. */
	__u8 tmp[6];
	__builtin_memcpy(tmp, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, tmp, 6);
	ip->id = (__u16)seed;
	bpf_tail_call(ctx, &jumps, 0);
	return classify(ip->saddr) > 0 ? XDP_TX : (r & 1 ? XDP_PASS : XDP_DROP);
}

SEC("classifier")
int link_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	total += skb->len;
	if ((void *)(ip + 1) > end)
		return TC_ACT_OK;
	skb->mark = (__u32)mix(skb->len, ip->protocol);
	skb->cb[0] = bump(ip->protocol, ip->daddr);
	return skb->mark & 1 ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("socket")
int link_socket(struct __sk_buff *skb)
{
	__u8 proto = 0;
	bpf_skb_load_bytes(skb, 23, &proto, 1);
	bump(proto, skb->len);
	return (int)(mix(skb->len, proto) & 0xff) + 1;
}

SEC("cgroup_skb/egress")
int link_cgroup(struct __sk_buff *skb)
{
	total += skb->len;
	bump(skb->protocol, skb->len);
	return (mix(total, 1) & 1);
}

SEC("flow_dissector")
int link_flow(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = (void *)(long)skb->flow_keys;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end)
		return BPF_DROP;
	keys->n_proto = eth->h_proto;
	keys->nhoff = sizeof(*eth);
	keys->thoff = sizeof(*eth) + sizeof(*ip);
	keys->addr_proto = bswap16(ETH_P_IP);
	keys->ip_proto = ip->protocol;
	keys->ipv4_src = ip->saddr;
	keys->ipv4_dst = ip->daddr;
	keys->flow_label = (__u32)mix(ip->ttl, ip->protocol);
	bump(ip->protocol, ip->saddr);
	return BPF_OK;
}

SEC("raw_tp/sys_enter")
int link_raw_tp(__u64 *args)
{
	__u64 id = args[1];
	total += id;
	bump((__u32)id, (__u32)args[0]);
	return (int)mix(id, 2);
}

char LICENSE[] SEC("license") = "GPL";
