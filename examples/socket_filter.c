/* Socket filter: keep the first 64 bytes (from the network header) of TCP packets,
 * drop everything else. Socket filters may not read the packet directly: the bytes come
 * from bpf_skb_load_bytes.
 *
 *   ebpfvm run examples/socket_filter.o --packet frame.bin
 *   64 (0x40) KEEP
 */
#include "packet.h"

SEC("socket")
int tcp_only(struct __sk_buff *skb)
{
	__u8 protocol;
	if (skb->protocol != bswap16(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, 9, &protocol, 1) < 0)
		return 0;
	return protocol == IPPROTO_TCP ? 64 : 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
