/* A CO-RE field access: the object carries BPF_CORE relocation records in .BTF.ext. */
#include "bpf.h"

struct task {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

SEC("kprobe/x")
int read_tgid(struct task *t)
{
	return t->tgid;
}

char LICENSE[] SEC("license") = "GPL";
