/* A kernel function (kfunc) call: an extern symbol that only the kernel resolves. */
#include "bpf.h"

extern int bpf_some_kfunc(int x) __attribute__((section(".ksyms")));

SEC("tc")
int call_kfunc(void *ctx)
{
	return bpf_some_kfunc(1);
}

char LICENSE[] SEC("license") = "GPL";
