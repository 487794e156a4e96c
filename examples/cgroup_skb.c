/* cgroup_skb: allow IPv4 packets from 10.0.0.0/8 only (the test run's socket carries
 * the packet's addresses), deny the rest.
 *
 *   ebpfvm run examples/cgroup_skb.o --packet frame.bin
 *   1 (0x1) ALLOW
 */
#include "packet.h"

SEC("cgroup_skb/ingress")
int from_ten(struct __sk_buff *skb)
{
	if (skb->family != 2 /* AF_INET */)
		return 0;
	return (skb->local_ip4 & 0xff) == 10;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
