/* A seccomp policy written with libseccomp and exported as the raw `struct
 * sock_filter` array the kernel installs (`seccomp_export_bpf`), for
 * `ebpfvm seccomp`:
 *
 *   ebpfvm seccomp examples/seccomp/policy.bpf --syscall ptrace --arch x86_64
 *   ebpfvm seccomp examples/seccomp/policy.bpf --cases examples/seccomp/cases.txt
 *
 * Rules (x86_64 and aarch64): everything is allowed except
 *   ptrace                               -> kill the process
 *   openat with O_CREAT in its flags     -> errno EACCES
 *   kill(pid, SIGKILL)                   -> trap (SIGSYS)
 *   personality                          -> log (and allow)
 *   unshare                              -> errno EPERM
 * `build.sh` rebuilds policy.bpf (needs libseccomp-dev). */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return 1;
	/* The native architecture is in the filter already; add the others. */
	seccomp_arch_add(ctx, SCMP_ARCH_X86_64);
	seccomp_arch_add(ctx, SCMP_ARCH_AARCH64);
	int rc = 0;
	rc |= seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(ptrace), 0);
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
			       SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(kill), 1,
			       SCMP_A1(SCMP_CMP_EQ, SIGKILL));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_LOG, SCMP_SYS(personality), 0);
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
	if (rc == 0)
		rc = seccomp_export_bpf(ctx, STDOUT_FILENO);
	seccomp_release(ctx);
	return rc == 0 ? 0 : 1;
}
