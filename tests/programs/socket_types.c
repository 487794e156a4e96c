/* One small program per socket and cgroup section libbpf names, for
 * tests/socket_sections.rs: each reads a field only its attach point has (or its
 * pointer fields), so loading it at the wrong point fails. */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
#define PTR(type, name) union { type name; __u64 :64; }

struct bpf_sock {
	__u32 bound_dev_if, family, type, protocol, mark, priority;
	__u32 src_ip4, src_ip6[4], src_port;
	__u16 dst_port, pad;
	__u32 dst_ip4, dst_ip6[4], state;
	int rx_queue_mapping;
};
struct bpf_sock_addr {
	__u32 user_family, user_ip4, user_ip6[4], user_port;
	__u32 family, type, protocol, msg_src_ip4, msg_src_ip6[4];
	PTR(struct bpf_sock *, sk);
};
struct bpf_sockopt {
	PTR(struct bpf_sock *, sk);
	PTR(__u8 *, optval);
	PTR(__u8 *, optval_end);
	int level, optname, optlen, retval;
};
struct sk_msg_md {
	PTR(void *, data);
	PTR(void *, data_end);
	__u32 family, remote_ip4, local_ip4, remote_ip6[4], local_ip6[4];
	__u32 remote_port, local_port, size;
	PTR(struct bpf_sock *, sk);
};
struct sk_reuseport_md {
	PTR(void *, data);
	PTR(void *, data_end);
	__u32 len, eth_protocol, ip_protocol, bind_inany, hash;
	PTR(struct bpf_sock *, sk);
	PTR(struct bpf_sock *, migrating_sk);
};
struct bpf_sock_ops {
	__u32 op, reply, args[3], family, remote_ip4, local_ip4, remote_ip6[4], local_ip6[4];
	__u32 remote_port, local_port, is_fullsock, tcp[23];
	__u64 bytes_received, bytes_acked;
	PTR(struct bpf_sock *, sk);
	PTR(__u8 *, skb_data);
	PTR(__u8 *, skb_data_end);
	__u32 skb_len, skb_tcp_flags;
	__u64 skb_hwtstamp;
};
struct __sk_buff { __u32 len; };
struct bpf_sysctl { __u32 write, file_pos; };
struct bpf_cgroup_dev_ctx { __u32 access_type, major, minor; };

SEC("cgroup/sock_create")
int create_mark(struct bpf_sock *sk)
{
	if (sk->protocol == 17)
		sk->mark = 0x42;
	return 1;
}

SEC("cgroup/post_bind4")
int bind_no_ssh(struct bpf_sock *sk)
{
	return sk->src_port != 22;
}

SEC("cgroup/recvmsg4")
int recv_rename(struct bpf_sock_addr *ctx)
{
	if (ctx->user_ip4 == 0x0100007f)
		ctx->user_ip4 = 0x0201a8c0; /* report 192.168.1.2 for 127.0.0.1 */
	return 1;
}

SEC("cgroup/sendmsg6")
int send_source(struct bpf_sock_addr *ctx)
{
	ctx->msg_src_ip6[3] = ctx->user_ip6[3];
	return ctx->sk->type == 2;
}

SEC("cgroup/getsockopt")
int get_mark(struct bpf_sockopt *ctx)
{
	__u8 *p = ctx->optval;
	if (p + 1 <= ctx->optval_end && ctx->optname == 36)
		*p = 0x42;
	ctx->retval = 0;
	return 1;
}

SEC("cgroup/setsockopt")
int set_rename(struct bpf_sockopt *ctx)
{
	if (ctx->optname == 36)
		ctx->optname = 37;
	return 1;
}


SEC("sockops")
int ops_flags(struct bpf_sock_ops *ctx)
{
	__u8 *p = ctx->skb_data;
	struct bpf_sock *sk = ctx->sk;
	if (ctx->op == 1)
		ctx->reply = 10000;
	if (p + 14 <= ctx->skb_data_end)
		return (p[13] & 0x02) != 0; /* SYN */
	return sk ? sk->state == 1 : 0; /* TCP_ESTABLISHED */
}

SEC("sk_skb/stream_parser")
int parse_len(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_msg")
int msg_flip(struct sk_msg_md *msg)
{
	__u8 *p = msg->data;
	if ((void *)(p + 1) > msg->data_end)
		return 0;
	*p ^= 0x20;
	return msg->size > 0;
}

SEC("sk_reuseport")
int select_dns(struct sk_reuseport_md *md)
{
	__u8 *p = md->data;
	if ((void *)(p + 2) > md->data_end)
		return 0;
	return md->sk->protocol == md->ip_protocol && p[1] == 53;
}

SEC("cgroup/sysctl")
int sysctl_ro(struct bpf_sysctl *ctx)
{
	return !ctx->write;
}

SEC("cgroup/dev")
int dev_policy(struct bpf_cgroup_dev_ctx *ctx)
{
	return ctx->major != 1;
}

char LICENSE[] SEC("license") = "GPL";
