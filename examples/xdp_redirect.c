/* XDP: spread IPv4 UDP over the devices of a device map by destination port, flood
 * Ethernet broadcasts to every device but the one they came in on, pass the rest.
 * Counts the packets that found a device (a devmap lookup, read-only for programs).
 *
 *   ebpfvm run examples/xdp_redirect.o --pcap capture.pcap --json --maps-json
 *   {"retval":4,"action":"XDP_REDIRECT",...,"redirect":{"map":"ports","key":0,"flags":24}}
 *   ebpfvm crosscheck examples/xdp_redirect.o --pcap capture.pcap
 *
 * The map starts empty (a UDP packet then falls back to XDP_PASS, the action in the
 * flags); the host fills it with ifindexes (`Vm::maps().update`, or bpftool in the
 * kernel), as tests/redirect_kernel.rs does with lo.
 */
#include "packet.h"

#define PORTS 4

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, PORTS);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PORTS);
	__type(key, __u32);
	__type(value, __u64);
} sent SEC(".maps");

SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if ((eth->h_dest[0] & eth->h_dest[1] & eth->h_dest[2] & eth->h_dest[3] &
	     eth->h_dest[4] & eth->h_dest[5]) == 0xff)
		return bpf_redirect_map(&ports, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
	if (eth->h_proto != bswap16(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	struct ports *udp = (void *)ip + (ip->ihl_version & 0xf) * 4;
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	__u32 key = bswap16(udp->dest) % PORTS;
	if (bpf_map_lookup_elem(&ports, &key)) {
		__u64 *count = bpf_map_lookup_elem(&sent, &key);
		if (count)
			*count += 1;
	}
	return bpf_redirect_map(&ports, key, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
