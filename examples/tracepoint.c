/* tracepoint: read fields of a syscalls:sys_enter_openat record, laid out as
 * /sys/kernel/tracing/events/syscalls/sys_enter_openat/format says: the 8-byte common
 * header, __syscall_nr at 8, dfd at 16, filename at 24, flags at 32, mode at 40.
 * Returns 1 for opens that create files (O_CREAT, 0100), else 0.
 *
 *   ebpfvm run examples/tracepoint.o --ctx record.bin
 */
#include "bpf.h"

struct sys_enter_openat {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 dfd, filename, flags, mode;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int creates(struct sys_enter_openat *ctx)
{
	return (ctx->flags & 0100) != 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
