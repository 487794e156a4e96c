/* XDP: drop IPv4 UDP to port 53 and TCP to port 23, pass everything else.
 *
 *   ebpfvm run examples/xdp_port_filter.o --packet frame.bin --json
 *   {"action":"XDP_DROP", ...}
 */
#include "packet.h"

SEC("xdp")
int port_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bswap16(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	struct ports *ports = (void *)ip + (ip->ihl_version & 0xf) * 4;
	if ((void *)(ports + 1) > data_end)
		return XDP_PASS;
	__u16 dest = bswap16(ports->dest);
	if ((ip->protocol == IPPROTO_UDP && dest == 53) || (ip->protocol == IPPROTO_TCP && dest == 23))
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
