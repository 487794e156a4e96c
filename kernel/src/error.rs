//! Why the kernel did not load or run something. A refusal carries the verifier's log
//! and prints it with its newlines; "`bpf()` is not permitted here" is its own variant so
//! that tests and the CLI can tell "cannot ask the kernel" from "the kernel said no".

use std::io;

/// Errno values we tell apart (the same on every Linux architecture).
const EPERM: i32 = 1;
const ENOSYS: i32 = 38;
/// The kernel's internal `ENOTSUPP`, which BPF_PROG_TEST_RUN returns for program types
/// without a test-run implementation.
pub(crate) const ENOTSUPP: i32 = 524;

/// An error of the kernel backend.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Not on Linux: there is no kernel to ask.
    #[error("the kernel engine runs only on Linux")]
    NotLinux,
    /// `bpf()` is not permitted (or not present) here.
    #[error(
        "bpf({call}) is not permitted here: {error} (the kernel engine needs root or \
         CAP_BPF, plus CAP_NET_ADMIN or CAP_PERFMON for some program types)"
    )]
    Unavailable {
        /// The command that failed.
        call: &'static str,
        /// The kernel's answer (EPERM, ENOSYS).
        error: io::Error,
    },
    /// The kernel verifier refused the program.
    #[error("the kernel refused program `{program}`: {error}\n{log}")]
    Refused {
        /// The program's name.
        program: String,
        /// The kernel's errno.
        error: io::Error,
        /// The verifier's log (may be empty when the refusal came before verification).
        log: String,
    },
    /// The kernel refused the BTF we generated for the program's functions.
    #[error("the kernel refused the program's BTF: {error}\n{log}")]
    Btf {
        /// The kernel's errno.
        error: io::Error,
        /// The kernel's BTF log.
        log: String,
    },
    /// The kernel cannot test-run programs of this type.
    #[error(
        "the kernel cannot test-run programs of type {prog_type} (BPF_PROG_TEST_RUN: \
         {error}); only the verifier's verdict can be compared"
    )]
    NoTestRun {
        /// The program type's name, or its number.
        prog_type: String,
        /// The kernel's answer.
        error: io::Error,
    },
    /// BPF_PROG_TEST_RUN failed.
    #[error("BPF_PROG_TEST_RUN: {0}")]
    TestRun(String),
    /// A map could not be created, read or written.
    #[error("map `{map}`: {what}: {error}")]
    Map {
        /// The map's name.
        map: String,
        /// What we were doing.
        what: String,
        /// Why it failed.
        error: io::Error,
    },
    /// The ELF object is invalid or uses something unsupported.
    #[error(transparent)]
    Elf(#[from] ebpfvm_elf::ElfError),
    /// The program asked for is not in the object, or could not be loaded.
    #[error("{0}")]
    Select(String),
    /// The possible CPUs could not be counted.
    #[error("cannot count the possible CPUs (/sys/devices/system/cpu/possible): {0}")]
    Cpus(io::Error),
    /// The aya loader cannot load this object or program; the ebpfvm loader may.
    #[error("the aya loader cannot load this: {0}")]
    Aya(String),
    /// Something this backend does not do (yet).
    #[error("not supported by the kernel engine: {0}")]
    Unsupported(String),
}

impl KernelError {
    /// `true` when the kernel could not be asked at all (not Linux, no permission): the
    /// case in which tests skip.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            KernelError::NotLinux | KernelError::Unavailable { .. }
        )
    }
}

/// Whether errno `code` means `bpf()` is not permitted or absent here (EPERM, ENOSYS).
#[cfg(target_os = "linux")]
pub(crate) fn is_unpermitted(code: i32) -> bool {
    code == EPERM || code == ENOSYS
}

/// `Unavailable` when `error` says `bpf()` is not permitted or absent, else `other`.
pub(crate) fn classify(
    call: &'static str,
    error: io::Error,
    other: impl FnOnce(io::Error) -> KernelError,
) -> KernelError {
    match error.raw_os_error() {
        Some(EPERM) | Some(ENOSYS) => KernelError::Unavailable { call, error },
        // Off Linux, sys.rs reports Unsupported without an errno; EOPNOTSUPP from the
        // kernel (an xskmap lookup) has one and is an ordinary failure.
        None if error.kind() == io::ErrorKind::Unsupported => KernelError::NotLinux,
        _ => other(error),
    }
}
