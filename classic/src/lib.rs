//! Classic BPF for ebpfvm: socket filters and seccomp filters, read, checked with the
//! kernel's rules, translated to eBPF and run on any ebpfvm engine.
//!
//! The pipeline:
//!
//! ```text
//! bytes / tcpdump -dd / -ddd text --parse--> Vec<SockFilter>
//! Vec<SockFilter> --check::check_classic (+ check_seccomp)--> Vec<Instr>
//! Vec<Instr> --translate--> ebpfvm_isa::Program (A = r0, X = r7, M[] on the stack)
//! Program + context (skb::PacketMeta or seccomp::SeccompData) --Engine--> Outcome
//! ```
//!
//! - [`parse`]: raw `struct sock_filter` arrays (`seccomp_export_bpf`), `tcpdump -dd`
//!   and `tcpdump -ddd` text; [`disasm`]: `tcpdump -d` style listings.
//! - [`check`]: `bpf_check_classic`'s rules and seccomp's allow-list; every refusal
//!   names the instruction index and the reason.
//! - [`translate`]: eBPF with the kernel's semantics: 32-bit A and X, division by
//!   X = 0 returns 0, out-of-range packet loads return 0, Linux extensions
//!   ([`ext`]) from a `struct __sk_buff` context ([`skb`]).
//! - [`libpcap`] (feature `libpcap`, on by default): libpcap opened at run time, to
//!   compile tcpdump expressions and to compare with its interpreter; [`dl`] opens it.
//! - [`SocketFilter`] and [`seccomp::SeccompFilter`] bundle the three and run on the
//!   interpreter or on any [`Engine`]; [`run_socket`] and [`seccomp::run_seccomp`] are
//!   the memory set-up all engines share.
//!
//! ```
//! use ebpfvm_classic::seccomp::{self, Action, SeccompData, SeccompFilter};
//! use ebpfvm_classic::parse_dd;
//!
//! // Allow everything but getpid (39 on x86_64), which fails with EPERM.
//! let filter = SeccompFilter::new(parse_dd(
//!     "{ 0x20, 0, 0, 0x00000000 },
//!      { 0x15, 0, 1, 0x00000027 },
//!      { 0x06, 0, 0, 0x00050001 },
//!      { 0x06, 0, 0, 0x7fff0000 },",
//! )?)?;
//! let nr = seccomp::syscall_number(seccomp::AUDIT_ARCH_X86_64, "getpid").unwrap();
//! let data = SeccompData { nr: nr as i32, arch: seccomp::AUDIT_ARCH_X86_64, ..Default::default() };
//! let ret = filter.run(&data).unwrap();
//! assert_eq!(Action::from_ret(ret), Action::Errno(1));
//! # Ok::<(), ebpfvm_classic::Error>(())
//! ```
//!
//! Invariant: only `insn.rs` knows numeric classic opcodes; translated programs are
//! validated `ebpfvm_isa::Program`s like any other.

pub mod check;
pub mod disasm;
#[cfg(feature = "libpcap")]
pub mod dl;
pub mod ext;
mod insn;
#[cfg(feature = "libpcap")]
pub mod libpcap;
mod nlattr;
pub mod parse;
pub mod seccomp;
pub mod skb;
mod socket;
pub mod translate;

pub use check::{check_classic, check_seccomp, CheckError, CheckErrorKind};
pub use disasm::{disassemble, disassemble_one};
pub use insn::{AluOp, Cond, Instr, LdSrc, LdxSrc, RetVal, Size, SockFilter, Src};
pub use nlattr::{nlattr, nlattr_nest};
pub use parse::{parse_auto, parse_dd, parse_ddd, parse_raw, Format, ParseError};
pub use skb::PacketMeta;
pub use socket::{run_socket, socket_helpers, Engine, SocketFilter};

/// Why a classic program could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// It could not be read.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The checker refused it.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// Translation failed (an internal error).
    #[error(transparent)]
    Translate(#[from] translate::TranslateError),
    /// The engine cannot run the translation (an internal error).
    #[error(transparent)]
    Unsupported(#[from] ebpfvm_vm::Unsupported),
}
