//! The kernel's classic checker (`bpf_check_classic`) and seccomp's stricter one
//! (`seccomp_check_filter`), rewritten from their documented rules.
//!
//! Classic rules, in the order the kernel applies them:
//! 1. 1 to 4096 instructions (`BPF_MAXINSNS`).
//! 2. Per instruction, first to last: the opcode is in the kernel's table; division
//!    and modulo by a constant 0 are refused; constant shifts must be below 32;
//!    scratch indexes (`LD/LDX MEM`, `ST`, `STX`) must be below 16; `JA` must land
//!    inside the program, and so must both targets of a conditional jump; an `LD ABS`
//!    at `SKF_AD_OFF + n` must name a known ancillary operation.
//! 3. The last instruction is `RET K` or `RET A`.
//! 4. No path reads a scratch word before writing it (jumps only go forward, so one
//!    pass in program order finds the words written on every path into each
//!    instruction). Like the kernel, the pass treats a return as falling through.
//!
//! seccomp then allows only: `RET K/A`, `ALU` add, sub, mul, div, and, or, xor, lsh,
//! rsh (K and X) and `NEG`, `LD W ABS` with an aligned offset inside the 64-byte
//! `struct seccomp_data`, `LD W LEN` and `LDX W LEN` (the data's size), `LD/LDX IMM`,
//! `LD/LDX MEM`, `ST`, `STX`, `TAX`, `TXA`, `JA` and the conditional jumps. No
//! `MOD`, no `IND`/`MSH`, no byte or half-word loads.

use crate::ext::AbsTarget;
use crate::insn::{AluOp, Instr, LdSrc, LdxSrc, Size, SockFilter, Src};

/// The kernel's limit on classic program length (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;
/// Scratch memory words (`BPF_MEMWORDS`).
pub const MEMWORDS: u32 = 16;
/// Size of `struct seccomp_data`.
pub const SECCOMP_DATA_SIZE: u32 = 64;

/// A refused program: the instruction and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("instruction {index}: {kind}")]
pub struct CheckError {
    /// Index of the offending instruction (0 for an empty program, the length for
    /// an over-long one).
    pub index: usize,
    /// Why.
    pub kind: CheckErrorKind,
}

/// Why the checker refused a program.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckErrorKind {
    /// No instructions.
    #[error("empty program")]
    Empty,
    /// More than [`MAX_INSNS`] instructions.
    #[error("{len} instructions, more than the {max} allowed")]
    TooLong {
        /// The length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An opcode outside the kernel's table.
    #[error("unknown opcode {code:#06x}")]
    UnknownOpcode {
        /// The opcode.
        code: u16,
    },
    /// `DIV K` or `MOD K` with `k = 0`.
    #[error("division by the constant 0")]
    DivisionByZero,
    /// `LSH K`/`RSH K` with `k >= 32`.
    #[error("shift by {k}, not below 32")]
    ShiftTooLarge {
        /// The shift amount.
        k: u32,
    },
    /// A scratch index of 16 or more.
    #[error("scratch memory index {k} out of range (0..15)")]
    ScratchOutOfRange {
        /// The index.
        k: u32,
    },
    /// A jump past the last instruction.
    #[error("jump to {target} out of range (the program has {len} instructions)")]
    JumpOutOfRange {
        /// The target index.
        target: u64,
        /// The program length.
        len: usize,
    },
    /// `LD ABS SKF_AD_OFF + n` with an unknown `n`.
    #[error("unknown Linux extension SKF_AD_OFF + {n}")]
    UnknownAncillary {
        /// The extension number.
        n: u32,
    },
    /// The last instruction is not a return.
    #[error("the program does not end with a return")]
    NoFinalReturn,
    /// A path reads scratch word `k` before any write.
    #[error("reads scratch memory M[{k}] before it is written on every path")]
    UninitializedScratch {
        /// The scratch index.
        k: u32,
    },
    /// An instruction seccomp does not allow.
    #[error("`{what}` is not allowed in seccomp filters")]
    SeccompForbidden {
        /// The instruction, disassembled.
        what: String,
    },
    /// A seccomp data load outside `struct seccomp_data` or not 4-byte aligned.
    #[error("seccomp_data load at offset {k}: {why}")]
    SeccompBadLoad {
        /// The offset.
        k: u32,
        /// Misaligned or out of range.
        why: &'static str,
    },
}

fn refuse<T>(index: usize, kind: CheckErrorKind) -> Result<T, CheckError> {
    Err(CheckError { index, kind })
}

/// Runs the kernel's classic checks and returns the typed instructions.
pub fn check_classic(program: &[SockFilter]) -> Result<Vec<Instr>, CheckError> {
    let len = program.len();
    if len == 0 {
        return refuse(0, CheckErrorKind::Empty);
    }
    if len > MAX_INSNS {
        return refuse(
            len,
            CheckErrorKind::TooLong {
                len,
                max: MAX_INSNS,
            },
        );
    }
    let mut instrs = Vec::with_capacity(len);
    for (pc, f) in program.iter().enumerate() {
        let Some(instr) = Instr::decode(*f) else {
            return refuse(pc, CheckErrorKind::UnknownOpcode { code: f.code });
        };
        check_one(instr, pc, len)?;
        instrs.push(instr);
    }
    if !matches!(instrs[len - 1], Instr::Ret(_)) {
        return refuse(len - 1, CheckErrorKind::NoFinalReturn);
    }
    check_scratch(&instrs)?;
    Ok(instrs)
}

fn check_one(instr: Instr, pc: usize, len: usize) -> Result<(), CheckError> {
    let jump_target = |off: u64| -> Result<(), CheckError> {
        let target = pc as u64 + 1 + off;
        if target >= len as u64 {
            return refuse(pc, CheckErrorKind::JumpOutOfRange { target, len });
        }
        Ok(())
    };
    match instr {
        Instr::Alu(AluOp::Div | AluOp::Mod, Src::K(0)) => {
            refuse(pc, CheckErrorKind::DivisionByZero)
        }
        Instr::Alu(AluOp::Lsh | AluOp::Rsh, Src::K(k)) if k >= 32 => {
            refuse(pc, CheckErrorKind::ShiftTooLarge { k })
        }
        Instr::Ld(LdSrc::Mem(k)) | Instr::Ldx(LdxSrc::Mem(k)) | Instr::St(k) | Instr::Stx(k)
            if k >= MEMWORDS =>
        {
            refuse(pc, CheckErrorKind::ScratchOutOfRange { k })
        }
        Instr::Ja(k) => jump_target(k as u64),
        Instr::Jump { jt, jf, .. } => {
            jump_target(jt as u64)?;
            jump_target(jf as u64)
        }
        Instr::Ld(LdSrc::Abs(_, k)) => match AbsTarget::of_abs(k) {
            AbsTarget::UnknownAncillary(n) => refuse(pc, CheckErrorKind::UnknownAncillary { n }),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Scratch words must be written on every path before they are read. Jumps go only
/// forward, so visiting instructions in order sees every predecessor first.
fn check_scratch(instrs: &[Instr]) -> Result<(), CheckError> {
    const ALL: u16 = u16::MAX;
    // Words valid on every jump edge into each instruction (ALL: no edge yet).
    let mut into = vec![ALL; instrs.len()];
    // Words valid on the fall-through edge (ALL after a jump, which never falls
    // through). As in the kernel, a return does not reset it: an instruction after a
    // return that no jump reaches is still checked with what was written before.
    let mut valid: u16 = 0;
    for (pc, instr) in instrs.iter().enumerate() {
        valid &= into[pc];
        let read = |k: u32| -> Result<(), CheckError> {
            if valid & (1 << k) == 0 {
                return refuse(pc, CheckErrorKind::UninitializedScratch { k });
            }
            Ok(())
        };
        match *instr {
            Instr::Ld(LdSrc::Mem(k)) | Instr::Ldx(LdxSrc::Mem(k)) => read(k)?,
            Instr::St(k) | Instr::Stx(k) => valid |= 1 << k,
            Instr::Ja(k) => {
                into[pc + 1 + k as usize] &= valid;
                valid = ALL;
            }
            Instr::Jump { jt, jf, .. } => {
                into[pc + 1 + jt as usize] &= valid;
                into[pc + 1 + jf as usize] &= valid;
                valid = ALL;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs the classic checks, then seccomp's allow-list.
pub fn check_seccomp(program: &[SockFilter]) -> Result<Vec<Instr>, CheckError> {
    let instrs = check_classic(program)?;
    for (pc, instr) in instrs.iter().enumerate() {
        let allowed = match *instr {
            Instr::Ld(LdSrc::Abs(Size::W, k)) => {
                if k >= SECCOMP_DATA_SIZE {
                    return refuse(
                        pc,
                        CheckErrorKind::SeccompBadLoad {
                            k,
                            why: "outside the 64-byte struct seccomp_data",
                        },
                    );
                }
                if k % 4 != 0 {
                    return refuse(
                        pc,
                        CheckErrorKind::SeccompBadLoad {
                            k,
                            why: "not 4-byte aligned",
                        },
                    );
                }
                true
            }
            Instr::Ld(LdSrc::Abs(..) | LdSrc::Ind(..)) | Instr::Ldx(LdxSrc::Msh(_)) => false,
            Instr::Alu(AluOp::Mod, _) => false,
            _ => true,
        };
        if !allowed {
            let what = crate::disasm::disassemble_one(program[pc], pc);
            let what = what
                .split_once(' ')
                .map_or(what.as_str(), |(_, w)| w)
                .trim()
                .to_string();
            return refuse(pc, CheckErrorKind::SeccompForbidden { what });
        }
    }
    Ok(instrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{Cond, RetVal};

    fn check(instrs: &[Instr]) -> Result<Vec<Instr>, CheckError> {
        let raw: Vec<SockFilter> = instrs.iter().map(|i| i.encode()).collect();
        check_classic(&raw)
    }

    fn refused(instrs: &[Instr]) -> (usize, CheckErrorKind) {
        let e = check(instrs).unwrap_err();
        (e.index, e.kind)
    }

    const RET0: Instr = Instr::Ret(RetVal::K(0));

    #[test]
    fn accepts_a_minimal_program() {
        assert!(check(&[RET0]).is_ok());
        assert!(check(&[Instr::Ld(LdSrc::Len), Instr::Ret(RetVal::A)]).is_ok());
    }

    #[test]
    fn refuses_with_index_and_reason() {
        use CheckErrorKind::*;
        assert_eq!(check_classic(&[]).unwrap_err().kind, Empty);
        let long = vec![RET0.encode(); MAX_INSNS + 1];
        assert_eq!(check_classic(&long).unwrap_err().index, MAX_INSNS + 1);
        assert!(check_classic(&vec![RET0.encode(); MAX_INSNS]).is_ok());
        let bad = [SockFilter::new(0x0e, 0, 0, 0), RET0.encode()];
        assert_eq!(
            check_classic(&bad).unwrap_err().kind,
            UnknownOpcode { code: 0x0e }
        );
        assert_eq!(
            refused(&[Instr::Alu(AluOp::Div, Src::K(0)), RET0]),
            (0, DivisionByZero)
        );
        assert_eq!(
            refused(&[Instr::Alu(AluOp::Mod, Src::K(0)), RET0]),
            (0, DivisionByZero)
        );
        assert_eq!(
            refused(&[Instr::Alu(AluOp::Lsh, Src::K(32)), RET0]),
            (0, ShiftTooLarge { k: 32 })
        );
        assert_eq!(
            refused(&[Instr::St(16), RET0]),
            (0, ScratchOutOfRange { k: 16 })
        );
        assert_eq!(
            refused(&[RET0, Instr::Ja(1), RET0]),
            (1, JumpOutOfRange { target: 3, len: 3 })
        );
        let jump = |jt, jf| Instr::Jump {
            cond: Cond::Eq,
            src: Src::X,
            jt,
            jf,
        };
        assert_eq!(
            refused(&[jump(0, 1), RET0]),
            (0, JumpOutOfRange { target: 2, len: 2 })
        );
        assert!(check(&[jump(0, 0), RET0]).is_ok());
        assert_eq!(refused(&[Instr::Ld(LdSrc::Len)]), (0, NoFinalReturn));
        assert_eq!(
            refused(&[Instr::Ld(LdSrc::Abs(Size::B, 0xffff_f040)), RET0]),
            (0, UnknownAncillary { n: 64 })
        );
        assert_eq!(
            refused(&[Instr::Ld(LdSrc::Mem(3)), RET0]),
            (0, UninitializedScratch { k: 3 })
        );
    }

    #[test]
    fn scratch_must_be_written_on_every_path() {
        let jeq = |jt, jf| Instr::Jump {
            cond: Cond::Eq,
            src: Src::K(1),
            jt,
            jf,
        };
        // Written only on the true path: refused where the paths join.
        let one_path = [jeq(0, 1), Instr::St(2), Instr::Ld(LdSrc::Mem(2)), RET0];
        assert_eq!(
            refused(&one_path).1,
            CheckErrorKind::UninitializedScratch { k: 2 }
        );
        // Written on both paths: accepted.
        let both = [
            jeq(0, 2),
            Instr::St(2),
            Instr::Ja(1),
            Instr::Stx(2),
            Instr::Ld(LdSrc::Mem(2)),
            RET0,
        ];
        assert!(check(&both).is_ok());
        // An instruction only an always-taken jump skips is not checked, but one after
        // a return is (the kernel's rules).
        assert!(check(&[Instr::Ja(1), Instr::Ld(LdSrc::Mem(5)), RET0]).is_ok());
        assert!(check(&[RET0, Instr::Ld(LdSrc::Mem(5)), RET0]).is_err());
        assert!(check(&[Instr::St(5), RET0, Instr::Ld(LdSrc::Mem(5)), RET0]).is_ok());
    }

    #[test]
    fn seccomp_allow_list() {
        let raw = |instrs: &[Instr]| instrs.iter().map(|i| i.encode()).collect::<Vec<_>>();
        let ok = raw(&[Instr::Ld(LdSrc::Abs(Size::W, 60)), Instr::Ret(RetVal::A)]);
        assert!(check_seccomp(&ok).is_ok());
        for (bad, index) in [
            (Instr::Ld(LdSrc::Abs(Size::W, 64)), 0),
            (Instr::Ld(LdSrc::Abs(Size::W, 2)), 0),
            (Instr::Ld(LdSrc::Abs(Size::H, 0)), 0),
            (Instr::Ld(LdSrc::Ind(Size::W, 0)), 0),
            (Instr::Ldx(LdxSrc::Msh(0)), 0),
            (Instr::Alu(AluOp::Mod, Src::K(3)), 0),
        ] {
            let e = check_seccomp(&raw(&[bad, RET0])).unwrap_err();
            assert_eq!(e.index, index, "{bad:?}");
        }
        let e = check_seccomp(&raw(&[Instr::Alu(AluOp::Mod, Src::X), RET0])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "instruction 0: `mod      x` is not allowed in seccomp filters"
        );
    }
}
