/* Held-out-style tc (sched_cls) program for tests/crosscheck_programs.rs: reads
 * __sk_buff fields, loads bytes with bpf_skb_load_bytes, rewrites the TTL with
 * bpf_skb_store_bytes and fixes the IPv4 checksum, sets mark and priority, counts
 * through an array of maps and a hash of maps, and reports to a ring buffer. */
#include "../../examples/packet.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} by_len_a SEC(".maps"), by_len_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} tables SEC(".maps") = {
	.values = { &by_len_a, &by_len_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} by_proto SEC(".maps") = {
	.values = { [1] = &by_len_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} marks SEC(".maps");

__u64 events_sent = 0;

SEC("tc")
int tc_mix(struct __sk_buff *skb)
{
	struct iphdr ip;
	__u32 len = skb->len;
	__u32 which = len & 1;

	struct inner *t = bpf_map_lookup_elem(&tables, &which);
	if (t) {
		__u32 bucket = (len >> 4) & 3;
		__u64 *v = bpf_map_lookup_elem(t, &bucket);
		if (v)
			*v += len;
	}
	if (skb->protocol != bswap16(ETH_P_IP))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &ip, sizeof(ip)) < 0)
		return TC_ACT_SHOT;

	__u32 key = 1;
	struct inner *p = bpf_map_lookup_elem(&by_proto, &key);
	if (p) {
		__u32 slot = ip.protocol & 3;
		__u64 *v = bpf_map_lookup_elem(p, &slot);
		if (v)
			*v += 1;
	}

	if (ip.ttl > 1) {
		__u8 ttl = ip.ttl - 1;
		__u32 off = sizeof(struct ethhdr) + __builtin_offsetof(struct iphdr, ttl);
		/* The checksum covers the TTL as the high byte of a 16-bit word. */
		bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + 10,
				    bswap16(ip.ttl << 8), bswap16(ttl << 8), 2);
		bpf_skb_store_bytes(skb, off, &ttl, 1, 0);
	}
	skb->mark = ip.saddr >> 24;
	skb->priority = ip.protocol;
	__u32 m = skb->mark;
	bpf_map_update_elem(&marks, &ip.daddr, &m, BPF_ANY);

	struct {
		__u32 saddr, len;
	} ev = { ip.saddr, len };
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0) == 0)
		events_sent += 1;
	return ip.protocol == 1 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
