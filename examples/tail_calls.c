/* A dispatcher that tail-calls a handler chosen by the request, through a prog array
 * initialised declaratively (.values). Context: struct op. */
#include "bpf.h"

struct op {
	__u32 code;
	__u32 arg;
};

int on_add(struct op *op);
int on_mul(struct op *op);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(max_entries, 4);
	__array(values, int(void *));
} handlers SEC(".maps") = {
	.values = { [0] = (void *)&on_add, [1] = (void *)&on_mul },
};

__u64 acc = 1; /* .data */

SEC("syscall")
int dispatch(struct op *op)
{
	bpf_tail_call(op, &handlers, op->code);
	/* No handler in that slot. */
	return -1;
}

SEC("syscall")
int on_add(struct op *op)
{
	acc += op->arg;
	return 1;
}

SEC("syscall")
int on_mul(struct op *op)
{
	acc *= op->arg;
	return 2;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
