/* Emits a record per request to a ring buffer, keeps the last values in a queue and
 * logs with bpf_printk. Context: struct request. */
#include "bpf.h"

struct request {
	__u64 value;
};

struct record {
	__u32 tgid;
	__u32 pad;
	__u64 value;
	__u64 time;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(value_size, sizeof(__u64));
	__uint(max_entries, 4);
} recent SEC(".maps");

SEC("syscall")
int emit(struct request *req)
{
	__u64 value = req->value;
	struct record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return -1;
	r->tgid = bpf_get_current_pid_tgid() >> 32;
	r->pad = 0;
	r->value = value;
	r->time = bpf_ktime_get_ns();
	bpf_ringbuf_submit(r, 0);
	bpf_map_push_elem(&recent, &value, BPF_EXIST);
	bpf_printk("value %llu", value);
	return bpf_ringbuf_query(&events, 0);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
