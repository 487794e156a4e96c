/* Packet program contexts and helpers for the examples (from linux/bpf.h and
 * linux/pkt_cls.h, written for ebpfvm; no libbpf needed). */
#ifndef EBPFVM_EXAMPLES_PACKET_H
#define EBPFVM_EXAMPLES_PACKET_H

#include "bpf.h"

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

struct __sk_buff {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci,
		vlan_proto, priority, ingress_ifindex, ifindex, tc_index, cb[5], hash,
		tc_classid, data, data_end, napi_id, family, remote_ip4, local_ip4,
		remote_ip6[4], local_ip6[4], remote_port, local_port, data_meta;
	__u64 flow_keys, tstamp;
	__u32 wire_len, gso_segs;
	__u64 sk;
	__u32 gso_size;
	__u8 tstamp_type;
	__u64 hwtstamp __attribute__((aligned(8)));
};

enum xdp_action { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

struct ethhdr {
	__u8 h_dest[6];
	__u8 h_source[6];
	__u16 h_proto;
};

struct iphdr {
	__u8 ihl_version; /* ihl in the low nibble (little-endian bitfield order) */
	__u8 tos;
	__u16 tot_len, id, frag_off;
	__u8 ttl, protocol;
	__u16 check;
	__u32 saddr, daddr;
};

struct ports {
	__u16 source, dest;
};

#define bswap16(x) __builtin_bswap16(x)

static long (*bpf_skb_store_bytes)(void *skb, __u32 offset, const void *from, __u32 len, __u64 flags) = (void *)9;
static long (*bpf_l3_csum_replace)(void *skb, __u32 offset, __u64 from, __u64 to, __u64 flags) = (void *)10;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to, __u32 len) = (void *)26;

#endif
