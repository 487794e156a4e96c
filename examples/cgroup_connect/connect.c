/* cgroup_sock_addr: a connect() policy. TCP may reach ports 80 and 443, UDP port 53,
 * anything may reach the loopback address; every other connect() is denied
 * (EPERM) and counted in `denied` (slot 0: IPv4, slot 1: IPv6). The protocol comes from
 * the socket (`ctx->sk`), the address and port from the sockaddr being connected to.
 *
 *   ebpfvm run examples/cgroup_connect/connect.o --section cgroup/connect4 \
 *       --ctx examples/cgroup_connect/tcp4_80.ctx --json
 *   {"action":"ALLOW", ...}
 *
 * README.md beside this file lists every context and its expected action.
 */
#include "../bpf.h"

/* linux/bpf.h */
struct bpf_sock {
	__u32 bound_dev_if, family, type, protocol, mark, priority;
	__u32 src_ip4, src_ip6[4], src_port;
	__u16 dst_port, pad;
	__u32 dst_ip4, dst_ip6[4], state;
	__s32 rx_queue_mapping;
};

struct bpf_sock_addr {
	__u32 user_family, user_ip4, user_ip6[4], user_port;
	__u32 family, type, protocol, msg_src_ip4, msg_src_ip6[4];
	union {
		struct bpf_sock *sk;
		__u64 :64;
	};
};

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} denied SEC(".maps");

static __u16 port_of(struct bpf_sock_addr *ctx)
{
	__u32 port = ctx->user_port; /* network order in the low 16 bits */
	return (__u16)(((port & 0xff) << 8) | ((port >> 8) & 0xff));
}

static int allowed(struct bpf_sock_addr *ctx, __u32 family)
{
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return 0;
	__u16 port = port_of(ctx);
	if (sk->protocol == IPPROTO_TCP && (port == 80 || port == 443))
		return 1;
	if (sk->protocol == IPPROTO_UDP && port == 53)
		return 1;
	__u64 *count = bpf_map_lookup_elem(&denied, &family);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	/* 127.0.0.0/8: user_ip4 is in network order, its first byte the lowest. */
	if ((ctx->user_ip4 & 0xff) == 127)
		return 1;
	return allowed(ctx, 0);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	/* ::1 */
	if (!ctx->user_ip6[0] && !ctx->user_ip6[1] && !ctx->user_ip6[2] &&
	    ctx->user_ip6[3] == 0x01000000)
		return 1;
	return allowed(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
