/* kprobe: read the probed function's first two arguments from pt_regs (x86_64: di and
 * si) and return their sum, printing them with bpf_printk.
 *
 *   ebpfvm run examples/kprobe_args.o --regs di=40,si=2
 *   trace: open flags 40 mode 2
 *   42 (0x2a)
 */
#include "bpf.h"

/* x86_64 struct pt_regs */
struct pt_regs {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	__u64 orig_ax, ip, cs, flags, sp, ss;
};

SEC("kprobe/do_sys_openat2")
int open_args(struct pt_regs *ctx)
{
	__u64 first = ctx->di, second = ctx->si;
	bpf_printk("open flags %llu mode %llu", first, second);
	return first + second;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
