//! `struct pt_regs`, the context of kprobe programs: its layout for x86_64 and arm64
//! (`struct user_pt_regs`, what arm64 gives BPF), and building one from the command
//! line (`--regs di=1,si=0x10` by name, or `--regs 1,0x10` by argument position: the
//! calling convention's argument registers, `di si dx cx r8 r9` on x86_64, `x0`-`x7` on
//! arm64).
//!
//! The kernel lets a kprobe program read any aligned 1-, 2-, 4- or 8-byte piece of the
//! kernel's own `struct pt_regs` and write none (`kprobe_prog_is_valid_access`, which
//! checks `off + size <= sizeof(struct pt_regs)`); the struct's bytes are the backing
//! model as they are. On x86_64 that struct is the 21 registers `--regs` names. On
//! arm64 it is larger than `user_pt_regs` (what `--regs` names and BPF programs are
//! written against): [`Arch::kernel_size`] says by how much and where the number comes
//! from; the bytes after `user_pt_regs` are 0 here.

use std::fmt;
use std::str::FromStr;

/// The architecture whose `pt_regs` layout a kprobe context uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Arch {
    /// x86-64: 21 registers, 168 bytes.
    #[default]
    X86_64,
    /// arm64: `user_pt_regs` (x0-x30, sp, pc, pstate, 272 bytes) at the start of the
    /// kernel's 336-byte `pt_regs`.
    Arm64,
}

/// x86-64's `struct pt_regs`, in order (8 bytes each).
const X86_64: &[&str] = &[
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
    "orig_ax", "ip", "cs", "flags", "sp", "ss",
];

/// `sizeof(struct pt_regs)` on arm64 (see [`Arch::kernel_size`]).
const ARM64_PT_REGS: usize = 336;

/// Argument registers by position.
const X86_64_ARGS: &[&str] = &["di", "si", "dx", "cx", "r8", "r9"];

impl Arch {
    /// The register names, in struct order (each 8 bytes).
    pub fn registers(self) -> Vec<String> {
        match self {
            Arch::X86_64 => X86_64.iter().map(|s| s.to_string()).collect(),
            Arch::Arm64 => (0..31)
                .map(|i| format!("x{i}"))
                .chain(["sp", "pc", "pstate"].map(String::from))
                .collect(),
        }
    }

    /// `sizeof` the registers `--regs` names (x86_64's `pt_regs`, arm64's
    /// `user_pt_regs`).
    pub fn size(self) -> usize {
        self.registers().len() * 8
    }

    /// `sizeof(struct pt_regs)` in the kernel: how far a kprobe program may read.
    ///
    /// arm64, from `arch/arm64/include/asm/ptrace.h` (Linux 5.11 to 6.18; not checked
    /// against a kernel, since this host is x86_64): `user_pt_regs` (x0-x30, sp, pc,
    /// pstate: 272) + `orig_x0` (8) + `syscallno` and `unused2` (s32 + u32: 8) +
    /// `sdei_ttbr1` (8; `orig_addr_limit` before 5.11) + `pmr` (8; `pmr_save` before
    /// 6.2) + `stackframe[2]` (16) + `lockdep_hardirqs` (8) + `exit_rcu` (8) = 336, a
    /// multiple of 16 as the header requires for stack alignment.
    pub fn kernel_size(self) -> usize {
        match self {
            Arch::X86_64 => self.size(),
            Arch::Arm64 => ARM64_PT_REGS,
        }
    }

    /// The register holding argument `n` (from 0).
    pub fn argument(self, n: usize) -> Option<String> {
        match self {
            Arch::X86_64 => X86_64_ARGS.get(n).map(|s| s.to_string()),
            Arch::Arm64 => (n < 8).then(|| format!("x{n}")),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        })
    }
}

impl FromStr for Arch {
    type Err = RegsError;

    fn from_str(s: &str) -> Result<Arch, RegsError> {
        match s {
            "x86_64" => Ok(Arch::X86_64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            _ => Err(RegsError(format!(
                "unknown architecture `{s}`; known: x86_64, arm64"
            ))),
        }
    }
}

/// A `--regs` list that cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--regs: {0}")]
pub struct RegsError(pub String);

fn number(text: &str) -> Result<u64, RegsError> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    }
    .map_err(|_| RegsError(format!("`{t}` is not a number")))?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A `pt_regs` of `arch` with the registers `list` names (`di=1,si=0x10`, or values by
/// argument position, `1,0x10`); the others are 0. It is [`Arch::kernel_size`] bytes:
/// on arm64 the named `user_pt_regs` and the kernel's fields after it.
pub fn pt_regs(arch: Arch, list: &str) -> Result<Vec<u8>, RegsError> {
    let names = arch.registers();
    let mut bytes = vec![0u8; arch.kernel_size()];
    for (position, item) in list.split(',').filter(|s| !s.trim().is_empty()).enumerate() {
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name.trim().to_string(), value),
            None => {
                let name = arch.argument(position).ok_or_else(|| {
                    RegsError(format!("{arch} has no argument register {position}"))
                })?;
                (name, item)
            }
        };
        let index = names.iter().position(|n| *n == name).ok_or_else(|| {
            RegsError(format!(
                "no register `{name}` on {arch}; known: {}",
                names.join(" ")
            ))
        })?;
        bytes[index * 8..index * 8 + 8].copy_from_slice(&number(value)?.to_le_bytes());
    }
    Ok(bytes)
}
