/* sk_skb programs over socket maps, for tests/sk_skb.rs: a stream parser that reads a
 * length prefix, a stream verdict that redirects by the first payload byte through a
 * sockmap, a skb verdict that redirects through a sockhash keyed by the peer, and a
 * verdict that strips a 4-byte header and tags the payload with the socket cookie. */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

struct __sk_buff {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci;
	__u32 vlan_proto, priority, ingress_ifindex, ifindex, tc_index, cb[5], hash;
	__u32 tc_classid, data, data_end, napi_id, family, remote_ip4, local_ip4;
	__u32 remote_ip6[4], local_ip6[4], remote_port, local_port;
};

struct peer {
	__u32 ip4;
	__u32 port;
};

struct {
	__uint(type, 15); /* BPF_MAP_TYPE_SOCKMAP */
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} by_byte SEC(".maps");

struct {
	__uint(type, 18); /* BPF_MAP_TYPE_SOCKHASH */
	__uint(max_entries, 8);
	__type(key, struct peer);
	__type(value, __u64);
} by_peer SEC(".maps");

static long (*bpf_sk_redirect_map)(void *skb, void *map, __u32 key, __u64 flags) = (void *)52;
static long (*bpf_sk_redirect_hash)(void *skb, void *map, void *key, __u64 flags) = (void *)72;
static long (*bpf_skb_adjust_room)(void *skb, int diff, __u32 mode, __u64 flags) = (void *)50;
static __u64 (*bpf_get_socket_cookie)(void *skb) = (void *)46;
static long (*bpf_skb_store_bytes)(void *skb, __u32 off, const void *from, __u32 len,
				   __u64 flags) = (void *)9;

/* A message is a 2-byte big-endian length, then that many bytes. */
SEC("sk_skb/stream_parser")
int parse_prefix(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	if (data + 2 > end)
		return 0; /* need more data */
	return 2 + (data[0] << 8 | data[1]);
}

SEC("sk_skb/stream_verdict")
int by_first_byte(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	if (data + 1 > end)
		return 0; /* SK_DROP */
	return bpf_sk_redirect_map(skb, &by_byte, data[0] & 3, 1 /* BPF_F_INGRESS */);
}

SEC("sk_skb/verdict")
int by_peer_address(struct __sk_buff *skb)
{
	struct peer key = { .ip4 = skb->remote_ip4, .port = skb->remote_port >> 16 };

	return bpf_sk_redirect_hash(skb, &by_peer, &key, 0);
}

/* Drops a 4-byte header and writes the low byte of the socket cookie first. */
SEC("sk_skb/stream_verdict")
int strip_and_tag(struct __sk_buff *skb)
{
	__u8 tag = bpf_get_socket_cookie(skb);

	if (bpf_skb_adjust_room(skb, -4, 0, 0))
		return 0;
	if (bpf_skb_store_bytes(skb, 0, &tag, 1, 0))
		return 0;
	return 1; /* SK_PASS */
}

char _license[] SEC("license") = "GPL";
