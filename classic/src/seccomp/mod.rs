//! seccomp filters: `struct seccomp_data`, actions, and several filters with the
//! kernel's precedence.
//!
//! A filter sees `struct seccomp_data { int nr; u32 arch; u64 instruction_pointer;
//! u64 args[6]; }` (64 bytes, host byte order: little-endian on x86_64 and aarch64, which
//! is also the order of the VM's loads). It returns an action in the top 16 bits
//! (`SECCOMP_RET_ACTION_FULL`) and data in the low 16.
//!
//! With several filters the kernel runs each, newest first, and keeps the return
//! value whose action, read as a signed 32-bit number, is strictly lowest, starting
//! from `SECCOMP_RET_ALLOW`; so on a tie the newest filter's data wins, and an allow
//! carrying data reads as plain `SECCOMP_RET_ALLOW`. Actions the kernel does not know
//! kill the process.

mod names;
#[rustfmt::skip]
mod tables;

use std::fmt;

use ebpfvm_isa::Program;
use ebpfvm_vm::{Interpreter, MemoryMap, Outcome, RegionKind, Stack, Trap};

pub use names::{
    arch_by_name, arch_name, host_arch, syscall_name, syscall_number, AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_X86_64,
};

use crate::check::check_seccomp;
use crate::insn::SockFilter;
use crate::socket::Engine;
use crate::translate::{translate, Flavor, Translation};
use crate::Error;

/// `SECCOMP_RET_KILL_PROCESS`
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_KILL_THREAD`
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
/// `SECCOMP_RET_TRAP`
pub const RET_TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO`
pub const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_USER_NOTIF`
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_TRACE`
pub const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`
pub const RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ALLOW`
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ACTION_FULL`
pub const RET_ACTION_FULL: u32 = 0xffff_0000;
/// `MAX_ERRNO`: larger errno data is clamped to it.
pub const MAX_ERRNO: u16 = 4095;

/// What a syscall's filters decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Kill the whole process (also every action the kernel does not know).
    KillProcess,
    /// Kill the calling thread.
    KillThread,
    /// Send SIGSYS with this `si_errno`.
    Trap(u16),
    /// Fail the syscall with this errno (at most 4095).
    Errno(u16),
    /// Ask the user-space notifier.
    UserNotif,
    /// Notify a ptrace tracer with this message.
    Trace(u16),
    /// Allow and log.
    Log,
    /// Allow.
    Allow,
}

impl Action {
    /// Decodes a filter's return value as the kernel does.
    pub fn from_ret(ret: u32) -> Action {
        let data = (ret & 0xffff) as u16;
        match ret & RET_ACTION_FULL {
            RET_KILL_THREAD => Action::KillThread,
            RET_TRAP => Action::Trap(data),
            RET_ERRNO => Action::Errno(data.min(MAX_ERRNO)),
            RET_USER_NOTIF => Action::UserNotif,
            RET_TRACE => Action::Trace(data),
            RET_LOG => Action::Log,
            RET_ALLOW => Action::Allow,
            _ => Action::KillProcess,
        }
    }
}

impl fmt::Display for Action {
    /// `allow`, `errno(N)`, `kill_process`, `kill_thread`, `trap(N)`, `trace(N)`, `log`,
    /// `user_notif`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::KillProcess => f.write_str("kill_process"),
            Action::KillThread => f.write_str("kill_thread"),
            Action::Trap(n) => write!(f, "trap({n})"),
            Action::Errno(n) => write!(f, "errno({n})"),
            Action::UserNotif => f.write_str("user_notif"),
            Action::Trace(n) => write!(f, "trace({n})"),
            Action::Log => f.write_str("log"),
            Action::Allow => f.write_str("allow"),
        }
    }
}

/// `struct seccomp_data`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// The syscall number.
    pub nr: i32,
    /// The `AUDIT_ARCH_*` value of the calling convention.
    pub arch: u32,
    /// The instruction pointer at the syscall.
    pub instruction_pointer: u64,
    /// The six arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 64 bytes a filter reads (little-endian, as on x86_64 and aarch64).
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_le_bytes());
        b[4..8].copy_from_slice(&self.arch.to_le_bytes());
        b[8..16].copy_from_slice(&self.instruction_pointer.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        b
    }
}

/// Runs a translated seccomp filter on `engine` over `data`: the memory set-up every
/// engine shares (r1 = the data, mapped read-only as the context).
pub fn run_seccomp(
    engine: &dyn Engine,
    stack: &mut Stack,
    data: &[u8; 64],
    budget: Option<u64>,
) -> Outcome {
    let mut memory = MemoryMap::new(stack);
    let Some(addr) = memory.map_ro(RegionKind::Context, data) else {
        return crate::socket::too_large(data.len());
    };
    engine.run(
        [addr, 0, 0, 0, 0],
        &mut memory,
        &mut ebpfvm_vm::Helpers::new(),
        budget,
    )
}

/// A seccomp filter checked with the kernel's classic and seccomp rules and translated.
#[derive(Clone, Debug)]
pub struct SeccompFilter {
    classic: Vec<SockFilter>,
    translation: Translation,
    interpreter: Interpreter,
}

impl SeccompFilter {
    /// Checks and translates `classic`.
    pub fn new(classic: Vec<SockFilter>) -> Result<SeccompFilter, Error> {
        let instrs = check_seccomp(&classic)?;
        let translation = translate(&instrs, Flavor::Seccomp)?;
        let interpreter = Interpreter::new(&translation.program)?;
        Ok(SeccompFilter {
            classic,
            translation,
            interpreter,
        })
    }

    /// The classic instructions.
    pub fn classic(&self) -> &[SockFilter] {
        &self.classic
    }

    /// The translated eBPF program.
    pub fn program(&self) -> &Program {
        &self.translation.program
    }

    /// The interpreter prepared for this filter.
    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    /// Runs on the interpreter: the filter's return value.
    pub fn run(&self, data: &SeccompData) -> Result<u32, Trap> {
        let mut stack = Stack::new();
        self.run_with(&self.interpreter, &mut stack, data)
    }

    /// Runs on `engine` (prepared from [`SeccompFilter::program`]).
    pub fn run_with(
        &self,
        engine: &dyn Engine,
        stack: &mut Stack,
        data: &SeccompData,
    ) -> Result<u32, Trap> {
        run_seccomp(engine, stack, &data.to_bytes(), None)
            .result
            .map(|r| r as u32)
    }
}

/// The decision of a stack of filters for one syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The return value the kernel acts on.
    pub retval: u32,
    /// Its action.
    pub action: Action,
    /// The filter it came from (index in installation order), `None` when every
    /// filter allowed.
    pub filter: Option<usize>,
}

/// Combines the return values of filters given in installation order (oldest first)
/// with the kernel's precedence.
pub fn combine(rets: &[u32]) -> Verdict {
    let action_only = |r: u32| (r & RET_ACTION_FULL) as i32;
    let mut ret = RET_ALLOW;
    let mut filter = None;
    for (i, &cur) in rets.iter().enumerate().rev() {
        if action_only(cur) < action_only(ret) {
            ret = cur;
            filter = Some(i);
        }
    }
    Verdict {
        retval: ret,
        action: Action::from_ret(ret),
        filter,
    }
}

/// Runs every filter (installation order, oldest first) on `engines` and combines
/// the results. `engines[i]` runs `filters[i]`.
pub fn evaluate(
    filters: &[&SeccompFilter],
    engines: &[&dyn Engine],
    data: &SeccompData,
) -> Result<Verdict, Trap> {
    let mut stack = Stack::new();
    let mut rets = Vec::with_capacity(filters.len());
    for (filter, engine) in filters.iter().zip(engines) {
        rets.push(filter.run_with(*engine, &mut stack, data)?);
    }
    Ok(combine(&rets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_actions() {
        for (ret, text) in [
            (0x8000_0000, "kill_process"),
            (0x0000_0000, "kill_thread"),
            (0x0003_0007, "trap(7)"),
            (0x0005_0001, "errno(1)"),
            (0x0005_ffff, "errno(4095)"),
            (0x7fc0_0000, "user_notif"),
            (0x7ff0_0009, "trace(9)"),
            (0x7ffc_0000, "log"),
            (0x7fff_0000, "allow"),
            (0x7fff_1234, "allow"),
            (0x0001_0000, "kill_process"),
            (0x7ffe_0000, "kill_process"),
        ] {
            assert_eq!(Action::from_ret(ret).to_string(), text, "{ret:#x}");
        }
    }

    #[test]
    fn precedence() {
        assert_eq!(combine(&[]).action, Action::Allow);
        let v = combine(&[RET_ALLOW, RET_ERRNO | 1, RET_LOG]);
        assert_eq!((v.retval, v.filter), (RET_ERRNO | 1, Some(1)));
        // Kill-process is the lowest as a signed number.
        assert_eq!(
            combine(&[RET_KILL_PROCESS, RET_KILL_THREAD]).action,
            Action::KillProcess
        );
        // Ties: the newest filter (last installed) wins.
        let v = combine(&[RET_ERRNO | 1, RET_ERRNO | 2]);
        assert_eq!((v.retval, v.filter), (RET_ERRNO | 2, Some(1)));
        // An allow with data is plain allow.
        let v = combine(&[RET_ALLOW | 5]);
        assert_eq!((v.retval, v.filter), (RET_ALLOW, None));
        assert_eq!(
            combine(&[RET_TRAP | 3, RET_ERRNO | 4]).action,
            Action::Trap(3)
        );
    }

    #[test]
    fn data_layout() {
        let d = SeccompData {
            nr: -1,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0x1122_3344_5566_7788,
            args: [1, 2, 3, 4, 5, 0xaabb_ccdd_0000_0006],
        };
        let b = d.to_bytes();
        assert_eq!(&b[0..8], &[0xff, 0xff, 0xff, 0xff, 0x3e, 0, 0, 0xc0]);
        assert_eq!(b[8], 0x88);
        assert_eq!(&b[56..64], &[6, 0, 0, 0, 0xdd, 0xcc, 0xbb, 0xaa]);
    }
}
