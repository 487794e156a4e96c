/* tc: mark IPv4 packets by protocol (skb->mark, skb->priority) and rewrite their DSCP
 * to AF11 (TOS 0x28), fixing the IPv4 header checksum with bpf_l3_csum_replace.
 *
 *   ebpfvm run examples/tc_marker.o --packet frame.bin --json
 *   {"action":"TC_ACT_OK","packet":"...28...", ...}
 */
#include "packet.h"

#define IP_OFF 14
#define TOS_OFF (IP_OFF + 1)
#define CHECK_OFF (IP_OFF + 10)

SEC("tc")
int marker(struct __sk_buff *skb)
{
	if (skb->protocol != bswap16(ETH_P_IP))
		return TC_ACT_OK;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + IP_OFF;
	if ((void *)(ip + 1) > data_end)
		return TC_ACT_SHOT;
	skb->mark = 0x100 | ip->protocol;
	skb->priority = ip->protocol == IPPROTO_TCP ? 1 : 2;
	/* The checksum covers the 16-bit word holding version/ihl and TOS. */
	__u16 old_word = *(__u16 *)ip;
	__u16 new_word = (old_word & 0x00ff) | (0x28 << 8);
	__u8 tos = 0x28;
	bpf_skb_store_bytes(skb, TOS_OFF, &tos, 1, 0);
	bpf_l3_csum_replace(skb, CHECK_OFF, old_word, new_word, 2);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
