//! kprobe contexts per architecture: the `pt_regs` `--regs` builds and how far the
//! kernel lets a program read it. The arm64 numbers come from the kernel source
//! (`arch/arm64/include/asm/ptrace.h`: `sizeof(struct pt_regs)` = 336, `user_pt_regs`
//! its first 272 bytes; `kprobe_prog_is_valid_access` in kernel/trace/bpf_trace.c);
//! this host is x86_64, so they are not compared with a kernel.

use ebpfvm_ctx_models::access::{check_for, AccessKind, Conversion};
use ebpfvm_ctx_models::regs::{pt_regs, Arch};
use ebpfvm_ctx_models::ProgramType;

const READ: AccessKind = AccessKind::Read { sign_extend: false };

fn allowed(arch: Arch, off: i64, size: u32, kind: AccessKind) -> bool {
    match check_for(ProgramType::Kprobe, arch, off, size, kind) {
        Ok(c) => {
            assert_eq!(c, Conversion::Plain);
            true
        }
        Err(e) => {
            assert_eq!(
                e.to_string(),
                format!("invalid bpf_context access off={off} size={size}")
            );
            false
        }
    }
}

#[test]
fn arm64_user_pt_regs_names_and_arguments() {
    assert_eq!(Arch::Arm64.size(), 272);
    assert_eq!(Arch::Arm64.kernel_size(), 336);
    let regs = pt_regs(
        Arch::Arm64,
        "1,2,3,4,5,6,7,8,sp=0x10,pc=0x20,pstate=0x30,x30=9",
    )
    .unwrap();
    assert_eq!(regs.len(), 336);
    let word = |off: usize| u64::from_le_bytes(regs[off..off + 8].try_into().unwrap());
    for i in 0..8 {
        assert_eq!(word(i * 8), i as u64 + 1, "x{i}");
    }
    assert_eq!(
        (word(240), word(248), word(256), word(264)),
        (9, 0x10, 0x20, 0x30)
    );
    assert!(regs[272..].iter().all(|&b| b == 0));
    // x0-x7 carry arguments; a ninth is not a register.
    assert!(pt_regs(Arch::Arm64, "1,2,3,4,5,6,7,8,9")
        .unwrap_err()
        .to_string()
        .contains("no argument register 8"));
    assert!(pt_regs(Arch::Arm64, "di=1").is_err());
    assert_eq!(Arch::X86_64.kernel_size(), 168);
    assert_eq!(pt_regs(Arch::X86_64, "").unwrap().len(), 168);
}

#[test]
fn arm64_kprobes_read_all_of_the_kernels_pt_regs() {
    // Past user_pt_regs: orig_x0 (272), syscallno (280), stackframe (304), exit_rcu (328).
    for (off, size) in [
        (272, 8),
        (280, 4),
        (284, 4),
        (304, 8),
        (328, 8),
        (335, 1),
        (334, 2),
        (332, 4),
    ] {
        assert!(allowed(Arch::Arm64, off, size, READ), "{off}/{size}");
        // x86_64's struct ends at 168.
        assert!(!allowed(Arch::X86_64, off, size, READ), "{off}/{size}");
    }
    for (off, size) in [
        (336, 1),
        (336, 8),
        (332, 8),
        (-8, 8),
        (330, 4),
        (1, 2),
        (4, 8),
    ] {
        assert!(!allowed(Arch::Arm64, off, size, READ), "{off}/{size}");
    }
    // Never a write; a sign-extending load is a read.
    assert!(!allowed(Arch::Arm64, 0, 8, AccessKind::WriteReg));
    assert!(!allowed(Arch::Arm64, 0, 8, AccessKind::WriteImm(1)));
    assert!(allowed(
        Arch::Arm64,
        8,
        4,
        AccessKind::Read { sign_extend: true }
    ));
    // Exhaustively: an aligned read inside the 336 bytes, nothing else.
    for off in -16..360i64 {
        for size in [1u32, 2, 4, 8] {
            let expect = off >= 0 && off % size as i64 == 0 && off + size as i64 <= 336;
            assert_eq!(
                allowed(Arch::Arm64, off, size, READ),
                expect,
                "{off}/{size}"
            );
        }
    }
}
